"""What the dashboard and the metrics exporter read from Redis beyond what ``Broker`` offers: the
queues there are, the per-second time series, what each worker is running, the raw counters, and a
job's message and record where they can be read without scanning.

Every function takes a ``Broker`` and reads through its ``client`` with keys built by ``QueueKeys``
(nothing here writes). The core never imports this module: it is for the ``dashboard`` and
``metrics`` extras.
"""

from __future__ import annotations

import contextlib
import reprlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from . import serializer
from .broker import Broker, QueueKeys, Record, check_name
from .broker.connection import Client, translated
from .broker.keys import KINDS, shard_of
from .exceptions import ConfigurationError, InvalidMessage
from .info import Buried

SERIES_WINDOW_S = 3_600  # the time series keeps one field per second of the last hour
SCAN_COUNT = 1_000  # keys per SCAN step when looking for queues
MAX_REPR = 2_000  # characters of an argument's or result's repr shown at most

# The keys that show a queue exists: one with workers, pending jobs, counters or records.
_DISCOVERY: tuple[Callable[[QueueKeys], str], ...] = (
    lambda keys: keys.workers,
    lambda keys: keys.pending,
    lambda keys: keys.stats,
    lambda keys: keys.buried("failed"),
    lambda keys: keys.buried("dead"),
)


def discover_queues(broker: Broker) -> list[str]:
    """The names of the queues in Redis, found with ``SCAN`` (on every node of a cluster): those with
    workers, pending jobs, counters or failed/dead records. A sharded queue is named once."""
    probe = QueueKeys("*")
    names: set[str] = set()
    with translated():
        for pattern in (key_of(probe) for key_of in _DISCOVERY):
            head, tail = pattern.split("*")
            for key in broker.client.scan_iter(match=pattern, count=SCAN_COUNT):
                text = key.decode(errors="replace") if isinstance(key, bytes) else str(key)
                name = text[len(head) : len(text) - len(tail)]
                base, mark, shard = name.rpartition("#")
                if mark and shard.isdigit():
                    name = base
                with contextlib.suppress(ConfigurationError):  # not one of ours: a worker name, say
                    names.add(QueueKeys(name).queue)
    return sorted(names)


def shards_of(broker: Broker, queue: str) -> list[QueueKeys]:
    """The keys of every shard of ``queue``, as many as its producers and workers have recorded."""
    return QueueKeys.of(queue, broker.recorded_shards(QueueKeys(queue)))


def keys_of_job(shards: Sequence[QueueKeys], job_id: str) -> QueueKeys:
    """The keys of the shard a job lives in."""
    return shards[shard_of(check_name("job id", job_id), len(shards))]


def _read(broker: Broker, command: Callable[[Client], Any]) -> Any:
    with translated():
        return command(broker.client)


# -- the time series ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Second:
    """One second of the time series: the tasks done in it and the sum of their durations."""

    at_s: int
    done: int
    duration_ms: int


def series(broker: Broker, shards: Sequence[QueueKeys], now_ms: int) -> list[Second]:
    """The seconds of the last hour (up to ``now_ms``, Redis's time) in which tasks were done, oldest
    first, summed over the shards, from ``QueueKeys.series`` (written by the acknowledgement script):
    a field is ``second % 3600 -> b"<second> <done> <sum of ms>"``; one older than an hour is a
    leftover its second's next turn has not overwritten yet, and is skipped."""

    def read(client: Client) -> list[Any]:
        with client.pipeline(transaction=False) as pipe:
            for keys in shards:
                pipe.hvals(keys.series)
            return cast(list[Any], pipe.execute())

    now_s = now_ms // 1000
    seconds: dict[int, tuple[int, int]] = {}
    for value in (value for values in _read(broker, read) for value in values):
        parts = value.split()
        if len(parts) != 3 or not all(part.isdigit() for part in parts):
            continue
        at_s, done, duration_ms = (int(part) for part in parts)
        if now_s - SERIES_WINDOW_S < at_s <= now_s:
            before = seconds.get(at_s, (0, 0))
            seconds[at_s] = (before[0] + done, before[1] + duration_ms)
    return [Second(at_s, done, ms) for at_s, (done, ms) in sorted(seconds.items())]


# -- workers and counters ----------------------------------------------------------------------


def running(broker: Broker, shards: Sequence[QueueKeys], workers: Iterable[str]) -> dict[str, str | None]:
    """The job each worker runs now: the id in the head of its active list (its first shard's that
    holds one), or None when it holds nothing."""
    names = list(workers)
    if not names:
        return {}

    def read(client: Client) -> list[Any]:
        with client.pipeline(transaction=False) as pipe:
            for name in names:
                for keys in shards:
                    pipe.lindex(keys.active(name), 0)
            return cast(list[Any], pipe.execute())

    heads = _read(broker, read)
    found: dict[str, str | None] = {}
    for n, name in enumerate(names):
        held = [head for head in heads[n * len(shards) : (n + 1) * len(shards)] if head is not None]
        found[name] = serializer.message_id(held[0]) if held else None
    return found


def counters(broker: Broker, shards: Sequence[QueueKeys]) -> dict[str, int]:
    """The queue's event counters as Redis keeps them (``done``, ``failed``, ``retried``, ``invalid``,
    ``redelivered``, ``cancelled``), summed over the shards; a counter never incremented is absent."""

    def read(client: Client) -> list[Any]:
        with client.pipeline(transaction=False) as pipe:
            for keys in shards:
                pipe.hgetall(keys.stats)
            return cast(list[Any], pipe.execute())

    totals: dict[str, int] = {}
    for stats in _read(broker, read):
        for name, value in stats.items():
            if value.lstrip(b"-").isdigit():
                totals[name.decode()] = totals.get(name.decode(), 0) + int(value)
    return totals


def newest_records(broker: Broker, keys: QueueKeys, kind: Buried, count: int, now_ms: int) -> list[Record]:
    """At most ``count`` failed or dead records not expired, those kept longest first: the newest, when
    they were kept for the same ``failure_ttl``. Two round trips whatever the number kept (``Broker.buried``
    reads them all)."""
    ranked = _read(
        broker,
        lambda client: client.zrevrangebyscore(
            keys.buried(kind), "+inf", f"({now_ms}", start=0, num=count, withscores=True
        ),
    )
    if not ranked:
        return []
    ids = [job_id for job_id, _ in ranked]
    reasons = _read(broker, lambda client: client.hmget(keys.buried_reasons(kind), ids))
    records = []
    for (job_id, expires), reason in zip(ranked, reasons, strict=True):
        at_ms, _, envelope = (reason or b"").partition(b" ")
        if at_ms.isdigit():
            records.append(Record(job_id.decode(), int(at_ms), int(expires), envelope))
    return records


# -- one job -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kept:
    """What Redis keeps of a job besides its state and result, read by its id (no scan).

    ``message`` is its message when it is scheduled, failed or dead (``where`` says which);
    ``run_at_ms`` when it is scheduled; ``record`` is its failed or dead record:
    (kind, set aside at ms, kept until ms, outcome envelope).
    """

    where: str | None
    message: bytes | None
    run_at_ms: int | None
    record: tuple[Buried, int, int, bytes] | None


def kept(broker: Broker, keys: QueueKeys, job_id: str) -> Kept:
    """The message, scheduled time and failed/dead record of a job, in one round trip."""

    def read(client: Client) -> list[Any]:
        with client.pipeline(transaction=False) as pipe:
            pipe.hget(keys.scheduled_messages, job_id)
            pipe.zscore(keys.scheduled, job_id)
            for kind in KINDS:
                pipe.hget(keys.buried_messages(kind), job_id)
                pipe.zscore(keys.buried(kind), job_id)
                pipe.hget(keys.buried_reasons(kind), job_id)
            return cast(list[Any], pipe.execute())

    reply = _read(broker, read)
    where, message = ("scheduled", reply[0]) if reply[0] is not None else (None, None)
    run_at_ms = None if reply[1] is None else int(reply[1])
    record = None
    for n, kind in enumerate(KINDS):
        kind_message, expires, reason = reply[2 + 3 * n : 5 + 3 * n]
        if kind_message is not None and message is None:
            where, message = kind, kind_message
        if expires is not None and reason is not None and record is None:
            at_ms, _, envelope = reason.partition(b" ")
            if at_ms.isdigit():
                record = (kind, int(at_ms), int(expires), envelope)
    return Kept(where, message, run_at_ms, record)


@dataclass(frozen=True)
class Call:
    """A message's function call as text, or why it cannot be shown."""

    function: str | None = None
    arguments: str | None = None
    attempt: int | None = None  # how many times it has raised and been retried
    tries: int | None = None  # how many tries it is given (its retries + 1)
    due_at_ms: int | None = None  # when this try was due: enqueued, its delay's end, or its retry's time
    verified: bool = False  # its signature was checked (there is a secret)
    error: str | None = None


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = MAX_REPR
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 4, 20, 20, 20


def safe_repr(value: object) -> str:
    """A bounded ``repr`` of ``value`` that never raises (text for the page, never markup)."""
    try:
        return _REPR.repr(value)
    except BaseException as exc:  # its __repr__ is the task's code
        return f"<{type(value).__name__} whose repr raised {type(exc).__name__}>"


def describe_call(message: bytes, secret: bytes | None, queue: str) -> Call:
    """The function and arguments of ``message``, read with ``serializer.decode``: its signature is
    checked first when there is a secret (nothing is unpickled otherwise)."""
    try:
        task = serializer.decode(message, secret, queue)
    except InvalidMessage as exc:
        return Call(error=str(exc))
    fn = task.fn
    name = f"{getattr(fn, '__module__', None) or '?'}.{getattr(fn, '__qualname__', type(fn).__name__)}"
    parts = [safe_repr(arg) for arg in task.args] + [f"{key}={safe_repr(v)}" for key, v in task.kwargs.items()]
    retries = task.options.get("retries", 0)
    tries = retries + 1 if isinstance(retries, int) else None
    due_at_ms = (task.expires - serializer.MESSAGE_VALIDITY_S) * 1000  # a message is valid for so long from then
    return Call(name, f"({', '.join(parts)})", task.attempt, tries, due_at_ms, secret is not None)

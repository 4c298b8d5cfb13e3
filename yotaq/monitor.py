"""What the dashboard and the metrics exporter make of the broker's read-only looks at queues
(``broker/reads.py``): the per-second time series, what each worker is running, the counters, the
newest failed and dead records, and a job's message and record, read by its id without scanning.

The core never imports this module: it is for the ``dashboard`` and ``metrics`` extras.
"""

from __future__ import annotations

import reprlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import serializer
from .broker import Broker, QueueKeys, Record, check_name
from .broker.keys import KINDS, shard_of
from .exceptions import InvalidMessage, RedisUnavailable
from .functions import name_of
from .info import FailedOrDead

SERIES_WINDOW_S = 3_600  # the time series keeps one field per second of the last hour
DAY_WINDOW_S = 86_400  # and one per minute of the last day
MAX_REPR = 2_000  # characters of an argument's or result's repr shown at most


def shards_of(broker: Broker, queue: str) -> list[QueueKeys]:
    """The keys of every shard of ``queue``, as many as its producers and workers have recorded."""
    return QueueKeys.of(queue, broker.recorded_shards(QueueKeys(queue)))


def warn_of_unknown(broker: Broker, queues: Sequence[str]) -> None:
    """Say on standard error which of ``queues`` to watch Redis holds nothing of: each is shown empty, as
    it may be one not used yet, but a mistyped name would otherwise look like a quiet queue for ever."""
    try:
        unknown = [name for name in queues if not broker.holds_anything(shards_of(broker, name))]
    except RedisUnavailable:
        return  # what is shown says that Redis is away
    if unknown:
        named = " or ".join(map(repr, unknown))
        print(f"yotaq: warning: no queue named {named} in Redis yet: shown empty until it is used", file=sys.stderr)


def keys_of_job(shards: Sequence[QueueKeys], job_id: str) -> QueueKeys:
    """The keys of the shard a job lives in."""
    return shards[shard_of(check_name("job id", job_id), len(shards))]


# -- the time series ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Second:
    """One second of the time series: the tasks done in it and the sum of their durations."""

    at_s: int
    done: int
    duration_ms: int


def series(broker: Broker, shards: Sequence[QueueKeys], now_ms: int) -> list[Second]:
    """The seconds of the last hour (up to ``now_ms``, Redis's time) in which tasks were done, oldest
    first, summed over the shards. A field is ``second % 3600 -> b"<second> <done> <sum of ms>"``; one
    older than an hour is a leftover its second's next turn has not overwritten yet, and is skipped."""
    return seconds_of(broker.series_values(shards), now_ms)


def seconds_of(values: Iterable[bytes], now_ms: int) -> list[Second]:
    """``series`` from the values of the series hashes, as ``Broker.series_values`` reads them."""
    return _summed(values, b"", now_ms // 1000, SERIES_WINDOW_S, 1)


def minutes_of(values: Iterable[bytes], now_ms: int) -> list[Second]:
    """The minutes of the last day in which tasks were done, oldest first, summed over the shards, each
    as the ``Second`` it starts at: the fields ``m<minute % 1440> -> b"m<minute> <done> <sum of ms>"``."""
    return _summed(values, b"m", now_ms // 60_000, DAY_WINDOW_S // 60, 60)


def _summed(values: Iterable[bytes], mark: bytes, now: int, count: int, unit_s: int) -> list[Second]:
    """The buckets (of ``unit_s`` seconds) among ``values`` marked ``mark`` of the last ``count`` up to
    ``now`` (in that unit): one older is a leftover its bucket's next turn has not overwritten yet."""
    buckets: dict[int, tuple[int, int]] = {}
    for value in values:
        parts = value.split()
        if len(parts) != 3 or not parts[0].startswith(mark):
            continue
        parts[0] = parts[0][len(mark) :]
        if not all(part.isdigit() for part in parts):
            continue
        at, done, duration_ms = (int(part) for part in parts)
        if now - count < at <= now:
            before = buckets.get(at, (0, 0))
            buckets[at] = (before[0] + done, before[1] + duration_ms)
    return [Second(at * unit_s, done, ms) for at, (done, ms) in sorted(buckets.items())]


# -- workers and counters ----------------------------------------------------------------------


def running(broker: Broker, shards: Sequence[QueueKeys], workers: Iterable[str]) -> dict[str, str | None]:
    """The job each worker runs now: the id in the head of its active list (its first shard's that
    holds one), or None when it holds nothing."""
    names = list(workers)
    heads = broker.active_heads(shards, names)
    found: dict[str, str | None] = {}
    for n, name in enumerate(names):
        held = [head for head in heads[n * len(shards) : (n + 1) * len(shards)] if head is not None]
        found[name] = serializer.message_id(held[0]) if held else None
    return found


def counters(broker: Broker, shards: Sequence[QueueKeys]) -> dict[str, int]:
    """The queue's event counters as Redis keeps them (``done``, ``failed``, ``retried``, ``invalid``,
    ``redelivered``, ``cancelled``), summed over the shards; a counter never incremented is absent."""
    totals: dict[str, int] = {}
    for stats in broker.stats_hashes(shards):
        for name, value in stats.items():
            if value.lstrip(b"-").isdigit():
                totals[name.decode()] = totals.get(name.decode(), 0) + int(value)
    return totals


def newest_records(broker: Broker, keys: QueueKeys, kind: FailedOrDead, count: int, now_ms: int) -> list[Record]:
    """At most ``count`` failed or dead records not expired, those kept longest first: the newest, when
    they were kept for the same ``failure_ttl`` (``Broker.jobs_of`` reads them all)."""
    records = []
    for job_id, expires, reason in broker.newest_of(keys, kind, count, now_ms):
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
    record: tuple[FailedOrDead, int, int, bytes] | None


def kept(broker: Broker, keys: QueueKeys, job_id: str) -> Kept:
    """The message, scheduled time and failed/dead record of a job, in one round trip."""
    reply = broker.kept(keys, job_id)
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
    name = name_of(task.fn)
    parts = [safe_repr(arg) for arg in task.args] + [f"{key}={safe_repr(v)}" for key, v in task.kwargs.items()]
    retries = task.options.get("retries", 0)
    tries = retries + 1 if isinstance(retries, int) else None
    due_at_ms = (task.expires - serializer.MESSAGE_VALIDITY_S) * 1000  # a message is valid for so long from then
    return Call(name, f"({', '.join(parts)})", task.attempt, tries, due_at_ms, secret is not None)

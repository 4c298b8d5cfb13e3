"""The producer's commands as data: each one's keys and arguments, and how its reply reads, for both
brokers (``Broker``, blocking, and ``AsyncBroker``, asyncio) to send and read the same way.

Pure functions: they build lists and read replies, and send nothing. A Lua script's keys and arguments
come as ``(keys, args)`` in the order of its header (``lua/<name>-<n>.lua``), its keys named as there
(``scripts.keys_for``); a ``MULTI`` as a list of command tuples (``("RPUSH", key, message)``), for
``transaction``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..exceptions import ConfigurationError, JobIdInUse, RedisUnavailable
from . import flows
from .connection import pairs
from .flows import Flow
from .keys import FleetKeys, QueueKeys
from .scripts import keys_for

if TYPE_CHECKING:
    from ..info import FailedOrDead, QueueInfo, WorkerInfo

Command = tuple[Any, ...]
Script = tuple[list[str], list[Any]]  # its KEYS and ARGV

BULK_CHUNK = 5_000  # messages per RPUSH in a bulk push
COUNTERS = ("done", "retried", "invalid", "redelivered", "cancelled")  # the stats hash's fields
MAX_REPLICAS = 16
ENQUEUE_TOKEN_TTL_MS = 60_000  # far longer than a producer tries an enqueue again (its give-up time)
REPLICA_WAIT_MS = 500  # how long a write waits for its replicas (replicas=) before it counts as failed


class Record(NamedTuple):
    """A failed or dead job's record as kept: when, until when, and its signed outcome."""

    job_id: str
    at_ms: int
    expires_at_ms: int
    envelope: bytes


class ScheduleRecord(NamedTuple):
    """A periodic schedule as Redis keeps it."""

    name: str
    record: bytes
    next_run_ms: int  # 0 when it has none (disabled)
    skipped: int
    disabled: str | None  # why, when it is


# -- producing ---------------------------------------------------------------------------------


def push_many_commands(keys: QueueKeys, job_ids: Sequence[str], messages: Sequence[bytes]) -> list[Command]:
    """A bulk enqueue (and an asyncio producer's push), as one ``MULTI``: ``BULK_CHUNK`` messages per ``RPUSH``,
    their jobs pending. Empty for no messages."""
    commands: list[Command] = []
    for start in range(0, len(messages), BULK_CHUNK):
        commands.append(("RPUSH", keys.pending, *messages[start : start + BULK_CHUNK]))
        states = [part for job_id in job_ids[start : start + BULK_CHUNK] for part in (job_id, "pending")]
        commands.append(("HSET", keys.state, *states))
    return commands


def push_script(keys: QueueKeys, job_ids: Sequence[str], messages: Sequence[bytes], *, again: bool) -> Script:
    """``push-3+n.lua`` for messages whose jobs are ``job_ids``: on a first try, or ``again`` after a try
    whose reply was lost (which pushes only the messages whose jobs have left no trace)."""
    traces = map(keys.result, job_ids) if again else ()
    jobs = (part for job in zip(job_ids, messages, strict=True) for part in job)
    return [*keys_for("push", keys), *traces], ["1" if again else "0", *jobs]


def push_wire(keys: QueueKeys, job_id: str, message: bytes, sha: str) -> bytes:
    """A first try's ``push_script`` of one message as ``EVALSHA`` of the script ``sha``, packed as
    ``connection.packed`` packs it: what a single enqueue writes, made in one step from the queue's part
    of it. Packed argument by argument, it is the largest cost of an enqueue after the round trip."""
    job = job_id.encode()
    return b"%s$%d\r\n%s\r\n$%d\r\n%s\r\n" % (_push_frame(keys, sha), len(job), job, len(message), message)


@functools.lru_cache(maxsize=256)
def _push_frame(keys: QueueKeys, sha: str) -> bytes:
    """``push_wire``'s bytes that are the same for every push onto one queue: all but the job id and the
    message (the key names, for keys that are immutable)."""
    head = (b"EVALSHA", sha.encode(), b"3", *(key.encode() for key in keys_for("push", keys)), b"0")
    return b"*9\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in head)


def push_again_scripts(keys: QueueKeys, job_ids: Sequence[str], messages: Sequence[bytes]) -> list[Script]:
    """``push_script`` tried again, ``BULK_CHUNK`` messages a call."""
    return [
        push_script(keys, job_ids[start : start + BULK_CHUNK], messages[start : start + BULK_CHUNK], again=True)
        for start in range(0, len(messages), BULK_CHUNK)
    ]


def enqueue_script(
    keys: QueueKeys,
    job_id: str,
    message: bytes,
    *,
    unique: bool,
    at_ms: int | None,
    delay_ms: int | None,
    token: str,
) -> Script:
    """``enqueue-13.lua``: a job with an id of the caller's choosing (``unique``), or to run later (at a
    time since the epoch, or after a delay on Redis's clock); ``token`` tells its tries apart from any
    other enqueue. Its reply goes to ``read_enqueue``."""
    at, delay = ("" if at_ms is None else at_ms), ("" if delay_ms is None else delay_ms)
    return keys_for("enqueue", keys, job_id=job_id), [
        message,
        job_id,
        "1" if unique else "",
        at,
        delay,
        token,
        ENQUEUE_TOKEN_TTL_MS,
    ]


def read_enqueue(reply: int, job_id: str) -> bool:
    """Whether the job was enqueued (False: a job with this unique id is still pending, scheduled or active).

    Raises:
        JobIdInUse: the id is a cancelled job's whose message is still on its way off the queue.
    """
    if reply == 2:
        raise JobIdInUse(
            f"job id {job_id!r} belongs to a cancelled job still on the queue (a worker drops it when it "
            "leases it): enqueue it again once it is gone, or under another id"
        )
    return bool(reply)


def agree_shards_commands(keys: QueueKeys, shards: int) -> list[Command]:
    """One ``MULTI`` that reads the number of shards recorded for the queue and records ``shards`` if
    there was none; its first reply goes to ``check_shards``."""
    return [("GET", keys.shards), ("SET", keys.shards, shards, "NX")]


def check_shards(keys: QueueKeys, recorded: bytes | None, shards: int, who: str) -> None:
    """Refuse a producer or worker (``who``) given another number of shards than the queue has in Redis.

    Raises:
        ConfigurationError: the queue has another number of shards.
    """
    if recorded is not None and int(recorded) != shards:
        raise ConfigurationError(
            f"queue {keys.queue!r} has {int(recorded)} shard(s) in Redis, but this {who} was given "
            f"shards={shards}: give every producer and worker of a queue the same number"
        )


# -- reading -----------------------------------------------------------------------------------


# Redis before 7.0.8 takes a blocking command's timeout under about 2 ms for 0, which is "block for ever"
# (redis/redis#11687): every wait yotaq sends Redis lasts at least this long.
MIN_BLOCK_S = 0.01


def block_s(timeout_s: float) -> float:
    """``timeout_s`` as a blocking command's timeout: never one that Redis would take for "for ever"."""
    return max(timeout_s, MIN_BLOCK_S)


def wait_result_command(keys: QueueKeys, job_id: str, timeout_s: float) -> Command:
    """Wait in Redis at most ``timeout_s`` for the job's result envelope; the reply is it, or None.

    Moving the list's one element from its tail to its tail leaves it there for other waiters, and
    blocks until the worker stores it. (Fractional seconds work.)
    """
    key = keys.result(job_id)
    return ("BLMOVE", key, key, "RIGHT", "RIGHT", block_s(timeout_s))


def status_script(keys: QueueKeys, job_id: str) -> Script:
    """``status-6.lua``: where a job is, in O(1); its reply goes to ``read_status``."""
    return keys_for("status", keys, job_id=job_id), [job_id]


def read_status(reply: list[bytes]) -> tuple[str, bytes | None]:
    """``pending``, ``scheduled``, ``active``, ``cancelled``, ``cancelling`` or ``not_found``, or for a
    finished job ``result`` with its signed outcome (for the caller to check)."""
    if reply[0] == b"record":
        return "result", reply[1].split(b" ", 1)[1]
    return reply[0].decode(), (reply[1] if len(reply) > 1 else None)


def info_script(keys: QueueKeys, fleet: FleetKeys) -> Script:
    """``info-7.lua``: the queue's counts and workers; its reply goes to ``active_commands`` and ``read_info``."""
    return keys_for("info", keys, fleet), []


def active_commands(keys: QueueKeys, info_reply: list[Any]) -> list[Command]:
    """The length of each registered worker's active list (one ``MULTI``; none for no workers)."""
    return [("LLEN", keys.active(worker.decode())) for worker, _ in pairs(info_reply[3])]


def read_info(keys: QueueKeys, info_reply: list[Any], active: Sequence[int]) -> QueueInfo:
    """The ``QueueInfo`` of the replies of ``info_script`` and of ``active_commands``."""
    from ..info import QueueInfo, WorkerInfo  # (a look at a queue: no worker needs it)

    now_ms, pending, scheduled, workers, deadlines, stats, failed, dead = info_reply
    workers, deadlines, stats = pairs(workers), dict(pairs(deadlines)), dict(pairs(stats))

    def worker_info(worker: bytes, liveness_ms: bytes, held: int) -> WorkerInfo:
        # A worker forgotten (dead) but not reaped yet has no deadline: its last beat is unknown too
        deadline = int(float(deadlines.get(worker, 0)))
        return WorkerInfo(worker.decode(), deadline and deadline - int(float(liveness_ms)), deadline, held)

    return QueueInfo(
        queue=keys.queue,
        server_time_ms=now_ms,
        pending=pending,
        scheduled=scheduled,
        workers=[worker_info(*worker, held) for worker, held in zip(workers, active, strict=True)],
        failed=failed,
        dead=dead,
        **{name: int(stats.get(name.encode(), 0)) for name in COUNTERS},
    )


def records_script(keys: QueueKeys, kind: FailedOrDead) -> Script:
    """``records-2.lua``: the records of the jobs set aside as ``kind``; its reply goes to ``read_records``."""
    return keys_for("records", keys, kind=kind), []


def read_records(flat: Sequence[Any]) -> list[Record]:
    """The records of the reply of ``records_script``, oldest first."""
    records = []
    for n in range(0, len(flat), 3):
        at_ms, envelope = flat[n + 2].split(b" ", 1)
        records.append(Record(flat[n].decode(), int(at_ms), int(float(flat[n + 1])), envelope))
    return sorted(records, key=lambda record: record.at_ms)


def requeue_script(keys: QueueKeys, kind: FailedOrDead, job_ids: Sequence[str]) -> Script:
    """``requeue-5+n.lua``: put jobs set aside as ``kind`` back on the queue; the reply is how many were found."""
    return [*keys_for("requeue", keys, kind=kind), *(keys.result(job_id) for job_id in job_ids)], list(job_ids)


def purge_commands(keys: QueueKeys, kind: FailedOrDead) -> list[Command]:
    """One ``MULTI`` that forgets every job set aside as ``kind``; its first reply is how many there were."""
    return [("ZCARD", keys.jobs_of(kind)), ("DEL", *keys.keys_of(kind))]


# -- periodic schedules ------------------------------------------------------------------------


def schedule_script(keys: QueueKeys, name: str, record: bytes, timing: str, first_run_ms: int) -> Script:
    """``schedule-5.lua``: register (or replace) a periodic schedule."""
    return keys_for("schedule", keys), [name, record, timing, first_run_ms]


def unschedule_commands(keys: QueueKeys, name: str) -> list[Command]:
    """One ``MULTI`` that removes a periodic schedule and all that was noted about it; its first reply is
    whether there was one."""
    return [("ZREM" if key == keys.schedule_next else "HDEL", key, name) for key in keys.schedule_keys]


def schedules_commands(keys: QueueKeys) -> list[Command]:
    """One ``MULTI`` that reads every periodic schedule; its replies go to ``read_schedules``."""
    return [
        ("HGETALL", keys.schedules),
        ("ZRANGE", keys.schedule_next, 0, -1, "WITHSCORES"),
        ("HGETALL", keys.schedule_skipped),
        ("HGETALL", keys.schedule_disabled),
    ]


def read_schedules(replies: Sequence[Any]) -> list[ScheduleRecord]:
    """Every periodic schedule, by name: its record, next run (ms, 0 when disabled), skipped ticks and
    why it is disabled."""
    records, runs, skipped, disabled = replies
    next_runs = {name: int(float(at)) for name, at in pairs(runs)}
    skips, reasons = dict(pairs(skipped)), dict(pairs(disabled))
    return [
        ScheduleRecord(
            name.decode(),
            record,
            next_runs.get(name, 0),
            int(skips.get(name, 0)),
            reasons[name].decode(errors="replace") if name in reasons else None,
        )
        for name, record in sorted(pairs(records))
    ]


# -- reaching into a job -----------------------------------------------------------------------


def cancel_script(keys: QueueKeys, job_id: str, envelope: bytes, result_ttl_ms: int, dependents: Flow) -> Script:
    """``cancel-14+n.lua``: cancel a job, ``envelope`` its result from now on, and tell its ``dependents``
    (as believed: ``flows.believed`` calls again while they are not so); its reply goes to ``read_cancel``."""
    script_keys = [*keys_for("cancel", keys, job_id=job_id), *flows.part_keys(keys, job_id, dependents, own=False)]
    return script_keys, [job_id, envelope, result_ttl_ms, keys.control, flows.belief(dependents)]


def read_cancel(reply: bytes | None) -> str | None:
    """The job's state before the cancel, or None when it was not there."""
    return None if reply is None else reply.decode()


# -- replicas ----------------------------------------------------------------------------------


def check_replicas(replicas: object, cluster: bool) -> int:
    """``replicas``, if a broker on a cluster (``cluster``) or not can wait for that many.

    Raises:
        ConfigurationError: not a whole number from 0 to ``MAX_REPLICAS``, or some on a cluster.
    """
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 0 <= replicas <= MAX_REPLICAS:
        raise ConfigurationError(f"replicas must be a whole number from 0 to {MAX_REPLICAS}, got {replicas!r}")
    if replicas and cluster:
        raise ConfigurationError("replicas= is for a single Redis or a Sentinel-managed master, not a cluster")
    return replicas


def wait_command(replicas: int) -> Command:
    """``WAIT``, after a write on the same connection, until ``replicas`` replicas have it; its reply
    goes to ``check_replicated``."""
    return ("WAIT", replicas, REPLICA_WAIT_MS)


def check_replicated(confirmed: int, replicas: int) -> None:
    """Raises ``RedisUnavailable`` when fewer than ``replicas`` replicas ``confirmed`` a write."""
    if confirmed < replicas:
        raise RedisUnavailable(
            f"written, but {confirmed} of {replicas} replica(s) confirmed it within "
            f"{REPLICA_WAIT_MS} ms: a failover now could lose it"
        )

"""Every Redis key yotaq uses, built here and nowhere else.

All keys of queue ``Q`` share the hash tag ``{yotaq:Q}``, so they live in one Redis Cluster slot
and every Lua script can be given all of them in ``KEYS``. A queue sharded N ways is N such groups,
``{yotaq:Q#0}`` ... ``{yotaq:Q#N-1}``, so on a cluster it spreads over several nodes; a job lives
in the shard its id hashes to (``shard_of``), so anyone can find it from its id alone.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..exceptions import ConfigurationError
from ..serializer import MAX_ID_LENGTH, VALID_ID

if TYPE_CHECKING:
    from ..info import FailedOrDead


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it can be part of a key, else raise ``ConfigurationError``."""
    if not isinstance(name, str) or not name.isascii() or not VALID_ID.fullmatch(name.encode()):
        raise ConfigurationError(
            f"invalid {kind} {name!r}: it must be 1 to {MAX_ID_LENGTH} printable ASCII characters, "
            "without spaces, '{' or '}'"
        )
    return name


MAX_SHARDS = 1024
INVALIDATIONS = "__redis__:invalidate"  # Redis's channel for CLIENT TRACKING's news of keys changed


def watch_channel(watch: str) -> str:
    """Pub/sub channel (not a key) that wakes the listeners of one ``ListWatch`` when it closes."""
    return f"yotaq:watch:{check_name('watch id', watch)}"


def stop_channel(worker: str) -> str:
    """Pub/sub channel (not a key) that wakes one worker's control listener when the worker stops, so
    that it ends before the worker does: a thread left in redis-py at the interpreter's exit can hang it."""
    return f"yotaq:stop:{check_name('worker name', worker)}"


KINDS: tuple[FailedOrDead, ...] = ("failed", "dead")
Finished = Literal["done", "cancelled"]


def shard_of(job_id: str, shards: int) -> int:
    """The shard a job id lives in: the same for every producer and worker."""
    return zlib.crc32(job_id.encode()) % shards if shards > 1 else 0


@dataclass(frozen=True)
class QueueKeys:
    """The keys of one queue, or of one shard of a sharded queue."""

    queue: str
    shard: int | None = None  # None: the queue is not sharded

    def __post_init__(self) -> None:
        if "#" in check_name("queue name", self.queue):
            raise ConfigurationError(f"invalid queue name {self.queue!r}: '#' marks a shard in a key")

    @staticmethod
    def of(queue: str, shards: int) -> list[QueueKeys]:
        """The keys of every shard of ``queue``, sharded ``shards`` ways (1: not sharded)."""
        if not isinstance(shards, int) or isinstance(shards, bool) or not 1 <= shards <= MAX_SHARDS:
            raise ConfigurationError(f"shards must be a whole number from 1 to {MAX_SHARDS}, got {shards!r}")
        return [QueueKeys(queue)] if shards == 1 else [QueueKeys(queue, shard) for shard in range(shards)]

    @functools.cached_property
    def _prefix(self) -> str:
        return f"{{yotaq:{self.queue}}}" if self.shard is None else f"{{yotaq:{self.queue}#{self.shard}}}"

    @property
    def shards(self) -> str:
        """How many shards the queue has (a number), kept so that a producer or worker that counts
        otherwise is refused. In the unsharded queue's slot, whichever shard asks."""
        return f"{{yotaq:{self.queue}}}:shards"

    @property
    def pending(self) -> str:
        """List of messages waiting to run, oldest at the head."""
        return f"{self._prefix}:pending"

    def active(self, worker: str) -> str:
        """List of messages leased by ``worker`` and not yet acknowledged."""
        return f"{self._prefix}:active:{check_name('worker name', worker)}"

    @property
    def state(self) -> str:
        """Hash of job id to ``pending``, ``scheduled`` or ``active``, for every job not finished yet."""
        return f"{self._prefix}:state"

    @property
    def scheduled(self) -> str:
        """Sorted set of job ids waiting for their time (delayed tasks, retries), scored by run-at (ms)."""
        return f"{self._prefix}:scheduled"

    @property
    def scheduled_messages(self) -> str:
        """Hash of job id to the message of a scheduled task."""
        return f"{self._prefix}:scheduled:messages"

    @property
    def token(self) -> str:
        """The queue (``Q``) or shard (``Q#3``) in a word, as a fleet's ``serves`` lists it (``parse``)."""
        return self.queue if self.shard is None else f"{self.queue}#{self.shard}"

    @staticmethod
    def parse(token: str) -> QueueKeys:
        queue, _, shard = token.partition("#")
        return QueueKeys(queue, int(shard)) if shard else QueueKeys(queue)

    @property
    def workers(self) -> str:
        """Sorted set of the ids of the workers serving the queue, scored by their liveness timeout (ms);
        whether each is alive is in its fleet's ``alive``."""
        return f"{self._prefix}:workers"

    @property
    def trim(self) -> str:
        """String holding the id of the worker that looks for the queue's expired records this minute."""
        return f"{self._prefix}:trim"

    @property
    def deliveries(self) -> str:
        """Hash of job id to the number of times a worker died while holding it."""
        return f"{self._prefix}:deliveries"

    def jobs_of(self, kind: FailedOrDead) -> str:
        """Sorted set of the job ids set aside as ``kind``, scored by when their record expires (ms)."""
        return f"{self._prefix}:{kind}"

    def messages_of(self, kind: FailedOrDead) -> str:
        """Hash of job id to the message of a job set aside as ``kind``, to requeue it."""
        return f"{self._prefix}:{kind}:messages"

    def reasons_of(self, kind: FailedOrDead) -> str:
        """Hash of job id to a JSON record of why and when it was set aside."""
        return f"{self._prefix}:{kind}:reasons"

    @property
    def schedules(self) -> str:
        """Hash of periodic schedule name to its signed record (timing and function)."""
        return f"{self._prefix}:periodic"

    @property
    def schedule_timings(self) -> str:
        """Hash of periodic schedule name to its timing (JSON), to tell a changed one from the same."""
        return f"{self._prefix}:periodic:timing"

    @property
    def schedule_next(self) -> str:
        """Sorted set of periodic schedule names, scored by their next run (ms)."""
        return f"{self._prefix}:periodic:next"

    @property
    def schedule_last(self) -> str:
        """Hash of periodic schedule name to the job id of its last tick enqueued."""
        return f"{self._prefix}:periodic:last"

    @property
    def schedule_skipped(self) -> str:
        """Hash of periodic schedule name to how many of its ticks were skipped, the last one still waiting."""
        return f"{self._prefix}:periodic:skipped"

    @property
    def schedule_disabled(self) -> str:
        """Hash of periodic schedule name to why it was disabled (its next run could not be worked out)."""
        return f"{self._prefix}:periodic:disabled"

    @property
    def schedule_keys(self) -> list[str]:
        """Every key that keeps something about a periodic schedule, a field each."""
        return [self.schedules, self.schedule_timings, self.schedule_next, *self.schedule_marks]

    @property
    def schedule_marks(self) -> list[str]:
        """What the workers note about a schedule: its last tick, its skipped ticks, why it is disabled."""
        return [self.schedule_last, self.schedule_skipped, self.schedule_disabled]

    def keys_of(self, kind: FailedOrDead) -> list[str]:
        """The three keys that keep the jobs set aside as ``kind``."""
        return [self.jobs_of(kind), self.messages_of(kind), self.reasons_of(kind)]

    @property
    def slots(self) -> list[str]:
        """The keys of the concurrency limits' slots: holders, waiting, waiting messages."""
        return [self.holders, self.waiting, self.waiting_messages]

    def result(self, job_id: str) -> str:
        """List holding the one result envelope of a finished job, until it expires."""
        return f"{self._prefix}:result:{check_name('job id', job_id)}"

    def enqueued(self, job_id: str) -> str:
        """String holding the token of the job's latest enqueue, for a while: a try again after a lost
        reply finds its first try by it."""
        return f"{self._prefix}:enqueued:{check_name('job id', job_id)}"

    @property
    def flows(self) -> str:
        """Hash of the id of a job not finished yet to its dependents (``<queue token> <job id>`` pairs,
        space separated): the jobs waiting for its outcome. Its field goes when that outcome is told them."""
        return f"{self._prefix}:flows"

    def flow(self, job_id: str) -> str:
        """Hash of a dependent's record: its parked message until it is enqueued, how many parents it still
        waits for, its parents, how their results feed it; kept until its result expires."""
        return f"{self._prefix}:flow:{check_name('job id', job_id)}"

    def parents(self, job_id: str) -> str:
        """Hash of a dependent's parent ids to their outcomes (result envelopes), each written once, when
        that parent's outcome is final (a duplicate delivery adds nothing)."""
        return f"{self._prefix}:parents:{check_name('job id', job_id)}"

    def dependents(self, job_id: str) -> str:
        """String holding the dependents (as in ``flows``) of a job whose outcome was told them, until its
        result expires: for its page, and to cancel downstream of it."""
        return f"{self._prefix}:next:{check_name('job id', job_id)}"

    @property
    def holders(self) -> str:
        """Sorted set of the slots of concurrency limits taken: ``<limit key>\\0<job id>``, all score 0."""
        return f"{self._prefix}:limits:holders"

    @property
    def waiting(self) -> str:
        """Sorted set of the tasks waiting for a slot: ``<limit key>\\0<order>``, all score 0."""
        return f"{self._prefix}:limits:waiting"

    @property
    def waiting_messages(self) -> str:
        """Hash of a waiting task's member in ``waiting`` to its message."""
        return f"{self._prefix}:limits:waiting:messages"

    @property
    def rates(self) -> str:
        """Hash of limit key to the next start its rate allows and when the rate is spent
        (``b"<ms> <ms>"``, forgotten after that by the trim), and the waiting tasks' order."""
        return f"{self._prefix}:limits:rates"

    @property
    def series(self) -> str:
        """Hash of the last hour, second by second: field ``second % 3600``, value
        ``b"<second> <tasks done> <sum of their durations in ms>"`` (a field is reused an hour later);
        and of the last day, minute by minute: field ``m<minute % 1440>``, value
        ``b"m<minute> <tasks done> <sum of ms>"``. At most 5,040 fields, whatever the traffic."""
        return f"{self._prefix}:series"

    def finished(self, state: Finished) -> str:
        """Sorted set of the ids of jobs ``done`` or ``cancelled``, scored by when their result expires
        (ms): they are listed for as long as their results are kept, and at most ``MAX_LISTED``; the set
        expires with the last of those results (``include/finished.lua``)."""
        return f"{self._prefix}:{state}"

    @property
    def finished_jobs(self) -> str:
        """Hash of the id of a job listed in ``finished`` to what is shown of it:
        ``b"<state> <finished ms> <worker> <ran ms> <function>"`` (``-`` for what is unknown)."""
        return f"{self._prefix}:finished:jobs"

    @property
    def finished_keys(self) -> list[str]:
        """The keys that list finished jobs: done, cancelled, and what is shown of each."""
        return [self.finished("done"), self.finished("cancelled"), self.finished_jobs]

    def progress(self, job_id: str) -> str:
        """String holding the progress a running job last reported (JSON), until it expires."""
        return f"{self._prefix}:progress:{check_name('job id', job_id)}"

    @property
    def marker(self) -> str:
        """Sorted set of at most one member, ``s``, scored by the earliest time (ms) a job scheduled since a
        worker last looked is due: whatever schedules one writes it (keeping the lower score), and a
        worker's time thread waits on it (``BZPOPMIN``) rather than looking every so often."""
        return f"{self._prefix}:marker"

    @property
    def control(self) -> str:
        """Pub/sub channel (not a key) on which a cancel names a running job, for its worker to stop it."""
        return f"{self._prefix}:control"

    @property
    def stats(self) -> str:
        """Hash of counters: done, failed, retried, invalid, redelivered, cancelled."""
        return f"{self._prefix}:stats"

    @property
    def traces(self) -> list[str]:
        """Every key of the queue as a whole (none of one job or one worker), but its number of shards:
        what using the queue leaves, for as long as any of it lasts. A mere look at a queue records
        its shards, so that key alone is no sign that anything ever ran or waited there."""
        whole = [self.pending, self.state, self.scheduled, self.scheduled_messages, self.workers, self.trim]
        whole += [self.deliveries, *self.keys_of("failed"), *self.keys_of("dead"), self.flows]
        whole += [*self.schedule_keys, *self.slots, self.rates, self.series, *self.finished_keys]
        return [*whole, self.marker, self.stats]


@dataclass(frozen=True)
class FleetKeys:
    """Where workers say they are alive. On one Redis (or through Sentinel) every worker's, whatever its
    queues: one heartbeat a worker. On a cluster each queue shard's own, in its slot, where the script
    that reaps a worker there can read it."""

    prefix: str

    @staticmethod
    def of(keys: QueueKeys, cluster: bool) -> FleetKeys:
        return FleetKeys(keys._prefix if cluster else "yotaq")

    @property
    def alive(self) -> str:
        """Sorted set of worker ids, scored by their liveness deadline (ms, Redis server time)."""
        return f"{self.prefix}:alive"

    def worker(self, worker: str) -> str:
        """String holding what a worker says of itself at a heartbeat when it changed, or a minute passed
        (JSON: host, pid, queues, since when, tasks done and failed), expiring a minute after its heartbeats stop."""
        return f"{self.prefix}:worker:{check_name('worker name', worker)}"

    @property
    def serves(self) -> str:
        """Hash of worker id to the queues it serves (``QueueKeys.token``, space separated)."""
        return f"{self.prefix}:serves"

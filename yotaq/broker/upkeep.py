"""The broker's commands that keep a queue going behind its workers' backs: liveness (heartbeats,
reaping dead workers), time (promoting scheduled jobs, periodic ticks) and trimming old records.
Mixed into ``Broker``; every command is still one round trip, one script where it changes several keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar, cast

from ..serializer import message_id
from . import commands
from .commands import ScheduleRecord
from .connection import Client, named_wait, transaction
from .flows import Flow, beliefs, part_keys, with_actual
from .keys import FleetKeys, QueueKeys
from .scripts import Scripts, keys_for

T = TypeVar("T")

PROMOTE_BATCH = 1_000  # scheduled tasks moved to the queue (or periodic ticks due) per script call

Tick = Literal["taken", "enqueued", "skipped"]  # by another worker; by this one; skipped, the last still waiting
_TICKS: tuple[Tick, ...] = ("taken", "enqueued", "skipped")  # by what tick-6.lua returns


class Beat(NamedTuple):
    """What a heartbeat found."""

    was_missing: bool  # the worker was not alive: its first beat, or it was presumed dead and forgotten
    lapsed: list[str]  # workers whose deadline has passed (some, when asked to look)


LAPSED_BATCH = 16  # workers a heartbeat that looks asks for, at most: the next one asks for the rest
LAPSED = "lapsed "  # on a queue's control channel: a worker to reap there (a job id has no space)
MARKER = "s"  # the one member of a queue's marker (``QueueKeys.marker``)


class Upkeep:
    """Heartbeats, reaping, promoting, periodic ticks and trimming, for ``Broker``."""

    _scripts: Scripts
    cluster: bool

    if TYPE_CHECKING:

        def _call(self, command: Callable[[Client], T], *, own: bool = False, write: bool = False) -> T: ...

        def _through_outage(
            self, command: Callable[[Client], T], *, blocks_s: float = 0.0, write: bool = False
        ) -> T: ...

        def _wait(self, command: Callable[[Client], T], timeout_s: float) -> T: ...

        def longest_wait_s(self, timeout_s: float) -> float: ...

    # -- liveness ------------------------------------------------------------------------------

    def fleet(self, keys: QueueKeys) -> FleetKeys:
        """Where the workers of ``keys`` say they are alive (``FleetKeys``)."""
        return FleetKeys.of(keys, self.cluster)

    def clock(self, fleet: FleetKeys) -> int:
        """The Redis server's clock (ms) on the fleet's node."""
        return int(self._call(lambda c: self._scripts.clock(keys_for("clock", fleet=fleet), [], client=c)))

    def heartbeat(
        self,
        fleet: FleetKeys,
        worker: str,
        deadline_ms: int,
        *,
        lapsed_before_ms: int | None,
        about: tuple[bytes, int] | None = None,
    ) -> Beat:
        """Move ``worker``'s liveness deadline to ``deadline_ms`` (the caller knows Redis's clock), and with
        ``lapsed_before_ms`` look for workers whose deadline came before; with ``about`` (a record, how long
        it is kept in ms) say what the worker is (``FleetKeys.worker``): up to three commands, one round trip."""

        def beat(client: Client) -> list[Any]:
            with client.pipeline(transaction=False) as pipe:
                pipe.zadd(fleet.alive, {worker: deadline_ms})
                if lapsed_before_ms is not None:
                    pipe.zrangebyscore(fleet.alive, "-inf", lapsed_before_ms, start=0, num=LAPSED_BATCH)
                if about is not None:
                    pipe.set(fleet.worker(worker), about[0], px=about[1])
                return cast(list[Any], pipe.execute())

        replies = self._call(beat)
        lapsed = [member.decode(errors="replace") for member in replies[1]] if lapsed_before_ms is not None else []
        return Beat(bool(replies[0]), lapsed)

    def register(self, fleet: FleetKeys, worker: str, queues: Sequence[QueueKeys], liveness_ms: int) -> None:
        """Say which queues ``worker`` serves: on each, and in its fleet (for whoever finds it dead)."""

        def register(client: Client) -> None:
            with client.pipeline(transaction=False) as pipe:
                for keys in queues:
                    pipe.zadd(keys.workers, {worker: liveness_ms})
                pipe.hset(fleet.serves, worker, " ".join(keys.token for keys in queues))
                pipe.execute()

        self._call(register)

    def forget(self, fleet: FleetKeys, worker: str) -> list[QueueKeys] | None:
        """Forget a worker found dead and tell the queues it served (``LAPSED`` on their control channels),
        whose workers give back its tasks; None when it is alive, or another worker forgot it first."""
        served = self._call(lambda c: self._scripts.forget(keys_for("forget", fleet=fleet), [worker], client=c))
        if served is None:
            return None
        queues = [QueueKeys.parse(token) for token in cast(bytes, served).decode().split()]

        def tell(client: Client) -> None:
            with client.pipeline(transaction=False) as pipe:
                for keys in queues:
                    pipe.publish(keys.control, LAPSED + worker)
                pipe.execute()

        self._call(tell)
        return queues

    def leave(self, fleet: FleetKeys, worker: str) -> None:
        """``worker`` stops: it is no longer alive, and serves nothing."""

        def leave(client: Client) -> None:
            with client.pipeline(transaction=True) as pipe:
                pipe.zrem(fleet.alive, worker)
                pipe.hdel(fleet.serves, worker)
                pipe.delete(fleet.worker(worker))
                pipe.execute()

        self._call(leave)

    def lapsed_workers(self, keys: QueueKeys) -> list[str]:
        """The workers registered on the queue that are not alive (their tasks are to be given back)."""
        script_keys = keys_for("lapsed", keys, self.fleet(keys))
        members = cast(list[bytes], self._call(lambda c: self._scripts.lapsed(script_keys, [], client=c)))
        return [member.decode(errors="replace") for member in members]

    def reap(
        self,
        keys: QueueKeys,
        worker: str,
        *,
        max_deliveries: int,
        force: bool,
        dead_envelope: Callable[[str], bytes],
        record_ttl_ms: int,
        result_ttl_ms: int,
    ) -> tuple[int, int] | None:
        """Give back the jobs of ``worker`` if its deadline has passed (or at once with ``force``).

        A job whose worker died ``max_deliveries`` times is set aside as dead instead, with
        ``dead_envelope(job_id)`` as its outcome. Returns (requeued, set aside), or None when the
        worker is alive or changed what it held meanwhile.
        """
        held = cast(list[bytes], self._call(lambda c: c.lrange(keys.active(worker), 0, -1)))
        ids = [message_id(message) for message in held]
        # What each job's dependents are, for one that is set aside to tell them (the script checks)
        dependents = cast(list[bytes | None], self._call(lambda c: c.hmget(keys.flows, ids))) if ids else []
        parts = [with_actual(Flow(after=True), actual) for actual in dependents]
        script_keys = [
            *keys_for("reap", keys, self.fleet(keys), worker=worker),
            *(keys.result(job_id) for job_id in ids),
        ]
        script_keys += [key for job_id, part in zip(ids, parts, strict=True) for key in part_keys(keys, job_id, part)]
        args: list[Any] = [worker, max_deliveries, "1" if force else "", record_ttl_ms, result_ttl_ms, " ".join(ids)]
        args.append(beliefs(parts))
        args += [part for job_id, message in zip(ids, held, strict=True) for part in (message, dead_envelope(job_id))]
        reaped = self._call(lambda c: self._scripts.reap(script_keys, args, client=c))
        return (int(reaped[0]), int(reaped[1])) if reaped else None

    # -- time --------------------------------------------------------------------------------------

    def wait_due(
        self, queues: Sequence[QueueKeys], timeout_s: float, blocked: Callable[[int | None], None] | None = None
    ) -> QueueKeys | None:
        """Wait in Redis up to ``timeout_s`` until a job is scheduled on one of ``queues`` (its marker is
        written); which queue, or None. On a Redis Cluster the queues must share a slot. ``blocked`` is
        told the waiting connection's id (for ``end_wait``), then None, as by ``lease_blocking``."""
        by_marker = {keys.marker: keys for keys in queues}
        wait_s = self.longest_wait_s(timeout_s)

        def wait(client: Client) -> tuple[bytes, bytes, float] | None:
            return cast(
                tuple[bytes, bytes, float] | None,
                named_wait(client, blocked, lambda: client.bzpopmin(list(by_marker), wait_s)),
            )

        reply = self._wait(wait, wait_s)
        return None if reply is None else by_marker[reply[0].decode()]

    def wake_time(self, keys: QueueKeys) -> None:
        """Write the queue's marker, as if a job came due now: a worker waiting on it looks at the queue."""
        self._call(lambda c: c.zadd(keys.marker, {MARKER: 0}, lt=True))

    def promote(self, keys: QueueKeys) -> tuple[float | None, float | None]:
        """Move due scheduled jobs to the queue. Returns the seconds until the next scheduled job is
        due and until the next periodic tick is (None: there is none; 0: a tick is due now)."""
        script_keys = keys_for("promote", keys)
        _, next_ms, tick_ms = self._call(lambda c: self._scripts.promote(script_keys, [PROMOTE_BATCH], client=c))
        return (None if next_ms < 0 else next_ms / 1000), (None if tick_ms < 0 else tick_ms / 1000)

    # -- periodic schedules --------------------------------------------------------------------

    def schedule(self, keys: QueueKeys, name: str, record: bytes, timing: str, first_run_ms: int) -> None:
        """Register (or replace) a periodic schedule; see ``schedule-5.lua``."""
        script_keys, args = commands.schedule_script(keys, name, record, timing, first_run_ms)
        self._through_outage(lambda c: self._scripts.schedule(script_keys, args, client=c), write=True)

    def unschedule(self, keys: QueueKeys, name: str) -> bool:
        """Remove a periodic schedule, and all that was noted about it; whether there was one."""
        removals = commands.unschedule_commands(keys, name)
        removed, *_ = self._through_outage(lambda c: transaction(c, *removals), write=True)
        return bool(removed)

    def schedules(self, keys: QueueKeys) -> list[ScheduleRecord]:
        """Every periodic schedule (see ``commands.read_schedules``)."""
        reads = commands.schedules_commands(keys)
        return commands.read_schedules(self._through_outage(lambda c: transaction(c, *reads)))

    def due_ticks(self, keys: QueueKeys) -> list[tuple[str, bytes, bytes]]:
        """The periodic schedules due now: name, due time (ms, as Redis writes the score: ``tick``
        compares it as it is) and record."""
        script_keys = keys_for("due", keys)
        flat = self._call(lambda c: self._scripts.due(script_keys, [PROMOTE_BATCH], client=c))
        return [(flat[n].decode(), flat[n + 1], flat[n + 2]) for n in range(0, len(flat), 3)]

    def tick(self, keys: QueueKeys, name: str, due: bytes, next_ms: int, job_id: str, message: bytes) -> Tick:
        """Enqueue one tick of a schedule, if no other worker has and its last tick is not still
        waiting; see ``tick-6.lua``."""
        script_keys = keys_for("tick", keys)
        args: list[Any] = [name, due, next_ms, job_id, message]
        return _TICKS[int(self._call(lambda c: self._scripts.tick(script_keys, args, client=c), write=True))]

    def disable_schedule(self, keys: QueueKeys, name: str, due: bytes, reason: str) -> bool:
        """Take a schedule whose next run cannot be worked out out of the rotation, noting why; whether
        this call did (another worker may have first); see ``disable-2.lua``."""
        script_keys = keys_for("disable", keys)
        return bool(self._call(lambda c: self._scripts.disable(script_keys, [name, due, reason], client=c), write=True))

    def trim_turn(self, keys: QueueKeys, worker: str, every_ms: int) -> bool:
        """Whether it is ``worker``'s turn to ``trim`` the queue: one worker's a period, for the fleet."""
        return bool(self._call(lambda c: c.set(keys.trim, worker, nx=True, px=every_ms)))

    def trim(self, keys: QueueKeys) -> None:
        """Forget the failed and dead records that have expired, and the rates that hold no more.

        One script call per batch of rates, so that a large hash never blocks Redis for long.
        """
        script_keys = keys_for("trim", keys)

        def batch(cursor: bytes | int) -> bytes:
            return cast(bytes, self._call(lambda c: self._scripts.trim(script_keys, [cursor], client=c)))

        cursor = batch(0)
        while int(cursor) != 0:
            cursor = batch(cursor)

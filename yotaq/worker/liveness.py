"""A worker's liveness: its heartbeat, and what it does for workers that stopped beating.

Every ``heartbeat_interval`` a worker moves its deadline in its fleet's ``alive`` sorted set forward
(``FleetKeys``: on one Redis the whole fleet's, so one beat a worker whatever its queues) and, in the
same round trip, asks for any deadline that has passed. The first worker to see one forgets that
worker (once, for the whole fleet) and names it on the control channel of each queue it served;
the workers serving such a queue hear it (``Maintenance``) and give back its tasks there, each
counting a delivery (``reap``). No worker looks at anything on a timer but its own beat.

A beat is two commands, not a script, so the deadline is computed here on Redis's clock: read now
and then (``CLOCK_SYNC_S``) and carried forward in between by this process's monotonic clock.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..broker import Broker, FleetKeys, QueueKeys
from ..exceptions import ConfigurationError, RedisUnavailable
from ..job import Options
from ..outcomes import encode_result

logger = logging.getLogger(__name__)

CLOCK_SYNC_S = 60.0  # how often a worker reads Redis's clock again (its own clock drifts little in between)
REAPER = "reaper"  # who records the outcome of a task whose worker died
_DEFAULTS = Options()
TALLIED = ("done", "failed", "retried", "cancelled", "invalid")  # the counts a worker's beat says
# A beat says what the worker is (for dashboards) when that changed, and at least this often: an idle
# worker's beat stays two commands (the record is kept this long past it, plus the liveness timeout)
SAY_AGAIN_S = 60.0


@dataclass(frozen=True)
class Liveness:
    """How a worker proves it is alive, and what it does for those that are not."""

    liveness_timeout: float
    heartbeat_interval: float
    max_deliveries: int


class Heart:
    """The heartbeats of one worker, one per fleet its queues belong to: beaten by its liveness thread
    (and its main one, at start and after an outage); its control thread reaps with it."""

    def __init__(
        self,
        broker: Broker,
        queues: Sequence[QueueKeys],
        worker: str,
        liveness: Liveness,
        secret: bytes | None,
        counts: Mapping[str, int] | None = None,
    ) -> None:
        self._broker = broker
        self._worker = worker
        self._liveness = liveness
        self._liveness_ms = round(liveness.liveness_timeout * 1000)
        self._secret = secret
        self._fleets: dict[FleetKeys, list[QueueKeys]] = {}
        for keys in queues:
            self._fleets.setdefault(broker.fleet(keys), []).append(keys)
        self._clocks: dict[FleetKeys, tuple[float, int]] = {}  # (monotonic, Redis ms) when last read
        self._registered: set[FleetKeys] = set()
        # Since when each fleet's node has answered this worker's heartbeats without a break.
        self._connected_at: dict[FleetKeys, float] = {}
        self._look_at_queues = True  # for workers gone while no one could hear of it (at start, after a drop)
        self._counts = counts  # the worker's tasks done, failed, ... since it started: said at each beat
        self._about = {"host": socket.gethostname(), "pid": os.getpid(), "started_ms": round(time.time() * 1000)}
        self._said: dict[FleetKeys, tuple[bytes, float]] = {}  # what each fleet was last told, and when

    def beat(self) -> None:
        """Beat in every fleet whose node answers; a fleet whose node fails is beaten again next time, and
        this raises only if all fail (on a Redis Cluster one failing node must not get this worker reaped
        on the others)."""
        failure: RedisUnavailable | None = None
        for fleet, queues in self._fleets.items():
            try:
                self._beat(fleet, queues)
            except RedisUnavailable as exc:
                self._connected_at.pop(fleet, None)
                self._clocks.pop(fleet, None)
                failure = exc
        if failure is not None and not self._connected_at:
            raise failure

    def deregistered(self) -> None:
        """Told that the worker gave everything back: its next beat is a first one."""
        self._registered.clear()

    def leave(self) -> None:
        """The worker stops: no longer alive in any of its fleets."""
        for fleet in self._fleets:
            self._broker.leave(fleet, self._worker)

    def heard_of_a_lost_one(self) -> None:
        """A worker that stopped beating may have been named where this one could not hear it: look at its
        queues' workers at the next beat that may."""
        self._look_at_queues = True

    def reap(self, keys: QueueKeys, worker: str) -> None:
        """Give back on ``keys`` the tasks of ``worker``, found dead; nothing if it is alive after all."""
        try:
            reaped = reap(self._broker, keys, worker, self._liveness.max_deliveries, self._secret, force=False)
        except ConfigurationError:
            logger.error("ignoring %r in %r's workers: not a worker name yotaq would use", worker, keys.queue)
            return
        if reaped:
            logger.warning(
                "worker %s on %r missed its heartbeat: %d task(s) requeued, %d set aside as dead",
                worker,
                keys.queue,
                *reaped,
            )

    def _beat(self, fleet: FleetKeys, queues: list[QueueKeys]) -> None:
        now_ms = self._now_ms(fleet)
        # Looking for dead workers waits until the node has answered this worker for a whole liveness
        # timeout: after an outage every deadline there has lapsed, and live workers need that long to beat
        # again.
        since = self._connected_at.get(fleet)
        look = since is not None and time.monotonic() - since >= self._liveness.liveness_timeout
        about = self._news(fleet, queues)
        lapsed_before_ms = now_ms if look else None
        beat = self._broker.heartbeat(
            fleet, self._worker, now_ms + self._liveness_ms, lapsed_before_ms=lapsed_before_ms, about=about
        )
        if about is not None:
            self._said[fleet] = (about[0], time.monotonic())
        self._connected_at.setdefault(fleet, time.monotonic())
        if beat.was_missing:
            self._said.pop(fleet, None)  # presumed dead, its record may be gone: said again at the next beat
            if fleet in self._registered:
                logger.warning(
                    "worker %s missed its heartbeat deadline on %s and was presumed dead: any tasks it held "
                    "were given back to the queue (a task it is running now will run again)",
                    self._worker,
                    ", ".join(sorted({repr(keys.queue) for keys in queues})),
                )
            self._broker.register(fleet, self._worker, queues, self._liveness_ms)
            self._registered.add(fleet)
        for lost in beat.lapsed:
            if lost != self._worker and (served := self._broker.forget(fleet, lost)) is not None:
                logger.warning("worker %s missed its heartbeat: told the %d queue(s) it served", lost, len(served))
        if look and self._look_at_queues:
            self._look_at_queues = False
            for keys in queues:
                for lost in self._broker.lapsed_workers(keys):
                    if lost != self._worker:
                        self.reap(keys, lost)

    def _news(self, fleet: FleetKeys, queues: list[QueueKeys]) -> tuple[bytes, int] | None:
        """What this beat says of the worker, and for how long (ms); None when it says nothing new."""
        if self._counts is None:
            return None
        record = self._record(queues)
        said, at = self._said.get(fleet, (b"", 0.0))
        if record == said and time.monotonic() - at < SAY_AGAIN_S:
            return None
        return record, round((SAY_AGAIN_S + self._liveness.liveness_timeout) * 1000)

    def _record(self, queues: list[QueueKeys]) -> bytes:
        """What this worker says of itself at each beat (``FleetKeys.worker``), for dashboards: where it
        runs, since when, its queues and its counts. Made from what it keeps anyway: no command of its own."""
        counts = self._counts or {}
        tally = {name: counts.get(name, 0) for name in TALLIED}
        return json.dumps({**self._about, "queues": [keys.token for keys in queues], **tally}).encode()

    def _now_ms(self, fleet: FleetKeys) -> int:
        """Redis's clock now, as this worker last read it and its own clock carried it on since."""
        read = self._clocks.get(fleet)
        if read is None or time.monotonic() - read[0] >= CLOCK_SYNC_S:
            asked = time.monotonic()
            redis_ms = self._broker.clock(fleet)
            read = self._clocks[fleet] = ((asked + time.monotonic()) / 2, redis_ms)  # the reply's middle
        return read[1] + round((time.monotonic() - read[0]) * 1000)


def reap(
    broker: Broker, keys: QueueKeys, worker: str, max_deliveries: int, secret: bytes | None, *, force: bool
) -> tuple[int, int] | None:
    """Give back the tasks of ``worker`` on ``keys`` if it is not alive (or at once with ``force``).

    Returns (requeued, set aside), or None when the worker is alive or changed what it held.
    A task set aside here never ran to the end, so its options are unknown: its records are kept
    for the default ``failure_ttl``.
    """
    reason = f"its worker died while running it {max_deliveries} times"
    return broker.reap(
        keys,
        worker,
        max_deliveries=max_deliveries,
        force=force,
        dead_envelope=lambda job_id: encode_result(job_id, ("dead", reason), secret, keys.queue, REAPER)[1],
        record_ttl_ms=_DEFAULTS.failure_ttl_ms,
        result_ttl_ms=_DEFAULTS.failed_result_ttl_ms,
    )

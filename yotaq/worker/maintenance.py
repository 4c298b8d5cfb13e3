"""A worker's maintenance threads: liveness (heartbeat and reaper), time (promoter and give-back), control.

- **Liveness**: every ``heartbeat_interval`` the worker pushes its deadline in Redis forward; the
  one worker holding a queue's upkeep lease (taken in the same call, lapsing with its holder) also
  gives back the tasks of every worker whose deadline has passed (each counts a delivery; at
  ``max_deliveries`` the task is set aside as dead). Now and then it forgets expired failure records.
- **Time**: it moves scheduled tasks that are due onto their queues, and enqueues periodic ticks,
  waiting in Redis on the queues' markers in between (one blocking call: see ``_keep_time``); and
  every ``HOSTAGE_CHECK_S`` (without Redis) it looks at the task running now: one that has run
  ``HOSTAGE_S`` has the rest of its batch given back to the queue and the finished tasks'
  acknowledgements sent, so that neither waits behind a long task.
- **Control**: it waits on the queues' control channels (pub/sub) for the cancel of a job this
  worker holds, and interrupts it; waiting sends Redis nothing.

None of them ever blocks the main one: they share only the ``Batch``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .. import periodic
from ..broker import Broker, QueueKeys
from ..broker.control import Subscription
from ..exceptions import ConfigurationError, ConnectionError  # noqa: A004 - yotaq's own
from ..job import Options
from ..outcomes import encode_result
from .batch import Batch
from .timelimit import leave_signals_to_the_main_thread

logger = logging.getLogger(__name__)

MAX_WAIT_S = 5.0  # a time thread looks at its queues at least this often, whatever its markers say
MIN_WAIT_S = 0.001  # a blocking wait of 0 would wait for ever
# Redis ends a blocking wait up to 1/hz late (100 ms at its default hz of 10): a time thread waits
# in Redis until this long before the next job is due, and the rest here, to start it on time
EARLY_S = 0.15
MAX_PAUSE_S = 1.0  # how long a time thread waits after a failure before it tries again
TICK_AGAIN_S = 0.1  # after enqueueing a periodic tick, how soon a time thread asks when the next is
HOSTAGE_CHECK_S = 0.1  # how often the task running now is looked at (here, without Redis)
LISTEN_S = 0.5  # each wait for a cancel ends this often, to see a stop (it sends Redis nothing)
HOSTAGE_S = 0.2  # a task running this long sets the rest of its batch free
TRIM_INTERVAL_S = 60.0  # how often expired failure records and spent rates are looked for
_DEFAULTS = Options()
REAPER = "reaper"  # who records the outcome of a task whose worker died


@dataclass(frozen=True)
class Liveness:
    """How a worker proves it is alive, and what it does for those that are not."""

    liveness_timeout: float
    heartbeat_interval: float
    max_deliveries: int


class Maintenance:
    """The threads, started and stopped together."""

    def __init__(
        self,
        broker: Broker,
        queues: Sequence[QueueKeys],
        worker: str,
        liveness: Liveness,
        batch: Batch,
        secret: bytes | None,
        cancel_running: Callable[[str], None],
    ) -> None:
        self._secret = secret
        self._cancel_running = cancel_running
        self._shards = {keys.queue: sum(1 for other in queues if other.queue == keys.queue) for keys in queues}
        self._broker = broker
        self._queues = queues
        self._worker = worker
        self._liveness = liveness
        self._batch = batch
        self._stop = threading.Event()
        self._registered: set[QueueKeys] = set()
        # Told by the last beat, on the queues where this worker holds the upkeep lease (else None)
        self._lapsed: dict[QueueKeys, list[str] | None] = {}
        self._threads = [
            threading.Thread(target=self._every, args=(self._live, liveness.heartbeat_interval), daemon=True,
                             name=f"yotaq-liveness-{worker}"),
            threading.Thread(target=self._every, args=(self._free_hostages, HOSTAGE_CHECK_S), daemon=True,
                             name=f"yotaq-hostages-{worker}"),
        ]  # fmt: skip
        # The threads that wait in Redis are not joined at a stop: each sees it when its wait ends. One
        # listens for cancels (within LISTEN_S); one keeps time for each set of queues one blocking wait
        # can cover: all of them on one Redis, each queue (and shard) apart on a cluster, where each
        # lives in a slot of its own (within MAX_WAIT_S).
        groups = [[keys] for keys in queues] if broker.cluster else [list(queues)]
        self._waiting_threads = [
            threading.Thread(target=self._listen, daemon=True, name=f"yotaq-control-{worker}"),
            *(threading.Thread(target=self._keep_time, args=(group,), daemon=True, name=f"yotaq-time-{worker}")
              for group in groups),
        ]  # fmt: skip
        # Since when each queue's node has answered this worker's heartbeats without a break.
        self._connected_at: dict[QueueKeys, float] = {}
        self._trimmed_at = 0.0

    def start(self) -> None:
        for thread in [*self._threads, *self._waiting_threads]:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()

    def beat(self) -> None:
        """Register this worker, or push its liveness deadline forward, on every queue whose node
        answers; a queue whose node fails is beaten again next time, and raises only if all fail
        (on a Redis Cluster one failing node must not get this worker reaped on the others)."""
        liveness_ms = round(self._liveness.liveness_timeout * 1000)
        failure: ConnectionError | None = None
        for keys in self._queues:
            try:
                beat = self._broker.heartbeat(keys, self._worker, liveness_ms)
            except ConnectionError as exc:
                self._connected_at.pop(keys, None)
                failure = exc
                continue
            self._connected_at.setdefault(keys, time.monotonic())
            self._lapsed[keys] = beat.lapsed if beat.holds_upkeep else None
            if beat.was_missing and keys in self._registered:
                logger.warning(
                    "worker %s missed its heartbeat deadline on %r and was presumed dead: any tasks it "
                    "held were given back to the queue (a task it is running now will run again)",
                    self._worker,
                    keys.queue,
                )
            self._registered.add(keys)
        if failure is not None and not self._connected_at:
            raise failure

    def deregistered(self) -> None:
        """Told that the worker gave everything back and left: its next beat is a first one."""
        self._registered.clear()

    def _every(self, step: Callable[[], float | None], interval: float) -> None:
        """Run ``step`` until stopped, ``interval`` apart (or as soon as ``step`` says); one failure never
        ends the thread. The main loop reports outages, so this one only notes them."""
        leave_signals_to_the_main_thread()
        wait = interval
        while not self._stop.wait(wait):
            wait = max(interval, HOSTAGE_CHECK_S)  # after a failure: never straight back into it
            try:
                wait = step() or interval
            except ConnectionError:
                pass  # each queue's reachability is kept by the heartbeats (beat)
            except Exception:
                logger.exception("%s failed", threading.current_thread().name)

    def _live(self) -> None:
        self.beat()
        # Reaping a queue waits until its node has answered this worker for a whole liveness timeout:
        # after an outage every deadline there has lapsed, and live workers need that long to beat again.
        now = time.monotonic()
        trim, trimmed = now - self._trimmed_at >= TRIM_INTERVAL_S, False
        for keys in self._queues:
            since = self._connected_at.get(keys)
            if since is None or now - since < self._liveness.liveness_timeout:
                continue
            if self._lapsed.get(keys) is None:
                continue  # another worker holds the queue's upkeep lease: it looks after the queue
            try:
                self._reap(keys)
                if trim:
                    self._broker.trim(keys)
                    trimmed = True
            except ConnectionError:
                self._connected_at.pop(keys, None)
        if trimmed:
            self._trimmed_at = now

    def _reap(self, keys: QueueKeys) -> None:
        """Give back the tasks of the workers whose deadline had passed at this worker's last beat, if it
        holds the queue's upkeep lease (it is told of them only then)."""
        for worker in self._lapsed.get(keys) or []:
            try:
                reaped = reap(self._broker, keys, worker, self._liveness.max_deliveries, self._secret, force=False)
            except ConfigurationError:
                logger.error("ignoring %r in %r's workers: not a worker name yotaq would use", worker, keys.queue)
                continue
            if reaped:
                logger.warning(
                    "worker %s on %r missed its heartbeat: %d task(s) requeued, %d set aside as dead",
                    worker,
                    keys.queue,
                    *reaped,
                )

    def _keep_time(self, queues: list[QueueKeys]) -> None:
        """Move the queues' scheduled jobs onto them as they come due, and enqueue periodic ticks: wait in
        Redis on the queues' markers until the next one is due, or a job is scheduled earlier than any
        this worker knows of (whatever schedules one writes the marker), or ``MAX_WAIT_S`` passes, when
        each queue is looked at anyway (a marker a worker took, then died, is not waited on for ever)."""
        leave_signals_to_the_main_thread()
        look_at = dict.fromkeys(queues, 0.0)  # when to look at each queue next (monotonic)
        while not self._stop.is_set():
            for keys in [keys for keys, at in look_at.items() if at <= time.monotonic()]:
                look_at[keys] = time.monotonic() + self._promote(keys)
            wait = min(max(min(look_at.values()) - time.monotonic(), MIN_WAIT_S), MAX_WAIT_S)
            try:
                if wait <= EARLY_S:
                    self._stop.wait(wait)  # the last of a wait, on this clock
                elif (scheduled := self._broker.wait_due(queues, wait - EARLY_S)) is not None:
                    look_at[scheduled] = 0.0
            except ConnectionError:
                self._stop.wait(MAX_PAUSE_S)  # the main loop reports outages
            except Exception:
                if not self._stop.is_set():
                    logger.exception("waiting for scheduled jobs failed")
                    self._stop.wait(MAX_PAUSE_S)

    def _promote(self, keys: QueueKeys) -> float:
        """Move the queue's due scheduled jobs onto it, and enqueue a periodic tick due; the seconds until
        it needs a look again (``MAX_WAIT_S`` at most)."""
        try:
            next_due, next_tick = self._broker.promote(keys)
            if next_tick == 0:
                periodic.tick(self._broker, keys, self._shards[keys.queue], self._secret)
                return TICK_AGAIN_S  # the tick moved its schedule's next run on: ask when that is
        except ConnectionError:
            return MAX_PAUSE_S  # its node fails: the other queues' scheduled tasks still come due
        except Exception:
            logger.exception("moving the scheduled jobs of %r failed", keys.queue)
            return MAX_PAUSE_S
        return min([MAX_WAIT_S, *(due for due in (next_due, next_tick) if due is not None)])

    def _listen(self) -> None:
        """Wait on the queues' control channels for cancels of jobs this worker holds, and stop them
        (``Job.cancel``): one blocking read, no command sent while nothing comes."""
        leave_signals_to_the_main_thread()
        subscription = self._broker.subscribe(self._queues)
        try:
            while not self._stop.is_set():
                try:
                    job_id = subscription.next(LISTEN_S)
                    if job_id == Subscription.RESUBSCRIBED:
                        self._look_for_cancels()
                    elif job_id is not None and self._batch.holds(job_id):
                        logger.info("job %s was cancelled: interrupting it", job_id)
                        self._cancel_running(job_id)
                except ConnectionError:
                    self._stop.wait(LISTEN_S)  # the main loop reports outages
                except Exception:
                    if self._stop.is_set():
                        return  # the worker is gone, and may have closed the client under us
                    logger.exception("listening for cancels failed")
                    self._stop.wait(LISTEN_S)
        finally:
            subscription.close()

    def _look_for_cancels(self) -> None:
        """Stop the jobs this worker holds that were cancelled while no cancel could be heard."""
        for keys, job_id in self._batch.held():
            if self._broker.state_of(keys, job_id) == "cancelling":
                logger.info("job %s was cancelled: interrupting it", job_id)
                self._cancel_running(job_id)

    def _free_hostages(self) -> None:
        """Give back the unstarted tasks of a batch whose current task has been running long, and
        acknowledge the finished ones, so that their results are not held back either."""
        running = self._batch.running
        if running is None or time.monotonic() - running.since < HOSTAGE_S:
            return
        # Queue by queue: those whose node fails now stay with the main thread, which sends their
        # acknowledgements with its next lease there and runs their unstarted tasks.
        with self._batch.handover:
            acks = self._batch.take_acks()
            try:
                for keys, mine in list(acks.items()):
                    try:
                        lost = self._broker.ack_and_lease(keys, self._worker, mine, 0).lost
                    except ConnectionError:
                        continue
                    del acks[keys]
                    for job_id in lost:
                        logger.warning("job %s: finished, but no longer leased by this worker", job_id)
            finally:
                self._batch.restore_acks(acks)
        kept = self._batch.take_unstarted()  # until given back
        try:
            for keys in self._queues:
                messages = [message for queue, message, _ in kept if queue == keys]
                if not messages:
                    continue
                try:
                    released = self._broker.unlease(keys, self._worker, messages)
                except ConnectionError:
                    continue
                kept = [leased for leased in kept if leased[0] != keys]
                logger.info("job %s is taking long: gave %d task(s) back to %r", running.job_id, released, keys.queue)
        finally:
            self._batch.restore_unstarted(kept)


def reap(
    broker: Broker, keys: QueueKeys, worker: str, max_deliveries: int, secret: bytes | None, *, force: bool
) -> tuple[int, int] | None:
    """Give back the tasks of ``worker`` if its deadline has passed (or at once with ``force``).

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

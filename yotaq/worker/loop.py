"""``Worker``: lease a task, run it, record how it ended; keep the promise when things break.

A task is leased by moving its message from the queue's pending list into this worker's own
active list, and leaves that list only when its outcome is recorded (done, retried or set aside)
by one Lua script. The maintenance threads keep this worker's liveness deadline fresh and reap
workers whose deadline has passed, giving their tasks back to the queue. So a worker can die at
any point and its tasks still run, at least once, elsewhere.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from .. import serializer
from ..broker import Broker, OutageRetry, QueueKeys, check_name
from ..broker.connection import Client
from ..current import Hook, Hooks
from ..exceptions import ConfigurationError, RedisUnavailable
from ..producing import Settings
from .batch import Batch
from .liveness import Liveness, reap
from .maintenance import Maintenance
from .shards import Shards
from .stopping import IDLE_WAIT_S, ProcessReplaced, Stopping, exit_replaced
from .task import StopRequested, TaskHandler
from .timelimit import TaskRunner, Watchdog, restore_in_a_forked_child

if TYPE_CHECKING:
    from .watch import QueueWatcher

logger = logging.getLogger(__name__)

T = TypeVar("T")

LIVENESS_TIMEOUT_S = 7.0  # a worker silent this long is presumed dead and its tasks requeued
HEARTBEAT_INTERVAL_S = 3.0  # also how often this worker looks for dead ones: tasks back within 10 s
MAX_DELIVERIES = 3  # a task whose worker died this many times is set aside
MAX_CONCURRENCY = 10_000
MAX_THREADS = 1_000
MAX_LIVENESS_S = 86_400.0  # the longest liveness timeout (and heartbeat interval) taken: a day
MAX_MAX_DELIVERIES = 1_000_000


def _positive(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= MAX_LIVENESS_S:
        raise ConfigurationError(f"{name} must be a positive number of seconds up to {MAX_LIVENESS_S:g}, got {value!r}")
    return value


def _whole(name: str, value: int, most: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
        raise ConfigurationError(f"{name} must be a whole number from 1 to {most:,}, got {value!r}")
    return value


class Worker(Stopping):
    """Runs the tasks of one or more queues, one at a time (or more: ``threads``, ``concurrency``), always
    from the first non-empty queue.

    Args:
        redis_client: the connection; ``yotaq.connect(url)`` makes a suitable one.
        queues: the queues to take tasks from, in priority order.
        secret: when given, only messages signed with it are run (anything else is set aside), and results signed.
        burst: stop when no task is pending or scheduled instead of waiting for more.
        liveness_timeout: seconds without a heartbeat after which this worker counts as dead.
        heartbeat_interval: seconds between heartbeats (and between looks for dead workers); by default
            ``HEARTBEAT_INTERVAL_S``, or half of ``liveness_timeout`` if that is shorter. A dead worker's
            tasks are given back within ``liveness_timeout`` plus this.
        max_deliveries: how many times a task may lose its worker before it is set aside.
        name: this worker's id; host, pid and a random suffix by default.
        watchdog: told each task's time limit, for a supervising process to enforce it even on
            code that Python's signals cannot interrupt.
        shards: how many shards each of the queues has (as its producers say); the worker takes
            from every shard in turn, starting from a random one, so that none starves; 1 by default.
        replicas: count an outcome recorded only once this many replicas have it (Redis ``WAIT``); 0 by default.
        settings: ``secret``, ``shards`` and ``replicas`` at once, as a ``yotaq.Settings`` (the one its
            producers were given; then give none of the three).
        hooks: ``yotaq.Hook`` objects, told when the worker starts and stops and around each task.
        concurrency: how many ``async def`` tasks may run at once on the worker's event loop (see
            ``pool``); without ``threads`` functions run one at a time whatever it is.
        threads: how many plain functions may run at once, each in a thread of this process (see
            ``threads``); 1 runs them in the main thread, one at a time.
    """

    def __init__(
        self,
        redis_client: Client,
        queues: Sequence[str] = ("tasks",),
        *,
        secret: str | bytes | None = None,
        burst: bool = False,
        liveness_timeout: float = LIVENESS_TIMEOUT_S,
        heartbeat_interval: float | None = None,
        max_deliveries: int = MAX_DELIVERIES,
        name: str | None = None,
        watchdog: Watchdog | None = None,
        shards: int | None = None,
        replicas: int | None = None,
        hooks: Sequence[Hook] = (),
        concurrency: int = 1,
        threads: int = 1,
        settings: Settings | None = None,
    ) -> None:
        self.settings = Settings.of(settings, secret, shards, replicas)
        secret, shards, replicas = self.settings.secret, self.settings.shards, self.settings.replicas
        if isinstance(queues, str) or not queues:
            raise ConfigurationError(f"queues must be a non-empty list of queue names, got {queues!r}")
        self._groups = [QueueKeys.of(queue, shards) for queue in queues]  # in priority order
        self.queues = [keys for group in self._groups for keys in group]
        self._turn = random.randrange(shards)  # the shard each group is looked at from first
        self.broker = Broker(redis_client, replicas=replicas)
        self.burst = burst
        if heartbeat_interval is None:
            heartbeat_interval = min(HEARTBEAT_INTERVAL_S, _positive("liveness_timeout", liveness_timeout) / 2)
        if _positive("heartbeat_interval", heartbeat_interval) >= _positive("liveness_timeout", liveness_timeout):
            raise ConfigurationError("heartbeat_interval must be shorter than liveness_timeout")
        max_deliveries = _whole("max_deliveries", max_deliveries, MAX_MAX_DELIVERIES)
        self.liveness = Liveness(liveness_timeout, heartbeat_interval, max_deliveries)
        self.name = check_name("worker name", name or f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
        self.counts: Counter[str] = Counter()
        self._secret = serializer.as_secret(secret)
        self._watchdog = watchdog
        self._hooks = Hooks(hooks)
        self.concurrency = _whole("concurrency", concurrency, MAX_CONCURRENCY)
        self.threads = _whole("threads", threads, MAX_THREADS)
        self._outage_retry = OutageRetry(None, sleep=self._sleep)
        # Made by run(), in the thread that runs the tasks (signals), afresh for each run
        self._batch: Batch
        self._shards: Shards
        self._runner: TaskRunner
        self._tasks: TaskHandler
        self._stopping = False
        self._stop_requested = threading.Event()  # ends a wait between tries through an outage (``stop``)
        self._stop_lock = threading.Lock()
        self._waiting = False  # blocked waiting (for work, or for Redis): a stop signal may interrupt at once
        self._blocked_on: int | None = None  # the connection waiting in Redis for work, for ``stop`` to wake
        self._watcher: QueueWatcher | None = None
        self._idle = False  # the last wait for work timed out
        self._shutting_down = False

    def __repr__(self) -> str:
        return f"Worker({self.name!r}, queues={[q.queue for q in self.queues]})"

    def run(self) -> None:
        """Run tasks until stopped by SIGINT/SIGTERM (or, in burst mode, until there are none left).

        The first signal stops leasing and lets the running task finish; a second one gives the
        running task back to the queue as well. Either way every task this worker holds and has
        not finished is returned to the head of its queue.
        """
        if self._secret is None:
            logger.warning(
                "no secret set: this worker runs any message it finds, so anyone who can write to "
                "this Redis can run code here (set YOTAQ_SECRET or secret=)"
            )
        self._stopping = self._shutting_down = self._idle = False
        self._stop_requested.clear()
        self._batch = Batch()
        self._shards = Shards(self.broker, self.name, self._batch, self.queues)
        runner_watchdog, threads_watchdog = self._watchdog, None
        if self._watchdog is not None and self.threads > 1:
            from .flight import watchdogs  # (many at once: see _loop)

            runner_watchdog, threads_watchdog = watchdogs(self._watchdog)
        self._runner = TaskRunner(runner_watchdog)
        self._tasks = TaskHandler(
            self.broker, self.name, self._secret, self._batch, self._runner, self._until_done, self.counts, self._hooks
        )
        maintenance = Maintenance(
            self.broker, self.queues, self.name, self.liveness, self._batch, self._secret, self._tasks.cancel,
            self.counts,
        )  # fmt: skip
        self._shards.rejoined = maintenance.beat
        handlers = self._install_signal_handlers()
        several = self.concurrency > 1 or self.threads > 1
        watcher = None
        if len(self.queues) > 1 or several:  # a wait on several queues, or for free slots (imported then)
            from .watch import QueueWatcher

            watcher = QueueWatcher(self.broker, self.queues)
        self._watcher = watcher
        crashed = replaced = False
        try:
            self._until_done(self._agree_shards)
            self._until_done(self._tasks.learn_limits)
            self._until_done(maintenance.beat)
            maintenance.start()
            logger.info("%r started", self)
            self._hooks.on_worker_start(self.name, [group[0].queue for group in self._groups])
            self._loop(watcher, maintenance, threads_watchdog)
        except StopRequested:
            if self._batch.running is not None:
                logger.warning("stopped during job %s: it goes back to its queue", self._batch.running.job_id)
        except ProcessReplaced:
            replaced = True
        except BaseException:
            crashed = True
            raise
        finally:
            self._shutting_down = True
            maintenance.stop()
            if watcher is not None:
                watcher.close()
            try:
                self._send_acks(every_queue=True)
                if crashed and self._tasks.current is not None:
                    self._give_back_counted(self._tasks.current)
                self._give_back_all(maintenance)
            except RedisUnavailable as exc:
                logger.warning(
                    "could not give tasks back (%s): they return to the queue once this worker's heartbeat lapses", exc
                )
            finally:
                self._tasks.close()
                for signum, handler in handlers.items():
                    signal.signal(signum, handler)
                restore_in_a_forked_child({})
            logger.info("%r stopped: %s", self, dict(self.counts) or "no tasks")
            self._hooks.on_worker_stop(self.name)
        if replaced:
            exit_replaced()

    def _loop(self, watcher: QueueWatcher | None, maintenance: Maintenance, watchdog: Watchdog | None) -> None:
        if self.concurrency > 1 or self.threads > 1:
            from .flight import loop_in_flight  # imported when many run at once, with its pools

            loop_in_flight(self, watcher, maintenance, watchdog)
            return
        while not self._stopping:
            try:
                if self._lease(watcher):
                    return  # a burst run, over
            except RedisUnavailable as exc:
                logger.warning("Redis unreachable (%s); retrying until it is back", exc)
                # A lost reply to a lease may leave a message in our active list unknown to us: give all back
                self._until_done(lambda: self._rejoin(maintenance), failing=True)
                continue
            while not self._stopping and (leased := self._batch.next()) is not None:
                self._tasks.process(*leased)
                if self._batch.acks_due():
                    self._until_done(self._send_acks)
            # The batch's acknowledgements go out with the next lease, in one round trip.

    def _lease(self, watcher: QueueWatcher | None, *, size: int | None = None, wait: bool = True) -> bool:
        """Lease the next task(s) into the batch (``size`` at most, or as the batch sees fit), waiting up to
        ``IDLE_WAIT_S`` when there are none (unless ``wait``); whether a burst run is over (if none came)."""
        size = self._batch.size() if size is None else size
        # A wait that found nothing is followed by another, not by a lease that would find nothing either
        # (nothing has finished since: there is nothing to acknowledge)
        for keys in [] if wait and self._idle else self._in_turn():  # in priority order, acknowledging
            if (leases := self._shards.lease(keys, size)) is None:
                continue  # its node fails: the other queues are served meanwhile
            self._tasks.lost_leases(leases.lost, "done")
            if leases.messages:
                self._batch.add(keys, leases)
                self._send_acks()  # those of the queues not looked at
                return False
        # A lease may find nothing to run though jobs were pending (cancelled ones it dropped): a burst run
        # then ends here rather than waiting for work it would not stay for
        over = wait and self.burst and self._burst_over()
        if not wait or over:
            return over
        self._waiting = True  # from here a stop signal interrupts the wait; before, it is seen here
        try:
            if self._stopping:
                return False
            if watcher is None:
                first = self.queues[0]
                leases = self.broker.lease_blocking(first, self.name, IDLE_WAIT_S, self._blocked)
                self._batch.add(first, leases)
                self._idle = not leases.messages
            else:
                self._idle = not watcher.wait(IDLE_WAIT_S)
        finally:
            self._waiting = False
        return False

    def _agree_shards(self) -> None:
        for group in self._groups:
            self.broker.agree_shards(group[0], len(group), "worker")

    def _in_turn(self) -> list[QueueKeys]:
        """The queues in priority order; the shards of each from a shard that moves on every lease. Those
        whose node failed are left out until their pause is over (``Shards``)."""
        self._turn += 1
        in_turn = [group[(self._turn + i) % len(group)] for group in self._groups for i in range(len(group))]
        return [keys for keys in in_turn if self._shards.ready(keys)]

    def _burst_over(self) -> bool:
        """Whether a burst run has nothing left: recording outcomes first, as that may enqueue dependents."""
        self._until_done(self._send_acks)
        return self._until_done(lambda: self.broker.waiting(self.queues)) == 0

    def _send_acks(self, *, every_queue: bool = False) -> None:
        """Acknowledge the finished tasks now, one script call per queue. Those of a queue whose node
        fails are kept for later (``Shards``), unless ``every_queue``: then its failure raises."""
        taken = self._batch.take_acks()
        try:
            for keys, acks in list(taken.items()):
                if every_queue:
                    lost: list[str] | None = self.broker.ack_and_lease(keys, self.name, acks, 0).lost
                else:
                    lost = self._shards.acknowledge(keys, acks)
                if lost is None:
                    continue  # its node fails: kept for later
                self._tasks.lost_leases(lost, "done")
                del taken[keys]
        finally:
            self._batch.restore_acks(taken)

    def _rejoin(self, maintenance: Maintenance) -> None:
        self._batch.take_unstarted()
        self._send_acks(every_queue=True)  # finished work is recorded before the rest is given back
        self._give_back_all(maintenance)
        maintenance.beat()
        self._shards.reset()

    def _give_back_counted(self, keys: QueueKeys) -> None:
        """The worker is going down in the middle of a task: give that task back as a reaper would,
        counting a delivery, so that a task that takes its worker down is set aside in the end."""
        unstarted = [message for queue, message, _ in self._batch.take_unstarted() if queue == keys]
        if unstarted:
            self.broker.unlease(keys, self.name, unstarted)
        reaped = reap(self.broker, keys, self.name, self.liveness.max_deliveries, self._secret, force=True)
        logger.error("worker going down in the middle of a task: gave it back, counting a delivery (%s)", reaped)

    def _give_back_all(self, maintenance: Maintenance) -> None:
        """Give back every task this worker holds and deregister it."""
        maintenance.deregistered()
        failure: RedisUnavailable | None = None
        for keys in self.queues:
            try:
                given = self.broker.give_back_all(keys, self.name)
            except RedisUnavailable as exc:  # one failing node (a Redis Cluster's): the others all the same
                failure = failure or exc
                continue
            if given:
                logger.info("gave %d unfinished task(s) back to %r", given, keys.queue)
        if failure is not None:
            raise failure
        maintenance.leave()

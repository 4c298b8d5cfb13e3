"""Many tasks at once: the worker's loop with ``concurrency`` (coroutines on its event loop) or ``threads``
(functions in threads), or both. It leases no more tasks than there are free slots, starts each, and
records each as it ends; acknowledgements stay batched (they go with the next lease). On a stop it
leases no more and lets those in flight finish. A thread stuck past its time limit has the process
replaced (``ThreadPool``): the stuck task is recorded as ended by its limit, every other task this
worker holds is given back at once, and the process exits with ``EXIT_STUCK`` for its supervisor (or
whatever runs it) to start a fresh one. Imported by ``Worker`` when it runs many at once: one at a time
needs none of this.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..broker import QueueKeys
from ..exceptions import RedisUnavailable
from .batch import ACK_DELAY_S
from .pool import AsyncPool
from .stopping import IDLE_WAIT_S, ProcessReplaced
from .task import ReadyTask, StopRequested, TaskHandler
from .threads import STUCK_THREAD_GRACE_S, ThreadPool
from .timelimit import TaskCancelled, TaskRunner, Watchdog

if TYPE_CHECKING:
    from .loop import Worker
    from .maintenance import Maintenance
    from .watch import QueueWatcher

logger = logging.getLogger(__name__)

# A thread whose task ends waits at most this share of a task's average duration, and GATHER_MAX_S, for others
# to end, so that one lease serves them all: a few percent of each thread's time for fewer round trips
GATHER_SHARE = 0.05
GATHER_MAX_S = 0.002
# ... unless this many have ended already: a lease for them all is worth sending at once (many threads end
# within one lease's round trip, and waiting longer would hold all of them idle)
GATHER_ENOUGH = 8
# Outcomes recorded before the next lease, at most (about 2 ms of recording): when many threads end at once
# (tasks of one length started together end together, round after round), one lease serves them all, as
# a lease's round trip costs as much as recording dozens of outcomes; yet with hundreds of threads the first
# of them get new work after a few milliseconds, not after all of them are recorded
RECORD_AT_ONCE = 64


class Flight:
    """The tasks in flight: coroutines on the event loop (``AsyncPool``) while it has free slots and, with
    threads, functions (and coroutines beyond those slots) in threads (``ThreadPool``). Without threads a
    function runs in the main thread, to its end, as it starts."""

    def __init__(
        self,
        tasks: TaskHandler,
        runner: TaskRunner,
        concurrency: int,
        threads: int,
        watchdog: Watchdog | None,
        thread: Callable[..., threading.Thread],
    ) -> None:
        self._tasks = tasks
        self.coroutines = AsyncPool(tasks, runner, concurrency) if concurrency > 1 or threads == 1 else None
        self.threads: ThreadPool | None = None
        if threads > 1:
            coroutines = self.coroutines
            self.threads = ThreadPool(
                threads, runner, watchdog, (lambda: None) if coroutines is None else coroutines.end_wait, thread
            )

    def free(self) -> int:
        """How many more tasks to lease now."""
        return self.threads.free() if self.threads is not None else self._async.free()

    def busy(self) -> bool:
        return any(pool is not None and pool.busy() for pool in (self.coroutines, self.threads))

    @property
    def _async(self) -> AsyncPool:
        assert self.coroutines is not None  # there is an event loop whenever there are no threads
        return self.coroutines

    def start(self, keys: QueueKeys, message: bytes, known: bool) -> None:
        if self.threads is None:
            self._async.start(keys, message, known)
            return
        if not known:
            self._tasks.process(keys, message, known)
            return
        ready = self._tasks.begin(keys, message)
        if ready is None:
            return
        coroutines = self.coroutines
        if coroutines is not None and coroutines.free() > 0 and inspect.iscoroutinefunction(ready.task.fn):
            coroutines.start_ready(ready)
        else:
            self.threads.start(ready)

    def expect_work(self) -> None:
        for pool in (self.coroutines, self.threads):
            if pool is not None:
                pool.expect_work()

    def work_came(self) -> None:
        for pool in (self.coroutines, self.threads):
            if pool is not None:
                pool.work_came()

    def wait(self, timeout: float, *, for_work: bool, average_task_s: float = 0.0) -> None:
        """Until a task ends (and is recorded), ``timeout`` passes, or (``for_work``) work came. Functions that
        end within ``GATHER_SHARE`` of a task's average duration (``GATHER_MAX_S`` at most) of each other are
        recorded, and their threads given new work, together: one lease for several threads."""
        threads = self.threads
        if threads is None:
            self._async.wait(timeout, for_work=for_work)
            return
        if not threads.ready():
            if self.coroutines is not None and self.coroutines.busy():
                self.coroutines.wait(timeout, for_work=for_work)
            else:
                gather_s = min(GATHER_MAX_S, GATHER_SHARE * average_task_s)
                threads.wait(timeout, for_work=for_work, gather_s=gather_s, enough=GATHER_ENOUGH)
        self.record_ended(RECORD_AT_ONCE)

    def record_ended(self, most: int | None = None) -> None:
        """Record the outcomes of the functions that ended in threads (``most`` of them at most)."""
        if self.threads is not None:
            for ready, value, raised in self.threads.take(most):
                self._tasks.end(ready, value, raised)

    def stuck(self) -> list[tuple[ReadyTask, type[BaseException]]]:
        return [] if self.threads is None else self.threads.stuck()

    def cancel(self, job_id: str) -> bool:
        """Interrupt the task of ``job_id`` if it runs here, coroutine or thread (any thread)."""
        return any(pool is not None and pool.cancel(job_id) for pool in (self.coroutines, self.threads))

    def close(self) -> None:
        if self.threads is not None:
            self.threads.close()


def watchdogs(watchdog: Watchdog) -> tuple[Watchdog, Watchdog]:
    """The watchdogs of a worker with threads: its main thread's runner's and its threads', one each of a
    shared one (``watchdog``)."""
    shared = SharedWatchdog(watchdog)
    return shared.armer(), shared.armer()


def loop_in_flight(
    worker: Worker, watcher: QueueWatcher | None, maintenance: Maintenance, watchdog: Watchdog | None
) -> None:
    """``worker``'s loop: keep up to ``concurrency`` coroutines and ``threads`` functions in flight: lease as
    many as there are free slots, wait until one ends, record it; on a stop, let those in flight finish."""
    flight = Flight(worker._tasks, worker._runner, worker.concurrency, worker.threads, watchdog, worker.broker.thread)
    worker._tasks.cancel_coroutine = flight.cancel
    assert watcher is not None  # made for every worker that runs several tasks at once
    watcher.on_work = flight.work_came
    try:
        while not worker._stopping or flight.busy():
            if not worker._stopping and flight.free():
                try:
                    if worker._lease(watcher, size=flight.free(), wait=not flight.busy()):
                        return  # a burst run, over
                except RedisUnavailable as exc:
                    logger.warning("Redis unreachable (%s); retrying until it is back", exc)
                    if flight.busy():
                        worker._until_done(lambda: _give_back_strays(worker), failing=True)
                    else:  # nothing running: give everything back, as the plain loop does
                        worker._until_done(lambda: worker._rejoin(maintenance), failing=True)
                    continue
                while (leased := worker._batch.next()) is not None:
                    flight.start(*leased)
                if flight.busy() and flight.free():  # to be woken as soon as work comes for the free slots
                    flight.expect_work()
                    watcher.arm()
            timeout = ACK_DELAY_S if worker._batch.unsent() else IDLE_WAIT_S
            flight.wait(
                timeout,
                for_work=flight.free() > 0 and not worker._stopping,
                average_task_s=worker._batch.average_task_s,
            )
            if stuck := flight.stuck():
                _replace_process(worker, flight, stuck)
            if worker._batch.acks_due():
                worker._until_done(worker._send_acks)
    except StopRequested:
        flight.record_ended()  # what finished is recorded before the rest is given back
        raise
    finally:
        flight.close()


def _replace_process(worker: Worker, flight: Flight, stuck: list[tuple[ReadyTask, type[BaseException]]]) -> None:
    """Record each stuck task as ended by its time limit (or cancel), and those that ended; then raise
    ``ProcessReplaced``, for ``run`` to give back the rest and ``exit_replaced`` to end the process."""
    for ready, interruption in stuck:
        logger.critical(
            "job %s is still running %g s after its %s (stuck in a C call?): it is recorded as %s, the "
            "other tasks of this worker are given back, and its process is replaced",
            ready.task.id,
            STUCK_THREAD_GRACE_S,
            "cancel" if interruption is TaskCancelled else "time limit",
            "cancelled" if interruption is TaskCancelled else "having run past its time limit",
        )
    flight.record_ended()
    for ready, interruption in stuck:
        worker._tasks.end(ready, None, interruption())
    raise ProcessReplaced


def _give_back_strays(worker: Worker) -> None:
    """After a lease whose reply was lost while tasks run, give back what it may have leased: every
    message held but not running, once the finished ones are acknowledged, for a lease to take again."""
    with worker._batch.handover:
        worker._send_acks(every_queue=True)
        for keys in worker.queues:
            if given := worker._shards.give_back_strays(keys):
                logger.warning("gave back %d task(s) a lease took while its reply was lost", given)
    worker._shards.reset()


class SharedWatchdog:
    """One watchdog armed by several (the main thread's runner, the time-limit thread): it is told the
    earliest deadline of theirs, and the job of that deadline if it can be told one (``name_job``)."""

    def __init__(self, watchdog: Watchdog) -> None:
        self._watchdog = watchdog
        self._name_job = getattr(watchdog, "name_job", None)
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, str]] = {}  # by armer: (deadline, job id)
        self._armers = 0

    def armer(self) -> _Armer:
        self._armers += 1
        return _Armer(self, self._armers)

    def arm(self, armer: int, seconds: float, job_id: str) -> None:
        with self._lock:
            self._armed[armer] = (time.monotonic() + seconds, job_id)
            self._tell()

    def disarm(self, armer: int) -> None:
        with self._lock:
            self._armed.pop(armer, None)
            self._tell()

    def _tell(self) -> None:
        if not self._armed:
            self._watchdog.disarm()
            return
        deadline, job_id = min(self._armed.values())
        if self._name_job is not None:
            self._name_job(job_id)
        self._watchdog.arm(max(0.0, deadline - time.monotonic()))


class _Armer:
    """One armer's ``Watchdog`` of a ``SharedWatchdog``."""

    def __init__(self, shared: SharedWatchdog, key: int) -> None:
        self._shared, self._key, self._job = shared, key, ""

    def name_job(self, job_id: str) -> None:
        self._job = job_id

    def arm(self, seconds: float) -> None:
        self._shared.arm(self._key, seconds, self._job)

    def disarm(self) -> None:
        self._shared.disarm(self._key)

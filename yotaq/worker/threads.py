"""Plain functions in threads: how a worker with ``threads=N`` runs up to N at once.

The main thread leases no more tasks than there are idle threads, reads each (``TaskHandler.begin``)
and hands it to one; the thread calls the function, with ``current_job()`` its task's, and hands the
outcome back; the main thread records it (``TaskHandler.end``). So the batch, the hooks and the calls
that record outcomes stay in the main thread, as with one thread; a thread talks to Redis only for its
task's progress, through a client of its own (``ThreadClients``). A thread whose task ends wakes the main
thread only when that ends its wait (the first outcome, or the last it gathers): those that end while it
records or leases are found there when it next looks, with no wake-up each.

Time limits: one more thread (``yotaq-time-limits``) sleeps until the earliest deadline in flight and
raises ``TimeLimitExceeded`` in the thread past it (``PyThreadState_SetAsyncExc``; a cancel raises
``TaskCancelled`` the same way), again every ``REALARM_S`` while it runs on. That reaches Python code at
its next bytecode, but not a thread stuck in a C call (``time.sleep``, a socket read): one still running
``STUCK_THREAD_GRACE_S`` past its limit is *stuck*, and the worker replaces its process (``flight``):
the stuck task is recorded as having run past its limit, its siblings are given back at once. A
supervisor's watchdog is told the earliest deadline, later again by ``REPLACE_MARGIN_S``: it kills
only a process that cannot replace itself (a thread that holds the GIL in C).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..current import reset_current, set_current
from .interrupts import RAISED, REACHED, RESIGNAL_S, let_through, raise_in
from .task import ReadyTask, StopRequested
from .timelimit import (
    REALARM_S,
    TaskCancelled,
    TaskRunner,
    TimeLimitExceeded,
    Watchdog,
    leave_signals_to_the_main_thread,
)

logger = logging.getLogger(__name__)

STUCK_THREAD_GRACE_S = 2.0  # past its limit (or cancel), how long a task has to stop before its process is replaced
JOIN_S = 1.0  # how long a closing pool waits, at most, for its idle threads to end
REPLACE_MARGIN_S = 1.0  # the supervisor is told each deadline this much later still: time to replace itself

_NOBODY_WAITS = 1 << 30  # more outcomes than there are ever threads: the main thread waits for none

Outcome = tuple[ReadyTask, Any, BaseException | None]


@dataclass
class _Call:
    """A task running in a thread, its deadline and, once interrupted, how and since when (monotonic)."""

    ready: ReadyTask
    ident: int
    deadline: float | None
    interruption: type[BaseException] | None = None
    since: float = 0.0
    next_at: float | None = None  # when the time-limit thread looks at it next
    outstanding: bool = False  # raised in its thread, not taken there yet
    again_at: float = 0.0  # when to raise it anew

    def __post_init__(self) -> None:
        self.next_at = self.deadline


class ThreadPool:
    """``threads`` threads running plain functions, each within its time limit; driven by the main thread."""

    def __init__(
        self,
        threads: int,
        runner: TaskRunner,
        watchdog: Watchdog | None,
        on_outcome: Callable[[], None],
        thread: Callable[..., threading.Thread],
    ) -> None:
        """``thread``: how to make a thread (``Broker.thread``, so that a task's Redis client goes back to
        its pool as the thread ends)."""
        self._size = threads
        self._runner = runner  # remembers the cancels of jobs not started yet
        self._watchdog = watchdog
        self._name_job = getattr(watchdog, "name_job", None)
        self._on_outcome = on_outcome  # wakes the main thread where it waits (its event loop)
        self._lock = threading.Lock()
        self._outcome_ready = threading.Condition(self._lock)  # the main thread waits on it
        self._limits_changed = threading.Condition(self._lock)  # the time-limit thread waits on it
        self._inbox: queue.SimpleQueue[ReadyTask | None] = queue.SimpleQueue()
        self._calls: dict[int, _Call] = {}  # by thread ident
        self._outcomes: list[Outcome] = []
        # How many outcomes would end the main thread's wait: a thread wakes it only then, not at each
        self._wanted = _NOBODY_WAITS
        self._stuck: list[_Call] = []
        self._handed = 0  # tasks handed to threads and not yet taken back (main thread only)
        self._work_came = False
        self._closed = False
        self._threads = [thread(self._serve, name=f"yotaq-thread-{i}") for i in range(threads)]
        self._threads.append(thread(self._keep_limits, name="yotaq-time-limits"))
        for started in self._threads:
            started.start()

    # -- the main thread -----------------------------------------------------------------------

    def free(self) -> int:
        return self._size - self._handed

    def busy(self) -> bool:
        return self._handed > 0

    def start(self, ready: ReadyTask) -> None:
        self._handed += 1
        self._inbox.put(ready)

    def expect_work(self) -> None:
        with self._lock:
            self._work_came = False

    def work_came(self) -> None:
        """End ``wait`` (any thread): there is work for the idle threads."""
        with self._lock:
            self._work_came = True
            self._outcome_ready.notify_all()

    def ready(self) -> bool:
        """Whether ``take`` has something (an outcome, or a stuck task), without waiting."""
        return bool(self._outcomes or self._stuck)

    def wait(self, timeout: float, *, for_work: bool, gather_s: float = 0.0, enough: int = 1) -> None:
        """Until a task ends or is stuck, ``timeout`` passes or (``for_work``) work came; then, while fewer
        than ``enough`` have ended and others run, up to ``gather_s`` more for more of them to end, to lease
        for several threads at once. With nothing in flight it returns at once, as ``AsyncPool.wait`` does:
        the worker waits for work in its lease, where a stop ends the wait, and a stop that came just before
        this would end nothing here."""
        if not self._handed:
            return
        with self._lock:
            self._wanted = 1
            self._outcome_ready.wait_for(
                lambda: self._outcomes or self._stuck or (for_work and self._work_came) or self._closed, timeout
            )
            wanted = min(enough, self._handed)
            if gather_s > 0 and 0 < len(self._outcomes) < wanted and not self._stuck:
                self._wanted = wanted
                self._outcome_ready.wait_for(
                    lambda: len(self._outcomes) >= wanted or self._stuck or self._closed, gather_s
                )
            self._wanted = _NOBODY_WAITS

    def take(self, most: int | None = None) -> list[Outcome]:
        """The outcomes of the tasks that ended since the last look (``most`` of them at most), in the
        order they ended."""
        with self._lock:
            taken = self._outcomes[:most]
            self._outcomes = self._outcomes[len(taken) :]
        self._handed -= len(taken)
        return taken

    def stuck(self) -> list[tuple[ReadyTask, type[BaseException]]]:
        """The tasks still running ``STUCK_THREAD_GRACE_S`` past their limit or cancel, and which it was."""
        with self._lock:
            return [(call.ready, call.interruption or TimeLimitExceeded) for call in self._stuck]

    def cancel(self, job_id: str) -> bool:
        """Interrupt the task of ``job_id`` with ``TaskCancelled`` (any thread); whether it runs here. One
        handed to a thread and not started yet is stopped as it starts (``TaskRunner.cancel`` remembers it)."""
        self._runner.cancel(job_id)  # first: a thread that starts it from now on sees it
        with self._lock:
            for call in self._calls.values():
                if call.ready.task.id == job_id:
                    self._interrupt(call, TaskCancelled, time.monotonic())
                    self._limits_changed.notify()
                    return True
        return False

    def close(self) -> None:
        """Let the threads end; those still in a task (given back: a second stop signal, or the process is
        being replaced) have it interrupted, and what they return is dropped; one handed over and not
        started is not started. All are joined, ``JOIN_S`` at most in all: a thread ending as the interpreter
        exits can be frozen holding the lock of a redis-py pool (its Redis client goes back to the pool as
        the thread ends), and the exit then waits on that lock for ever. One stuck in C ends with the process."""
        with self._lock:
            self._closed = True
            for call in self._calls.values():
                call.interruption = StopRequested
                raise_in(call.ident, RAISED[StopRequested])
            self._limits_changed.notify_all()
            self._outcome_ready.notify_all()
        for _ in range(self._size):
            self._inbox.put(None)
        joined_by = time.monotonic() + JOIN_S
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(joined_by - time.monotonic(), 0.0))

    # -- the threads ---------------------------------------------------------------------------

    def _serve(self) -> None:
        leave_signals_to_the_main_thread()
        ident = threading.get_ident()
        while (ready := self._inbox.get()) is not None:
            try:
                value, raised = self._call(ready, ident)
            except BaseException as exc:  # an interruption that came as the task ended: the task's outcome
                value, raised = None, exc
            with self._lock:
                if self._closed:
                    return
                self._outcomes.append((ready, value, raised))
                if len(self._outcomes) >= self._wanted:
                    self._wanted = _NOBODY_WAITS  # woken: the others that end before it looks need not
                    self._outcome_ready.notify()
            self._on_outcome()

    def _call(self, ready: ReadyTask, ident: int) -> tuple[Any, BaseException | None]:
        task, timeout = ready.task, ready.options.timeout
        call = _Call(ready, ident, None if timeout is None else time.monotonic() + timeout)
        token = set_current(ready.current)
        value: Any = None
        raised: BaseException | None = None
        try:
            try:
                with self._lock:
                    if self._closed:  # given back by the stop (a second signal, a replacement): not run here
                        raise StopRequested
                    self._calls[ident] = call
                    self._deadlines_changed(call)
                # After it is known to run: a cancel from now on interrupts it, one from before is seen here
                if self._runner.cancel_asked(task.id):
                    raise TaskCancelled()
                value = task.fn(*task.args, **task.kwargs)
                if inspect.isawaitable(value):  # an async def given a thread (the event loop's slots are full)
                    value = asyncio.run(_awaited(value))
            except BaseException as exc:  # whatever a task raises is its outcome
                value, raised = None, exc
        finally:
            # Until it has gone through: an interruption can reach the thread at any call until then (even
            # on entering _settle), and the thread must not serve another task with one on its way
            while True:
                try:
                    self._settle(call)
                    break
                except BaseException:  # an interruption that reached it just as it ended: noted already
                    continue
            reset_current(token)
        if call.interruption is not None and (raised is None or isinstance(raised, Exception)):
            return None, call.interruption()  # it swallowed its time limit (or cancel)
        return value, raised

    def _settle(self, call: _Call) -> None:
        """The call is over: from here no interruption is raised in its thread, and one on its way is let
        through (``let_through``)."""
        with self._lock:
            self._calls.pop(call.ident, None)
            if call in self._stuck:
                self._stuck.remove(call)
            self._deadlines_changed(call)
        if call.interruption is not None:
            let_through(call.ident)

    # -- time limits ---------------------------------------------------------------------------

    def _keep_limits(self) -> None:
        """Interrupt each task past its deadline, again every ``REALARM_S``; one still running
        ``STUCK_THREAD_GRACE_S`` after its first interruption is stuck: the main thread is told."""
        leave_signals_to_the_main_thread()
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                for call in list(self._calls.values()):
                    if call.next_at is not None and call.next_at <= now:
                        self._interrupt(call, TimeLimitExceeded, now)
                upcoming = [call.next_at for call in self._calls.values() if call.next_at is not None]
                self._limits_changed.wait(max(0.0, min(upcoming) - now) if upcoming else None)

    def _interrupt(self, call: _Call, interruption: type[BaseException], now: float) -> None:
        """Raise the call's interruption in its thread, or find it stuck (the lock held)."""
        if call.interruption is None:
            call.interruption, call.since = interruption, now
        elif now - call.since >= STUCK_THREAD_GRACE_S:
            if call not in self._stuck:
                self._stuck.append(call)
                self._outcome_ready.notify_all()
                self._on_outcome()
            call.next_at = None
            return
        if call.outstanding and call.ident in REACHED:
            call.outstanding = False
        if not call.outstanding and now >= call.again_at:  # the first, or REALARM_S after the last one taken
            REACHED.discard(call.ident)
            call.outstanding, call.again_at = True, now + REALARM_S
        if call.outstanding:
            raise_in(call.ident, RAISED[call.interruption])
        wake = now + RESIGNAL_S if call.outstanding else call.again_at
        call.next_at = min(wake, call.since + STUCK_THREAD_GRACE_S)

    def _deadlines_changed(self, changed: _Call) -> None:
        """``changed`` started or ended: tell the time-limit thread, and the watchdog, the earliest deadline
        in flight (the lock held)."""
        if changed.deadline is None:
            return
        self._limits_changed.notify()
        if self._watchdog is None:
            return
        timed = [call for call in self._calls.values() if call.deadline is not None]
        if not timed:
            self._watchdog.disarm()
            return
        first = min(timed, key=lambda call: call.deadline or 0.0)
        if self._name_job is not None:
            self._name_job(first.ready.task.id)
        assert first.deadline is not None
        self._watchdog.arm(max(0.0, first.deadline - time.monotonic()) + STUCK_THREAD_GRACE_S + REPLACE_MARGIN_S)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable

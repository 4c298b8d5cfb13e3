"""Running one task within its time limit.

A function is stopped by SIGALRM, which raises ``TimeLimitExceeded`` in the main thread (a
``BaseException``, so that a task's own ``except Exception`` cannot swallow it). A task that
swallows even that gets it again every ``REALARM_S``, fails even if it then returns, and after
``STUCK_GRACE_S`` its worker exits: the task is given back with a delivery counted, like any task
that takes its worker down, so it is set aside in the end.

A coroutine (an ``async def`` task returns one at once) runs on the worker's event loop, within the
same rules (``coroutines.Coroutines``, imported by the first one).

Code that holds the GIL in C never sees a signal, and a coroutine that blocks its loop stops
every timer: for those, a supervising process is told each deadline (``Watchdog``) and kills the
worker when it passes.

A task may fork. The child carries on in the task's code, and must never come back into the
worker's: it would acknowledge, lease and run tasks as a second worker under the first one's name.
So a process that leaves a task and is not the one that started it exits there and then
(``os._exit``: no acknowledgement, no ``finally`` or ``atexit`` of the worker's).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from ..exceptions import Interrupted
from ..serializer import Task

if TYPE_CHECKING:
    from .coroutines import Coroutines

logger = logging.getLogger(__name__)

REALARM_S = 0.5
STUCK_GRACE_S = 5.0
EXIT_STUCK = 70  # the worker's exit status when a task would not stop (EX_SOFTWARE)
# A job cancelled just before it starts here is stopped as it starts: the worker remembers the ids
# of jobs cancelled lately, this many at most, for this long (a job id may be enqueued again later)
MAX_CANCELS_KEPT = 1_000
CANCEL_MEMORY_S = 10.0
EXIT_FORKED_RETURNED, EXIT_FORKED_RAISED = 0, 1  # a forked child's exit status as it leaves a task


class Watchdog(Protocol):
    """Told the latest moment the running task may still be running; see ``supervisor``. One that also
    has ``name_job(job_id)`` is told, before each ``arm``, the job whose deadline it is."""

    def arm(self, seconds: float) -> None: ...

    def disarm(self) -> None: ...


class TimeLimitExceeded(Interrupted):
    """Raised in the main thread when a task runs past its timeout."""


class TaskCancelled(Interrupted):
    """Raised in the main thread when the running task was cancelled (``Job.cancel``)."""


WORKER_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGALRM}
_replaced_handlers: dict[int, Any] = {}  # those the worker running in this process replaced


def restore_in_a_forked_child(handlers: dict[int, Any]) -> None:
    """Have a child that a task forks put back ``handlers``, the signal handlers the worker replaced
    (none once it has put them back itself): the child carries on in the task's code and must answer
    signals as the process did before, not with the worker's handlers acting on the worker's state it
    copied (a stop signal would have it give back the worker's tasks)."""
    _replaced_handlers.clear()
    _replaced_handlers.update(handlers)


def _in_a_forked_child() -> None:
    for signum, handler in _replaced_handlers.items():
        if handler is not None:
            signal.signal(signum, handler)
    _replaced_handlers.clear()


os.register_at_fork(after_in_child=_in_a_forked_child)


def leave_signals_to_the_main_thread() -> None:
    """Block the worker's signals in the calling thread (one of its helper threads).

    The kernel hands a process's signal to any thread that does not block it, and Python runs the
    handler in the main thread only when that thread next runs Python code: a signal taken by a
    helper thread would wait until a task blocked in ``time.sleep`` or a socket returned, so
    neither a time limit nor a second stop signal could interrupt it.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, WORKER_SIGNALS)


class TaskRunner:
    """Calls tasks, each within its time limit; one at a time, from the thread that made it."""

    def __init__(self, watchdog: Watchdog | None) -> None:
        self._watchdog = watchdog
        self._name_job = getattr(watchdog, "name_job", None)
        self._pid = os.getpid()  # the worker's: any other process leaving a task is a task's forked child
        self._signals = threading.current_thread() is threading.main_thread()
        self._coroutines: Coroutines | None = None
        self._running = False
        self._overdue = 0  # time-limit (or cancel) signals the running task has had
        self._job = ""  # the id of the job running now
        self._cancel = ""  # the id of a job cancelled while it ran: interrupt it as a time limit would
        # Ids of jobs cancelled lately, whether running or not: one leased and not started yet is
        # stopped as it starts, since its cancel comes only once
        self._cancels: collections.OrderedDict[str, float] = collections.OrderedDict()  # id: when (monotonic)
        self._cancels_lock = threading.Lock()
        self._awaiting: asyncio.Task[Any] | None = None

    @property
    def coroutines(self) -> Coroutines:
        """The coroutines on the worker's event loop, made for the first ``async def`` task."""
        if self._coroutines is None:
            from .coroutines import Coroutines

            self._coroutines = Coroutines(self._watchdog)
        return self._coroutines

    def install(self) -> signal.Handlers | Any:
        """Take SIGALRM (main thread only); returns the handler it replaced, to put back."""
        return signal.signal(signal.SIGALRM, self._on_alarm) if self._signals else None

    def call(self, task: Task, timeout: float | None) -> Any:
        """``task.fn(*args, **kwargs)``, awaited if it returns an awaitable, within ``timeout``.

        Raises:
            TimeLimitExceeded: it ran past ``timeout``.
            TaskCancelled: it was cancelled meanwhile (``cancel``).
        """
        self._arm(timeout, task.id)
        try:
            value = self._call(task, timeout)
            if inspect.isawaitable(value):
                self._running, self._job = True, task.id
                try:
                    value = self._await(value, timeout)
                finally:
                    self._running = False
            return value
        finally:
            self._disarm()

    def start(self, task: Task, timeout: float | None) -> Any:
        """``task.fn(*args, **kwargs)``, within ``timeout``: a function's value, or an ``async def``'s
        coroutine, not awaited yet (``Coroutines.start`` gives it its own time limit)."""
        self._arm(timeout, task.id)
        try:
            return self._call(task, timeout)
        finally:
            self._disarm()

    def _arm(self, timeout: float | None, job_id: str) -> None:
        """Tell the watchdog the time limit of what runs until ``_disarm`` (it kills what blocks even
        signals and the event loop). A ``try``/``finally`` in each caller, not a context manager: a
        generator's costs a few microseconds a task."""
        if timeout is not None and self._watchdog is not None:
            if self._name_job is not None:
                self._name_job(job_id)
            self._watchdog.arm(timeout)

    def _disarm(self) -> None:
        if self._watchdog is not None:
            self._watchdog.disarm()

    def _call(self, task: Task, timeout: float | None) -> Any:
        self._running, self._overdue, self._job = True, 0, task.id
        try:
            # After marking it running: a cancel from now on interrupts it, one from before is seen here
            if self.cancel_asked(task.id):
                self._cancel = task.id
                raise TaskCancelled()
            if timeout is not None and self._signals:
                signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                value = task.fn(*task.args, **task.kwargs)
            except BaseException:
                self._exit_if_forked(EXIT_FORKED_RAISED)
                raise
            finally:
                if (timeout is not None or self._overdue) and self._signals:  # the handler arms it again
                    signal.setitimer(signal.ITIMER_REAL, 0)
            self._exit_if_forked(EXIT_FORKED_RETURNED)
            if self._overdue:  # it swallowed its time limit (or cancel), and then returned
                raise self._interruption()
            return value
        finally:
            self._running = False

    @contextlib.contextmanager
    def this_process_only(self) -> Iterator[None]:
        """Run the block (a task, or the event loop running tasks); a child the task forked exits at its end."""
        try:
            yield
        except BaseException:
            self._exit_if_forked(EXIT_FORKED_RAISED)
            raise
        self._exit_if_forked(EXIT_FORKED_RETURNED)

    def _exit_if_forked(self, status: int) -> None:
        if os.getpid() != self._pid:
            os._exit(status)

    def _await(self, awaitable: Any, timeout: float | None) -> Any:
        # The watchdog is armed already, by call(), for the whole of this task
        self._awaiting = task = self.coroutines.start(awaitable, timeout, job_id=self._job)
        try:
            with self.this_process_only():
                self.coroutines.run([task], None, watched=False)
            value, raised = self.coroutines.outcome(task)
        finally:
            self._awaiting = None
        if raised is not None:
            raise raised
        return value

    @property
    def _cancelled(self) -> bool:
        return self._running and self._cancel == self._job

    def cancel(self, job_id: str) -> None:
        """Interrupt the task of ``job_id`` if it is the one running (from another thread): a coroutine
        is cancelled on its loop, a function gets ``TaskCancelled`` raised in it through SIGALRM (main
        thread only). The handler checks again, in the main thread, that it is still that task. A job
        not running yet is remembered, and stopped as it starts."""
        with self._cancels_lock:
            self._cancels[job_id] = time.monotonic()
            if len(self._cancels) > MAX_CANCELS_KEPT:
                self._cancels.popitem(last=False)
        if not self._running or self._job != job_id or self._cancel == job_id:
            return
        self._cancel = job_id
        awaiting = self._awaiting
        if awaiting is not None:
            self.coroutines.interrupt_soon(awaiting, TaskCancelled)
        elif self._signals and threading.main_thread().ident is not None:
            signal.pthread_kill(threading.main_thread().ident, signal.SIGALRM)  # type: ignore[arg-type]

    def cancel_asked(self, job_id: str) -> bool:
        with self._cancels_lock:
            asked_at = self._cancels.pop(job_id, None)
        return asked_at is not None and time.monotonic() - asked_at < CANCEL_MEMORY_S

    def _interruption(self) -> BaseException:
        return TaskCancelled() if self._cancelled else TimeLimitExceeded()

    def close(self) -> None:
        if self._coroutines is not None:
            self._coroutines.close()

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if not self._running:
            return
        self._overdue += 1
        if (self._overdue - 1) * REALARM_S >= STUCK_GRACE_S:
            exit_stuck("a task has ignored its time limit")
        signal.setitimer(signal.ITIMER_REAL, REALARM_S)
        raise self._interruption()


def exit_stuck(what: str) -> NoReturn:
    """End this worker at once: a task would not stop. Its tasks stay leased to it, for the
    supervisor or a reaper to give back, each counting a delivery."""
    logger.critical(
        "%s for %g s: this worker exits so that it stops; its tasks are given back with a delivery counted",
        what,
        STUCK_GRACE_S,
    )
    logging.shutdown()
    os._exit(EXIT_STUCK)

"""Many coroutines at once: how a worker with ``concurrency=N`` runs ``async def`` tasks.

Up to N coroutines are in flight on the worker's event loop; the worker leases more as they finish,
and records each outcome as it comes (acknowledgements are batched as usual). Each coroutine has its
own time limit and is cancelled on its own (``coroutines.Coroutines``). A plain function still runs alone
in the main thread, and while it runs the coroutines wait: an event loop cannot take the thread
back from a function that does not ``await``. The same goes for a coroutine that blocks (calls
``time.sleep``, say): it holds up the others until it awaits, and only a supervisor, told the
earliest deadline in flight while the loop runs, can stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import threading
from typing import Any

from ..broker import QueueKeys
from ..current import reset_current, set_current
from .task import ReadyTask, StopRequested, TaskHandler
from .timelimit import TaskCancelled, TaskRunner

logger = logging.getLogger(__name__)


class AsyncPool:
    """The coroutines a worker runs at once, at most ``concurrency``."""

    def __init__(self, tasks: TaskHandler, runner: TaskRunner, concurrency: int) -> None:
        self._tasks = tasks
        self._runner = runner
        self._coroutines = runner.coroutines
        self._concurrency = concurrency
        self._flight: dict[asyncio.Task[Any], ReadyTask] = {}
        # Set, from any thread, when work came for the free slots: it ends the loop's wait (``wait``)
        self._work_came = threading.Event()
        self._woken: asyncio.Future[None] | None = None
        self._waited: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def free(self) -> int:
        """How many more tasks it can take now."""
        return self._concurrency - len(self._flight)

    def busy(self) -> bool:
        return bool(self._flight)

    def start(self, keys: QueueKeys, message: bytes, known: bool) -> None:
        """Start a leased task: a coroutine joins the others; a function runs to its end now."""
        if not known:
            self._tasks.process(keys, message, known)
            return
        ready = self._tasks.begin(keys, message)
        if ready is not None:
            self.start_ready(ready)

    def start_ready(self, ready: ReadyTask) -> None:
        """Start a task read already (``TaskHandler.begin``)."""
        self._loop = self._coroutines.loop  # from here a wake (end_wait, work_came) reaches the loop
        token = set_current(ready.current)
        try:
            value = self._runner.start(ready.task, ready.options.timeout)
            if inspect.isawaitable(value):
                # The coroutine keeps the context it was made in: its current_job() is its own.
                context = contextvars.copy_context()
                task = self._coroutines.start(value, ready.options.timeout, context, ready.task.id)
                self._flight[task] = ready
                return
        except StopRequested:
            raise
        except BaseException as exc:  # what a task raises is its outcome
            self._tasks.end(ready, None, exc)
            return
        finally:
            reset_current(token)
        self._tasks.end(ready, value, None)

    def expect_work(self) -> None:
        """From now on, ``work_came`` ends ``wait``: before the worker asks to be told of work."""
        self._work_came.clear()

    def work_came(self) -> None:
        """End ``wait`` (any thread): there is work for the free slots."""
        self._work_came.set()
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the worker has stopped
                self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._woken is not None and not self._woken.done():
            self._woken.set_result(None)

    def end_wait(self) -> None:
        """End ``wait`` (any thread), work or not: the main thread is needed (a thread's task ended)."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the worker has stopped
                self._loop.call_soon_threadsafe(self._end_wait)

    def _end_wait(self) -> None:
        if self._waited is not None and not self._waited.done():
            self._waited.set_result(None)

    def wait(self, timeout: float, *, for_work: bool) -> None:
        """Run the coroutines until one finishes or ``timeout`` passes (or, ``for_work``, until
        ``work_came``), and record those that finished."""
        if not self._flight or (for_work and self._work_came.is_set()):
            return
        self._loop = self._coroutines.loop
        woken = self._waited = self._loop.create_future()  # an end_wait from here on resolves it
        if for_work:
            self._woken = woken  # a work_came from here on resolves it
        try:
            with self._runner.this_process_only():
                done = self._coroutines.run([*self._flight, woken], timeout, watched=True)
        finally:
            self._woken = self._waited = None
            woken.cancel()
        # In the order they started, which is the order of the active list: the acknowledgement
        # script drops those at its head at once
        finished = [task for task in self._flight if task in done]
        for task in sorted(finished, key=lambda task: self._flight[task].started):
            ready = self._flight.pop(task)
            value, raised = self._coroutines.outcome(task)
            if isinstance(raised, StopRequested):  # a second stop signal, raised while the coroutine ran
                raise raised
            self._tasks.end(ready, value, raised)

    def cancel(self, job_id: str) -> bool:
        """Cancel the coroutine of ``job_id`` (from another thread); whether it is in flight here."""
        for task, ready in list(self._flight.items()):
            if ready.task.id == job_id:
                self._coroutines.interrupt_soon(task, TaskCancelled)
                return True
        return False

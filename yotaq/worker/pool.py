"""Many coroutines at once: how a worker with ``concurrency=N`` runs ``async def`` tasks.

Up to N coroutines are in flight on the worker's event loop; the worker leases more as they finish,
and records each outcome as it comes (acknowledgements are batched as usual). Each coroutine has its
own time limit and is cancelled on its own (``timelimit.Coroutines``). A plain function still runs alone
in the main thread, and while it runs the coroutines wait: an event loop cannot take the thread
back from a function that does not ``await``. The same goes for a coroutine that blocks (calls
``time.sleep``, say): it holds up the others until it awaits, and only a supervisor, told the
earliest deadline in flight while the loop runs, can stop it.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from typing import Any

from ..broker import QueueKeys
from ..current import reset_current, set_current
from .task import Begun, StopNow, TaskHandler
from .timelimit import TaskCancelled, TaskRunner

logger = logging.getLogger(__name__)


class AsyncPool:
    """The coroutines a worker runs at once, at most ``concurrency``."""

    def __init__(self, tasks: TaskHandler, runner: TaskRunner, concurrency: int) -> None:
        self._tasks = tasks
        self._runner = runner
        self._coroutines = runner.coroutines
        self._concurrency = concurrency
        self._flight: dict[asyncio.Task[Any], Begun] = {}

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
        begun = self._tasks.begin(keys, message)
        if begun is None:
            return
        token = set_current(begun.current)
        try:
            value = self._runner.start(begun.task, begun.options.timeout)
            if inspect.isawaitable(value):
                # The coroutine keeps the context it was made in: its current_job() is its own.
                task = self._coroutines.start(value, begun.options.timeout, contextvars.copy_context())
                self._flight[task] = begun
                return
        except StopNow:
            raise
        except BaseException as exc:  # what a task raises is its outcome
            self._tasks.end(begun, None, exc)
            return
        finally:
            reset_current(token)
        self._tasks.end(begun, value, None)

    def wait(self, timeout: float) -> None:
        """Run the coroutines until one finishes or ``timeout`` passes, and record those that finished."""
        if not self._flight:
            return
        with self._runner.this_process_only():
            done = self._coroutines.run(self._flight, timeout, watched=True)
        # In the order they started, which is the order of the active list: the acknowledgement
        # script drops those at its head at once
        for task in sorted(done, key=lambda task: self._flight[task].started):
            begun = self._flight.pop(task)
            value, raised = self._coroutines.outcome(task)
            if isinstance(raised, StopNow):  # a second stop signal, raised while the coroutine ran
                raise raised
            self._tasks.end(begun, value, raised)

    def cancel(self, job_id: str) -> bool:
        """Cancel the coroutine of ``job_id`` (from another thread); whether it is in flight here."""
        for task, begun in list(self._flight.items()):
            if begun.task.id == job_id:
                self._coroutines.interrupt_soon(task, TaskCancelled)
                return True
        return False

"""Many coroutines at once: how a worker with ``concurrency=N`` runs ``async def`` tasks.

Up to N coroutines are in flight on the worker's event loop; the worker leases more as they finish,
and records each outcome as it comes (acknowledgements are batched as usual). Each coroutine has its
own time limit (``asyncio.wait_for``) and is cancelled on its own. A plain function still runs alone
in the main thread, and while it runs the coroutines wait: an event loop cannot take the thread
back from a function that does not ``await``. The same goes for a coroutine that blocks (calls
``time.sleep``, say): it holds up the others until it awaits.
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
from .timelimit import TaskCancelled, TaskRunner, TimeLimitExceeded, within

logger = logging.getLogger(__name__)


class AsyncPool:
    """The coroutines a worker runs at once, at most ``concurrency``."""

    def __init__(self, tasks: TaskHandler, runner: TaskRunner, concurrency: int) -> None:
        self._tasks = tasks
        self._runner = runner
        self._concurrency = concurrency
        self._flight: dict[asyncio.Task[Any], Begun] = {}
        self._cancelled: set[str] = set()  # job ids cancelled while in flight

    def free(self) -> int:
        """How many more tasks it can take now."""
        return self._concurrency - len(self._flight)

    def busy(self) -> bool:
        return bool(self._flight)

    def in_flight(self) -> list[bytes]:
        """The messages of the coroutines running now."""
        return [begun.message for begun in self._flight.values()]

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
                coroutine = within(value, begun.options.timeout)
                task = self._runner.event_loop.create_task(coroutine, context=contextvars.copy_context())
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
        loop = self._runner.event_loop
        with self._runner.this_process_only():
            done, _ = loop.run_until_complete(
                asyncio.wait(self._flight, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            )
        for task in done:
            begun = self._flight.pop(task)
            job_id = begun.task.id
            if task.cancelled():
                raised: BaseException | None = TaskCancelled() if job_id in self._cancelled else StopNow()
            else:
                raised = task.exception()
                if isinstance(raised, TimeoutError) and begun.options.timeout is not None:
                    raised = TimeLimitExceeded()
            self._cancelled.discard(job_id)
            if isinstance(raised, StopNow):
                raise raised
            self._tasks.end(begun, None if raised is not None else task.result(), raised)

    def cancel(self, job_id: str) -> bool:
        """Cancel the coroutine of ``job_id`` (from another thread); whether it is in flight here."""
        for task, begun in list(self._flight.items()):
            if begun.task.id == job_id:
                self._cancelled.add(job_id)
                self._runner.event_loop.call_soon_threadsafe(task.cancel)
                return True
        return False

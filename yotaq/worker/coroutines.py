"""A worker's ``async def`` tasks on its event loop, each within its time limit (see ``timelimit``).

A coroutine runs on the loop as a task of its own, with a timer at its deadline: past its limit, or when
its job is cancelled, it is cancelled, and cancelled again every ``REALARM_S`` while it runs on; it fails
(or is cancelled) even if it swallows that and returns, and one still running ``STUCK_GRACE_S`` later
makes its worker exit. ``asyncio.wait_for`` would not do: it waits for ever for a coroutine that catches
``CancelledError`` and goes on, and returns the value of one that catches it and returns.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from .timelimit import REALARM_S, STUCK_GRACE_S, TaskCancelled, TimeLimitExceeded, Watchdog, exit_stuck

CLOSE_TIMEOUT_S = 1.0  # how long a coroutine left running at shutdown gets to handle its cancellation


Flight = asyncio.Task[Any]  # a coroutine in flight on the loop


@dataclass
class _Limit:
    """A coroutine's deadline (loop time) and, once it has been interrupted, why and since when."""

    deadline: float | None
    job_id: str = ""
    interruption: type[BaseException] | None = None
    since: float = 0.0
    timer: asyncio.TimerHandle | None = None


class Coroutines:
    """The coroutines in flight on the worker's event loop (made at first use), each within its time
    limit; used from the thread that made it, except ``interrupt_soon``."""

    def __init__(self, watchdog: Watchdog | None) -> None:
        self._watchdog = watchdog
        self._name_job = getattr(watchdog, "name_job", None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._limits: dict[Flight, _Limit] = {}

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop

    def start(
        self, awaitable: Any, timeout: float | None, context: contextvars.Context | None = None, job_id: str = ""
    ) -> Flight:
        """Put ``awaitable`` (of ``job_id``) on the loop, to run (when the loop runs) until it ends or
        ``timeout`` passes."""
        loop = self.loop
        task = loop.create_task(_awaited(awaitable), context=context)
        limit = self._limits[task] = _Limit(None if timeout is None else loop.time() + timeout, job_id)
        if timeout is not None:
            limit.timer = loop.call_later(timeout, self._interrupt, task, TimeLimitExceeded)
        return task

    def run(
        self, tasks: Collection[asyncio.Future[Any]], timeout: float | None, *, watched: bool
    ) -> set[asyncio.Future[Any]]:
        """Run the loop until one of ``tasks`` ends or ``timeout`` passes; returns those that ended.
        ``watched``: the watchdog is told the earliest deadline in flight (or now, for one overdue
        that the loop has yet to interrupt) for as long as the loop runs."""
        deadlines = [(limit.deadline, limit.job_id) for limit in self._limits.values() if limit.deadline is not None]
        watchdog = self._watchdog if watched and deadlines else None
        if watchdog is not None:
            first, job_id = min(deadlines)
            if self._name_job is not None:
                self._name_job(job_id)
            watchdog.arm(max(0.0, first - self.loop.time()))
        try:
            waited = asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            done, _ = self.loop.run_until_complete(waited)
        finally:
            if watchdog is not None:
                watchdog.disarm()
        return done

    def outcome(self, task: Flight) -> tuple[Any, BaseException | None]:
        """How ``task`` ended: its value, or what it raised; an interrupted one, its interruption
        however it ended, unless a stop signal ended it (``StopRequested``: neither an ``Exception`` nor a
        cancellation)."""
        limit = self._limits.pop(task)
        if limit.timer is not None:
            limit.timer.cancel()
        raised = asyncio.CancelledError() if task.cancelled() else task.exception()
        if limit.interruption is not None and (
            raised is None or isinstance(raised, (Exception, asyncio.CancelledError))
        ):
            return None, limit.interruption()
        return (task.result(), None) if raised is None else (None, raised)

    def interrupt_soon(self, task: Flight, interruption: type[BaseException]) -> None:
        """Interrupt ``task`` with ``interruption`` (``TaskCancelled``), from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._interrupt, task, interruption)

    def _interrupt(self, task: Flight, interruption: type[BaseException]) -> None:
        limit = self._limits.get(task)
        if limit is None or task.done():
            return
        now = self.loop.time()
        if limit.interruption is None:
            limit.interruption, limit.since = interruption, now
        elif now - limit.since >= STUCK_GRACE_S:
            why = "cancel" if limit.interruption is TaskCancelled else "time limit"
            exit_stuck(f"a coroutine has ignored its {why}")
        if limit.timer is not None:
            limit.timer.cancel()
        task.cancel()
        limit.timer = self.loop.call_later(REALARM_S, self._interrupt, task, limit.interruption)

    def close(self) -> None:
        """Close the loop, cancelling first the coroutines a stop signal left behind."""
        if self._loop is None:
            return
        for limit in self._limits.values():
            if limit.timer is not None:
                limit.timer.cancel()
        self._limits.clear()
        left = asyncio.all_tasks(self._loop)
        for task in left:
            task.cancel()
        if left:
            self._loop.run_until_complete(asyncio.wait(left, timeout=CLOSE_TIMEOUT_S))
        self._loop.close()
        self._loop = None


async def _awaited(awaitable: Any) -> Any:
    return await awaitable

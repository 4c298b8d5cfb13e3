"""How a worker stops, and waits out outages: its signals, ``Worker.stop``, and the waits they end.

The first SIGINT/SIGTERM (or ``stop()``) stops leasing and lets the running task(s) finish; a second
signal gives the running task back too (``StopRequested``, raised in the main thread). A wait for work, or
between tries through an outage, is ended at once: a signal raises out of it, and ``stop()``, which may
come from any thread, unblocks the connection waiting in Redis or wakes the queue watcher. Mixed into
``Worker``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from ..broker import Broker, OutageRetry
from ..exceptions import Interrupted, RedisUnavailable
from .task import StopRequested, TaskHandler
from .timelimit import EXIT_STUCK, restore_in_a_forked_child

if TYPE_CHECKING:
    from .watch import QueueWatcher

logger = logging.getLogger(__name__)

T = TypeVar("T")

IDLE_WAIT_S = 30.0  # longest a blocking wait for work lasts (work, a stop and an outage end it sooner): what an
# idle worker costs Redis, besides its heartbeat, is one command this often


class ProcessReplaced(Interrupted):
    """Raised in the main thread once a stuck thread's task is recorded: the process is to be replaced."""


class Stopping:
    """Signals, ``stop()`` and outages, for ``Worker``."""

    broker: Broker
    _outage_retry: OutageRetry
    _tasks: TaskHandler
    _stopping: bool
    _shutting_down: bool
    _waiting: bool
    _stop_requested: threading.Event
    _stop_lock: threading.Lock
    _blocked_on: int | None
    _watcher: QueueWatcher | None

    def _blocked(self, connection_id: int | None) -> None:
        self._blocked_on = connection_id
        if connection_id is not None and self._stopping:
            raise StopRequested  # a stop came after the look at _stopping: no wait, nothing taken yet

    def _until_done(self, command: Callable[[], T], *, failing: bool = False) -> T:
        """``command()``, waiting out an outage for as long as it lasts (a stop signal ends the wait).

        Logs once when Redis goes away (unless the caller already did: ``failing``) and once
        when it is back.
        """
        outage = [failing]

        def note(exc: RedisUnavailable) -> None:
            if not outage[0]:
                logger.warning("Redis unreachable (%s); retrying until it is back", exc)
                outage[0] = True

        result = self._outage_retry.run(command, on_outage=note)
        if outage[0]:
            logger.warning("Redis is reachable again")
        return result

    def _sleep(self, seconds: float) -> None:
        """Wait between tries through an outage; a stop signal ends the wait (what was not recorded runs again)."""
        self._waiting = True
        try:
            if self._stopping:
                raise StopRequested
            self._stop_requested.wait(seconds)
        finally:
            self._waiting = False

    def stop(self) -> None:
        """Stop ``run`` as a first SIGTERM does: lease no more, let the running task(s) finish, give the
        rest back, return. From any thread, a signal handler or a hook; calling it again does nothing more.

        An idle worker stops within milliseconds: its wait for work is ended (``CLIENT UNBLOCK``, or the
        watcher woken). On a Redis Cluster a single-queue worker's wait cannot be named, and ends within
        ``IDLE_WAIT_S``.
        """
        # A signal handler runs in the main thread between two bytecodes of what it interrupted, which may
        # hold a lock the wake-up takes (this one, the event's, a stream's) or have named its wait for work
        # but not sent it, so that no unblock can end it until the handler returns: there, the stop is
        # marked without waiting on anything, and the wake-up is left to a thread of its own.
        if not self._stop_lock.acquire(blocking=False):
            return  # another call is stopping it (perhaps the one this signal interrupted)
        try:
            if self._stopping or self._shutting_down:
                return
            self._stopping = True
        finally:
            self._stop_lock.release()
        if threading.current_thread() is threading.main_thread():
            self.broker.thread(self._wake, name="yotaq-stop").start()  # a daemon: its start waits on no lock
        else:
            self._wake()

    def _wake(self) -> None:
        logger.info("stop requested: finishing the running task, then stopping")
        self._stop_requested.set()
        if self._watcher is not None:
            self._watcher.stop()
        self._wake_the_wait()

    def _wake_the_wait(self) -> None:
        self.broker.end_wait(lambda: self._blocked_on)  # (an outage ends it too, and the loop sees the stop)

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            logger.warning("not in the main thread: no signal handling, and time limits apply to async tasks only")
            return {}
        handlers: dict[int, Any] = {
            signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGINT, signal.SIGTERM)
        }
        handlers[signal.SIGALRM] = self._tasks.install()
        restore_in_a_forked_child(handlers)
        # A supervisor starts its worker processes with these blocked (one sent while the process
        # starts must wait for these handlers): from here on they are handled.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
        return handlers

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._shutting_down:
            return
        if self._stopping:
            raise StopRequested
        self._stopping = True
        logger.info(
            "%s: finishing the running task, then stopping (again to stop at once)", signal.Signals(signum).name
        )
        if self._waiting:
            raise StopRequested


_run_again: list[str] = []  # the command line that replaces this process, if it replaces itself


def replace_by_itself(command: Sequence[str]) -> None:
    """Have this process replace itself by running ``command`` again (``os.execv``), rather than exit for
    whatever runs it to start a fresh one: what ``python -m yotaq worker`` does when no supervisor runs it."""
    _run_again[:] = command


def exit_replaced() -> None:
    """End this process now: a thread is stuck in a task, which only the end of its process stops. The
    stuck task is recorded and the rest given back already: a process that runs again starts afresh (the
    same pid, none of the old threads, no connection: Python's file descriptors are not inherited)."""
    if _run_again:
        logger.critical("this worker runs again in a fresh process (%s)", " ".join(_run_again))
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):  # what they buffer would be lost with the process image
            if stream is not None:
                stream.flush()
        os.execv(sys.executable, [sys.executable, *_run_again[1:]])
    logger.critical("this worker exits (status %d) for a fresh process to take its place", EXIT_STUCK)
    logging.shutdown()
    os._exit(EXIT_STUCK)

"""``python -m yotaq worker --processes N``: N worker processes, watched by this one.

The supervisor restarts a worker process that dies and gives its tasks back at once (counting a
delivery, as the heartbeat reaper would, only without waiting for the heartbeat to lapse). It
also enforces time limits where a worker cannot: a worker stops a task past its ``timeout`` with
SIGALRM, but code that holds the GIL in C never sees the signal. Each worker tells the
supervisor, through shared memory, how long its task may still run, and which job it is (with
concurrency, while its event loop runs: the earliest deadline among its coroutines, so a loop that
one of them blocks is caught too; with threads, the earliest among them, later by their grace, for
a worker that cannot replace itself); one still running ``HARD_KILL_GRACE_S`` later is killed and
replaced. The task it was killed in is recorded as having run past its time limit (failed, or
retried if it has retries left), not given back to run into its limit again; the rest are given back.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.sharedctypes
import os
import signal
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from types import FrameType
from typing import Any

import redis

from . import serializer
from .broker import Broker, QueueKeys, connect
from .current import Hooks
from .exceptions import ConfigurationError, RedisUnavailable
from .worker import MAX_DELIVERIES, Worker, reap
from .worker.batch import Batch
from .worker.task import TaskHandler
from .worker.timelimit import TaskRunner, TimeLimitExceeded

logger = logging.getLogger(__name__)

HARD_KILL_GRACE_S = 2.0
CHECK_INTERVAL_S = 0.05
PARENT_CHECK_S = 0.5  # how often a worker looks whether its supervisor is still there
STOP_TIMEOUT_S = 30.0  # after this, children that ignore the stop are killed (their tasks go back)
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_context = multiprocessing.get_context("fork")


class SharedDeadline:
    """The ``Watchdog`` a supervised worker reports to: a monotonic deadline in shared memory (0: none)."""

    def __init__(self) -> None:
        self.value = _context.Value("d", 0.0, lock=False)
        self._job = _context.Array("c", serializer.MAX_ID_LENGTH + 1, lock=False)

    def name_job(self, job_id: str) -> None:
        """The job whose deadline the next ``arm`` gives."""
        self._job.value = job_id.encode()

    def job(self) -> str:
        return bytes(self._job.value).decode(errors="replace")

    def arm(self, seconds: float) -> None:
        self.value.value = time.monotonic() + seconds + HARD_KILL_GRACE_S

    def disarm(self) -> None:
        self.value.value = 0.0

    def passed(self) -> bool:
        deadline: float = self.value.value
        return 0.0 < deadline < time.monotonic()


@dataclass
class _Child:
    process: Any  # multiprocessing.Process from the fork context
    deadline: SharedDeadline
    name: str
    overdue: str = ""  # the job it was killed in, past its time limit


def _run_child(url: str, queues: list[str], suffix: str, deadline: SharedDeadline, options: dict[str, Any]) -> None:
    # Out of the terminal's process group: Ctrl-C reaches the supervisor only, which passes on
    # exactly one stop signal (a second one would make workers give back their running task).
    os.setpgrp()
    threading.Thread(target=_stop_without, args=(os.getppid(),), name="yotaq-parent-watch", daemon=True).start()
    name = f"{socket.gethostname()}.{os.getpid()}.{suffix}"
    with connect(url) as client:
        Worker(client, queues, name=name, watchdog=deadline, **options).run()


def _stop_without(supervisor: int) -> None:
    """Stop this worker (as SIGTERM does) once its supervisor is gone, even killed with SIGKILL:
    a worker must not run on unsupervised, its time limits unenforced."""
    while os.getppid() == supervisor:
        time.sleep(PARENT_CHECK_S)
    logger.error("supervisor %d is gone: this worker stops", supervisor)
    os.kill(os.getpid(), signal.SIGTERM)


class Supervisor:
    """Runs ``processes`` workers on ``queues`` and keeps them running until SIGINT/SIGTERM.

    ``worker_options`` are passed to each ``Worker`` (``settings``, liveness settings, ...).
    """

    def __init__(self, url: str, queues: list[str], processes: int, **worker_options: Any) -> None:
        if processes < 1:
            raise ConfigurationError(f"processes must be at least 1, got {processes}")
        probe = Worker(redis.Redis(), queues, **worker_options)  # raises on a bad setting before anything forks
        self.url = url
        self.queues = queues
        self.processes = processes
        self.worker_options = worker_options
        self.settings = probe.settings  # given as settings= or one by one: a child's is the same
        self._keys = probe.queues  # every shard of every queue
        self._children: list[_Child | None] = [None] * processes
        self._started = 0
        self._signals = 0

    def run(self) -> None:
        previous = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        client = connect(self.url)
        broker = Broker(client)
        try:
            logger.info("supervisor %d: starting %d worker processes", os.getpid(), self.processes)
            while not self._signals:
                for slot, child in enumerate(self._children):
                    if child is None:
                        self._children[slot] = self._start(slot)
                    elif not child.process.is_alive():
                        logger.warning(
                            "worker %s died (exit code %s): restarting it", child.name, child.process.exitcode
                        )
                        self._give_back(broker, child)
                        self._children[slot] = self._start(slot)
                    elif child.deadline.passed():
                        self._kill_stuck(child)
                time.sleep(CHECK_INTERVAL_S)
            self._stop(broker)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            client.close()

    def _start(self, slot: int) -> _Child:
        self._started += 1
        deadline = SharedDeadline()
        suffix = f"s{slot}-{self._started}"
        args = (self.url, self.queues, suffix, deadline, self.worker_options)
        process = _context.Process(target=_run_child, args=args, name=f"yotaq-worker-{slot}", daemon=False)
        # The child starts with the stop signals blocked and unblocks them once its worker's handlers
        # are in place: one sent while it starts waits for them, instead of reaching the handlers it
        # copied from this process (which would ignore it, and the child would run on).
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        return _Child(process, deadline, f"{socket.gethostname()}.{process.pid}.{suffix}")

    def _kill_stuck(self, child: _Child) -> None:
        logger.error("worker %s is stuck past its task's time limit: killing it", child.name)
        child.overdue = child.deadline.job()
        child.process.kill()

    def _give_back(self, broker: Broker, child: _Child) -> None:
        """Requeue at once what a dead child held (each counts one delivery), but for the task it was
        killed in, if so, which is recorded as having run past its time limit."""
        max_deliveries = self.worker_options.get("max_deliveries", MAX_DELIVERIES)
        secret = serializer.as_secret(self.settings.secret)
        if child.overdue:
            try:
                record_overdue(broker, self._keys, child.name, child.overdue, secret)
            except RedisUnavailable as exc:
                logger.warning(
                    "could not record job %s as past its time limit (%s): it is given back", child.overdue, exc
                )
        for keys in self._keys:
            try:
                reaped = reap(broker, keys, child.name, max_deliveries, secret, force=True)
            except RedisUnavailable as exc:
                logger.warning(
                    "could not give back the tasks of %s now (%s): the heartbeat reaper will", child.name, exc
                )
                continue
            if reaped and any(reaped):
                logger.warning(
                    "gave back the tasks of %s on %r: %d requeued, %d set aside", child.name, keys.queue, *reaped
                )
        for fleet in {broker.fleet(keys) for keys in self._keys}:
            with contextlib.suppress(RedisUnavailable):  # else it lapses, and whoever sees it forgets it
                broker.leave(fleet, child.name)

    def _stop(self, broker: Broker) -> None:
        """Wait for the children, which got the signal too, still enforcing their time limits; kill
        those that take too long."""
        children = [child for child in self._children if child is not None]
        for child in children:
            if child.process.is_alive() and child.process.pid is not None:
                os.kill(child.process.pid, signal.SIGTERM)
        give_up_at = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < give_up_at and (running := [c for c in children if c.process.is_alive()]):
            for child in running:
                if child.deadline.passed():
                    self._kill_stuck(child)
            time.sleep(CHECK_INTERVAL_S)
        for child in children:
            if child.process.is_alive():
                logger.error("worker %s did not stop in time: killing it", child.name)
                child.process.kill()
            child.process.join()
            if child.process.exitcode != 0:
                self._give_back(broker, child)
        logger.info("supervisor %d: all worker processes stopped", os.getpid())

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:  # a second signal: pass it on, so workers give back their running task too
            for child in self._children:
                if child is not None and child.process.is_alive() and child.process.pid is not None:
                    os.kill(child.process.pid, signal.SIGINT)


def record_overdue(broker: Broker, queues: list[QueueKeys], worker: str, job_id: str, secret: bytes | None) -> bool:
    """Record the job ``job_id`` that ``worker`` (killed) was running as having run past its time limit:
    failed, or retried if it has retries left, as if it had raised ``TimeLimitExceeded``. Whether it
    held the job (a supervisor calls this before giving back the rest)."""
    for keys in queues:
        for message in broker.held(keys, worker):
            if serializer.message_id(message) != job_id:
                continue
            handler = TaskHandler(
                broker, worker, secret, Batch(), TaskRunner(None), lambda step: step(), Counter(), Hooks(())
            )
            if (ready := handler.begin(keys, message)) is not None:
                handler.end(ready, None, TimeLimitExceeded())
            return True
    return False

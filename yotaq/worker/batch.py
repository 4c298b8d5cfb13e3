"""``Batch``: what a worker has leased and not started, and what it has finished and not acknowledged.

Short tasks are leased several at a time (about ``BATCH_WORK_S`` of work, by the running average
of their durations) and acknowledged together, at the next lease or ``ACK_DELAY_S`` after the
first, whichever comes first: one round trip for many tasks. The batch is the one thing the
worker's main thread shares with its maintenance thread, which gives back the unstarted tasks
(and acknowledges the finished ones) when the current task runs long. A lock guards each hand-over
and is never held across a Redis call: whoever takes something out sends it, and puts it back if
the sending fails.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import NamedTuple

from .. import serializer
from ..broker import Ack, Leases, QueueKeys

BATCH_WORK_S = 0.01
MAX_BATCH = 64
# Twice a batch's planned work: a batch that runs as planned has its acknowledgements go with the
# next lease, in the same round trip; only one that runs long sends them on their own.
ACK_DELAY_S = 2 * BATCH_WORK_S
_AVERAGE_WEIGHT = 1 / 8  # of the latest task in the running average of durations

Leased = tuple[QueueKeys, bytes, bool]  # the queue, the message, whether its job is pending there


class Running(NamedTuple):
    """The task running now."""

    keys: QueueKeys
    job_id: str
    since: float  # time.monotonic()


class Batch:
    """The unstarted leases and the unsent acknowledgements of one worker, and the task running now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Held by the maintenance thread while acknowledgements it took are on their way, and by the
        # main thread while it gives back what it holds and does not run: a finished task whose
        # acknowledgement is in flight must not be taken for a stray and run again.
        self.handover = threading.RLock()
        self._unstarted: collections.deque[Leased] = collections.deque()
        self._acks: dict[QueueKeys, list[Ack]] = {}
        self._first_ack_at = 0.0
        self._average_task_s = 1.0  # pessimistic until measured: lease one at a time
        self._starting: Leased | None = None  # taken out to run, not running yet (being read)
        self._running: dict[str, Running] = {}  # by job id: one task, or several coroutines at once

    @property
    def average_task_s(self) -> float:
        """The running average of the tasks' durations (1 s until measured)."""
        return self._average_task_s

    def size(self) -> int:
        """How many tasks to lease at once: one, or about ``BATCH_WORK_S`` worth when tasks have been short."""
        return max(1, min(MAX_BATCH, int(BATCH_WORK_S / self._average_task_s)))

    # -- the main thread -----------------------------------------------------------------------

    def add(self, keys: QueueKeys, leases: Leases) -> None:
        unknown = set(leases.unknown)
        with self._lock:
            self._unstarted.extend((keys, message, i not in unknown) for i, message in enumerate(leases.messages))

    def next(self) -> Leased | None:
        """The next leased task to run, or None when none is left."""
        with self._lock:
            self._starting = self._unstarted.popleft() if self._unstarted else None
            return self._starting

    def start(self, keys: QueueKeys, job_id: str) -> None:
        # A new dict each time, not one changed in place: the maintenance thread reads it meanwhile.
        running = self._running.copy()
        running[job_id] = Running(keys, job_id, time.monotonic())
        self._running = running
        self._starting = None

    def finish(self, job_id: str, elapsed_s: float) -> None:
        running = self._running.copy()
        running.pop(job_id, None)
        self._running = running
        self._average_task_s += (elapsed_s - self._average_task_s) * _AVERAGE_WEIGHT

    def acknowledge(self, keys: QueueKeys, ack: Ack) -> None:
        """Keep a finished task's acknowledgement, to send with the next lease."""
        with self._lock:
            if not self._acks:
                self._first_ack_at = time.monotonic()
            self._acks.setdefault(keys, []).append(ack)

    def unsent(self) -> bool:
        """Whether any acknowledgement waits to be sent."""
        return bool(self._acks)

    def acks_due(self) -> bool:
        """Whether the oldest unsent acknowledgement has waited ``ACK_DELAY_S``."""
        return bool(self._acks) and time.monotonic() - self._first_ack_at >= ACK_DELAY_S

    # -- either thread -------------------------------------------------------------------------

    @property
    def running(self) -> Running | None:
        """The job running longest now and since when (monotonic), if any."""
        return next(iter(self._running.values()), None)

    def all_running(self) -> list[Running]:
        """Every job running now (several where coroutines run at once)."""
        return list(self._running.values())

    def held(self) -> list[tuple[QueueKeys, str]]:
        """The queue and job id of every job running here, or leased here and not started (or starting)."""
        with self._lock:
            leased = [*self._unstarted, *([self._starting] if self._starting else [])]
        unstarted = [(keys, serializer.message_id(message)) for keys, message, _ in leased]
        return [(running.keys, running.job_id) for running in self._running.values()] + unstarted

    def holds(self, job_id: str) -> bool:
        """Whether the job is running here, or leased here and not started."""
        return any(held_id == job_id for _, held_id in self.held())

    def take_acks(self, keys: QueueKeys | None = None) -> dict[QueueKeys, list[Ack]]:
        """Take the unsent acknowledgements (of one queue, or all), to send them."""
        with self._lock:
            if keys is None:
                taken, self._acks = self._acks, {}
            else:
                taken = {keys: self._acks.pop(keys)} if keys in self._acks else {}
            return taken

    def restore_acks(self, taken: dict[QueueKeys, list[Ack]]) -> None:
        """Put back acknowledgements whose sending failed, ahead of any made since."""
        with self._lock:
            for keys, acks in taken.items():
                self._acks[keys] = acks + self._acks.get(keys, [])
            if taken:
                self._first_ack_at = 0.0  # overdue: send at the first chance

    def take_unstarted(self) -> list[Leased]:
        """Take every leased task not started yet (to give them back)."""
        with self._lock:
            taken = list(self._unstarted)
            self._unstarted.clear()
            return taken

    def restore_unstarted(self, taken: list[Leased]) -> None:
        """Put back unstarted tasks whose giving back failed: they are still leased, so run them."""
        with self._lock:
            self._unstarted.extendleft(reversed(taken))

"""What a queue holds, as plain data: what ``Queue.info``, ``Queue.failed_jobs`` and ``Queue.dead_jobs`` return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Buried = Literal["failed", "dead"]
"""Where a job set aside for good is kept: ``failed`` (it raised on its last try) or ``dead``
(it could not run: invalid, unsigned, or it kept killing its workers)."""


@dataclass(frozen=True)
class WorkerInfo:
    """A registered worker as ``Queue.info`` sees it."""

    id: str
    last_heartbeat_ms: int
    deadline_ms: int
    active: int


@dataclass(frozen=True)
class QueueInfo:
    """Counts for one queue.

    ``pending``, ``scheduled``, ``active``, ``failed`` and ``dead`` are the jobs there now
    (``failed`` and ``dead`` as long as their records are kept); ``done``, ``retried``,
    ``invalid`` and ``redelivered`` count events since the queue was first used.
    """

    queue: str
    server_time_ms: int
    pending: int
    scheduled: int
    workers: list[WorkerInfo]
    failed: int
    dead: int
    done: int
    retried: int
    invalid: int
    redelivered: int

    @property
    def active(self) -> int:
        return sum(worker.active for worker in self.workers)


@dataclass(frozen=True)
class BuriedJob:
    """A job set aside for good, with the reason: it failed on its last try, or is dead."""

    id: str
    kind: Buried
    reason: str
    at_ms: int
    expires_at_ms: int

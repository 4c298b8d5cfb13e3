"""What a queue holds, as plain data: what ``Queue.info``, ``Queue.failed_jobs`` and ``Queue.dead_jobs`` return."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

FailedOrDead = Literal["failed", "dead"]
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
    ``invalid``, ``redelivered`` and ``cancelled`` count events since the queue was first used
    (``cancelled``: running jobs interrupted by a cancel).
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
    cancelled: int = 0

    @property
    def active(self) -> int:
        return sum(worker.active for worker in self.workers)

    @staticmethod
    def merged(shards: list[QueueInfo]) -> QueueInfo:
        """The info of a sharded queue from its shards': counts summed, each worker once (a worker
        registers on every shard it serves), holding what it holds on all of them."""
        if len(shards) == 1:
            return shards[0]
        workers: dict[str, WorkerInfo] = {}
        for worker in (worker for shard in shards for worker in shard.workers):
            seen = workers.get(worker.id)
            workers[worker.id] = (
                worker if seen is None else dataclasses.replace(seen, active=seen.active + worker.active)
            )
        counts = ("pending", "scheduled", "failed", "dead", "done", "retried", "invalid", "redelivered", "cancelled")
        return QueueInfo(
            queue=shards[0].queue,
            server_time_ms=max(shard.server_time_ms for shard in shards),
            workers=list(workers.values()),
            **{name: sum(getattr(shard, name) for shard in shards) for name in counts},
        )


@dataclass(frozen=True)
class FailedJob:
    """A job set aside for good, with the reason: it failed on its last try, or is dead."""

    id: str
    kind: FailedOrDead
    reason: str
    at_ms: int
    expires_at_ms: int

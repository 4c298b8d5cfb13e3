"""The producer side: put tasks on a queue, and look at what is there."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from . import serializer
from .connection import check_client
from .exceptions import ConnectionError  # noqa: A004 - yotaq.ConnectionError subclasses the builtin
from .job import Job
from .keys import QueueKeys
from .scripts import Scripts

# enqueue retries a lost connection this long, then raises: a producer should hear quickly.
ENQUEUE_DEADLINE_S = 2.0
_FIRST_RETRY_S = 0.05
_MAX_RETRY_S = 0.5


@dataclass(frozen=True)
class WorkerInfo:
    """A registered worker as ``Queue.info`` sees it."""

    id: str
    last_heartbeat_ms: int
    deadline_ms: int
    active: int


@dataclass(frozen=True)
class QueueInfo:
    """Counts for one queue, read in one transaction."""

    queue: str
    server_time_ms: int
    pending: int
    workers: list[WorkerInfo]
    done: int
    failed: int
    invalid: int
    redelivered: int
    dead: int

    @property
    def active(self) -> int:
        return sum(worker.active for worker in self.workers)


@dataclass(frozen=True)
class DeadJob:
    """A task set aside for good, with the reason."""

    id: str
    reason: str
    at_ms: int


class Queue:
    """A named queue on Redis.

    Args:
        redis_client: the connection; ``yotaq.connect(url)`` makes a suitable one.
        name: the queue's name; no whitespace, ``{`` or ``}``.
        secret: when given, every message is HMAC-signed with it and workers holding the same
            secret refuse anything else.
    """

    def __init__(self, redis_client: redis.Redis, name: str = "tasks", *, secret: str | bytes | None = None) -> None:
        self.redis = check_client(redis_client)
        self.name = name
        self.keys = QueueKeys(name)
        self._secret = serializer.as_secret(secret)
        self._scripts = Scripts(redis_client)

    def __repr__(self) -> str:
        return f"Queue({self.name!r})"

    def enqueue(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Job:
        """Put the call ``fn(*args, **kwargs)`` on the queue; a worker runs it at least once.

        Raises:
            SerializationError: ``fn`` or an argument cannot travel; nothing was sent.
            ConnectionError: Redis could not be reached within ``ENQUEUE_DEADLINE_S``.
        """
        job = Job(uuid.uuid4().hex, self.name)
        message = serializer.encode(serializer.Task(job.id, fn, args, kwargs), self._secret)
        self._with_deadline(lambda: self.redis.rpush(self.keys.pending, message))
        return job

    def _with_deadline(self, command: Callable[[], Any]) -> Any:
        """Run one Redis command, retrying a lost connection until ``ENQUEUE_DEADLINE_S``.

        Each command is a single atomic step, so a failure never leaves a half-written task.
        A retry after a reply was lost can enqueue twice: that is within at-least-once.
        """
        give_up_at = time.monotonic() + ENQUEUE_DEADLINE_S
        pause = _FIRST_RETRY_S
        while True:
            try:
                return command()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if time.monotonic() + pause > give_up_at:
                    raise ConnectionError(
                        f"cannot reach Redis for queue {self.name!r} (gave up after {ENQUEUE_DEADLINE_S:g} s): {exc}"
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, _MAX_RETRY_S)

    def info(self) -> QueueInfo:
        """Counts of pending, active (per worker), done, failed and dead tasks."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.time()
            pipe.llen(self.keys.pending)
            pipe.zrange(self.keys.workers, 0, -1, withscores=True)
            pipe.hgetall(self.keys.heartbeats)
            pipe.hgetall(self.keys.stats)
            pipe.hlen(self.keys.dead)
            (seconds, microseconds), pending, workers, heartbeats, stats, dead = pipe.execute()
        with self.redis.pipeline(transaction=True) as pipe:
            for worker, _ in workers:
                pipe.llen(self.keys.active(worker.decode()))
            active = pipe.execute()
        return QueueInfo(
            queue=self.name,
            server_time_ms=seconds * 1000 + microseconds // 1000,
            pending=pending,
            workers=[
                WorkerInfo(worker.decode(), int(heartbeats.get(worker, 0)), int(deadline), held)
                for (worker, deadline), held in zip(workers, active, strict=True)
            ],
            done=int(stats.get(b"done", 0)),
            failed=int(stats.get(b"failed", 0)),
            invalid=int(stats.get(b"invalid", 0)),
            redelivered=int(stats.get(b"redelivered", 0)),
            dead=dead,
        )

    def dead_jobs(self) -> list[DeadJob]:
        """The dead tasks, oldest first."""
        records = self.redis.hgetall(self.keys.dead_reasons)
        jobs = [DeadJob(job_id.decode(), **json.loads(record)) for job_id, record in records.items()]
        return sorted(jobs, key=lambda job: job.at_ms)

    def requeue_dead(self, job_ids: list[str] | None = None) -> int:
        """Put dead tasks (all of them when ``job_ids`` is None) back on the queue; return how many."""
        ids = [job.id for job in self.dead_jobs()] if job_ids is None else job_ids
        if not ids:
            return 0
        keys = [self.keys.dead, self.keys.dead_reasons, self.keys.pending]
        return int(self._scripts.requeue(keys=keys, args=ids))

    def purge_dead(self) -> int:
        """Delete every dead task for good; return how many there were."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hlen(self.keys.dead)
            pipe.delete(self.keys.dead, self.keys.dead_reasons)
            count, _ = pipe.execute()
        return int(count)

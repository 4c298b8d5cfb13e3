"""The producer side: put tasks on a queue, wait for their results, and look at what is there."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import inspect
import json
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar

import redis

from . import serializer
from .connection import SOCKET_TIMEOUT_S, ThreadClients, check_client
from .exceptions import (
    ConfigurationError,
    ConnectionError,  # noqa: A004 - yotaq.ConnectionError subclasses the builtin
    ResultTimeout,
)
from .job import Job, Options, Status, new_job_id
from .keys import QueueKeys, check_name
from .scripts import Scripts

P = ParamSpec("P")
R = TypeVar("R")
# Names enqueue reads as options rather than as the function's keyword arguments.
_OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(Options))
RESERVED = _OPTION_NAMES | {"delay", "at", "job_id"}
# A result wait blocks in Redis for at most this long per call, under the client's socket timeout.
_RESULT_WAIT_SLICE_S = SOCKET_TIMEOUT_S / 2
_BULK_CHUNK = 5_000  # messages per RPUSH in enqueue_many
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
        secret: when given, every message and result is signed with it, and workers holding
            the same secret refuse anything else.
        eager: run each task at once (``delay`` and ``at`` too), in this process, instead of
            enqueueing it; it still goes through the serializer, so what would fail on a worker
            fails here too. For tests.
        **defaults: ``Options`` for every task of this queue (``retries``, ``timeout``, ...).
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        name: str = "tasks",
        *,
        secret: str | bytes | None = None,
        eager: bool = False,
        **defaults: Any,
    ) -> None:
        self.redis = check_client(redis_client)
        self.name = name
        self.keys = QueueKeys(name)
        self.eager = eager
        self.defaults = Options().replace(**defaults)
        self._secret = serializer.as_secret(secret)
        self._scripts = Scripts(redis_client)
        self._functions = serializer.FunctionPickles()
        self._clients = ThreadClients(self.redis)  # what enqueue and a result wait send through

    def __repr__(self) -> str:
        return f"Queue({self.name!r})"

    # -- producing -----------------------------------------------------------------------------

    def enqueue(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Job:
        """Put the call ``fn(*args, **kwargs)`` on the queue; a worker runs it at least once.

        These keyword arguments are options, not passed to ``fn``: ``delay`` (seconds) or ``at``
        (an aware ``datetime``) to run it later; ``job_id`` to make it unique while it is
        pending, scheduled or active (enqueueing the same id again then returns the existing
        job); and any ``Options`` field (``retries``, ``timeout``, ``result_ttl``, ...).

        Raises:
            SerializationError: ``fn`` or an argument cannot travel; nothing was sent.
            ConfigurationError: an option is invalid.
            ConnectionError: Redis could not be reached within ``ENQUEUE_DEADLINE_S``.
        """
        return self._enqueue(fn, args, kwargs, self.defaults)

    def enqueue_many(self, fn: Callable[..., Any], calls: Iterable[tuple[Any, ...]], **options: Any) -> list[Job]:
        """Enqueue ``fn(*args)`` for each ``args`` in ``calls``, all at once (one transaction).

        The function is pickled once for all of them. ``options`` are ``Options`` fields.
        """
        task_options = self.defaults.replace(**options).changes
        function = self._functions.dumps(fn)
        arguments = [tuple(args) for args in calls]
        job_ids = [new_job_id() for _ in arguments]
        messages = serializer.encode_calls(function, job_ids, arguments, task_options, self._secret)
        jobs = [Job(self, job_id) for job_id in job_ids]
        if self.eager:
            return [self._run_eagerly(job.id, message) for job, message in zip(jobs, messages, strict=True)]

        def push(client: redis.Redis) -> None:
            with client.pipeline(transaction=True) as pipe:
                for start in range(0, len(messages), _BULK_CHUNK):
                    pipe.rpush(self.keys.pending, *messages[start : start + _BULK_CHUNK])
                pipe.execute()

        if messages:
            self._with_deadline(push)
        return jobs

    def task(self, **options: Any) -> Callable[[Callable[P, R]], TaskFunction[P, R]]:
        """Decorate a function so that ``fn.delay(*args, **kwargs)`` enqueues it with ``options``.

        Calling ``fn(...)`` itself still runs it here. Options given to ``delay`` win.
        """
        self.defaults.replace(**{k: v for k, v in options.items() if k not in RESERVED - _OPTION_NAMES})  # fail here

        def decorate(fn: Callable[P, R]) -> TaskFunction[P, R]:
            return TaskFunction(self, fn, options)

        return decorate

    def _enqueue(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], defaults: Options) -> Job:
        call_kwargs, options = kwargs, defaults
        if not RESERVED.isdisjoint(kwargs):
            call_kwargs = {k: v for k, v in kwargs.items() if k not in RESERVED}
            options = defaults.replace(**{k: v for k, v in kwargs.items() if k in _OPTION_NAMES})
        delay, at, job_id = kwargs.get("delay"), kwargs.get("at"), kwargs.get("job_id")
        job_id = new_job_id() if job_id is None else check_name("job id", job_id)
        run_at_ms = _run_at_ms(delay, at)
        task = serializer.Task(job_id, fn, args, call_kwargs, options.changes)
        message = serializer.encode(task, self._secret, self._functions.dumps(fn))
        if self.eager:
            return self._run_eagerly(job_id, message)
        if run_at_ms is None and "job_id" not in kwargs:
            self._with_deadline(lambda client: client.rpush(self.keys.pending, message))
        else:
            keys = [self.keys.pending, self.keys.scheduled, self.keys.scheduled_messages, self.keys.unique(job_id)]
            at_ms, delay_ms = run_at_ms if at is not None else "", run_at_ms if delay is not None else ""
            unique = "1" if "job_id" in kwargs else ""
            args = [message, job_id, unique, at_ms, delay_ms]
            self._with_deadline(lambda client: self._scripts.enqueue(keys=keys, args=args, client=client))
        return Job(self, job_id)

    def _run_eagerly(self, job_id: str, message: bytes) -> Job:
        task = serializer.decode(message, self._secret)
        try:
            value = task.fn(*task.args, **task.kwargs)
            if inspect.isawaitable(value):
                value = asyncio.run(_awaited(value))
            outcome: tuple[Any, ...] = ("done", value)
        except Exception as exc:
            outcome = ("failed", type(exc).__name__, str(exc), traceback.format_exc())
        envelope = serializer.encode_result(job_id, outcome, self._secret)
        return Job(self, job_id, eager_result=envelope)

    def _with_deadline(self, command: Callable[[redis.Redis], Any]) -> Any:
        """Run one Redis command with this thread's client, retrying a lost connection until ``ENQUEUE_DEADLINE_S``.

        Each command is a single atomic step, so a failure never leaves a half-written task.
        A retry after a reply was lost can enqueue twice: that is within at-least-once.
        """
        try:
            return self._clients.call(command)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            error = exc
        give_up_at = time.monotonic() + ENQUEUE_DEADLINE_S
        pause = _FIRST_RETRY_S
        while time.monotonic() + pause <= give_up_at:
            time.sleep(pause)
            pause = min(pause * 2, _MAX_RETRY_S)
            try:
                return self._clients.call(command)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                error = exc
        raise ConnectionError(
            f"cannot reach Redis for queue {self.name!r} (gave up after {ENQUEUE_DEADLINE_S:g} s): {error}"
        ) from error

    # -- results and status --------------------------------------------------------------------

    def job(self, job_id: str) -> Job:
        """The job with this id, for its status or result, from any process."""
        return Job(self, check_name("job id", job_id))

    def _result(self, job: Job, timeout: float | None) -> Any:
        if job._eager_result is not None:
            return serializer.decode_result(job.id, job._eager_result, self._secret)
        key = self.keys.result(job.id)

        def wait_for(client: redis.Redis, seconds: float) -> bytes | None:
            # Moving the one element from the list's tail to its tail leaves it there for
            # other waiters, and blocks until the worker stores it.
            return client.blmove(key, key, seconds, "RIGHT", "RIGHT")  # type: ignore[no-any-return]

        give_up_at = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = _RESULT_WAIT_SLICE_S
            if give_up_at is not None:
                wait = min(wait, give_up_at - time.monotonic())
                if wait <= 0:
                    raise ResultTimeout(f"job {job.id}: no result within {timeout:g} s")
            envelope = self._clients.call(functools.partial(wait_for, seconds=max(wait, 0.001)))
            if envelope is not None:
                return serializer.decode_result(job.id, envelope, self._secret)

    def _status(self, job: Job) -> Status:
        if job._eager_result is not None:
            return Status(serializer.result_kind(job._eager_result))
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.lindex(self.keys.result(job.id), -1)
            pipe.hexists(self.keys.dead, job.id)
            pipe.zscore(self.keys.scheduled, job.id)
            pipe.zrange(self.keys.workers, 0, -1)
            envelope, dead, scheduled, workers = pipe.execute()
        if envelope is not None:
            return Status(serializer.result_kind(envelope))
        if dead:
            return Status.DEAD
        if scheduled is not None:
            return Status.SCHEDULED
        with self.redis.pipeline(transaction=False) as pipe:
            for worker in workers:
                pipe.lrange(self.keys.active(worker.decode()), 0, -1)
            held = pipe.execute()
        if any(serializer.message_id(message) == job.id for messages in held for message in messages):
            return Status.ACTIVE
        return Status.PENDING

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
        """Put dead tasks (all of them when ``job_ids`` is None) back on the queue; return how many.

        Each is pending again, without the result it was set aside with.
        """
        ids = [job.id for job in self.dead_jobs()] if job_ids is None else job_ids
        if not ids:
            return 0
        keys = [self.keys.dead, self.keys.dead_reasons, self.keys.pending]
        keys += [key for job_id in ids for key in (self.keys.result(job_id), self.keys.unique(job_id))]
        return int(self._scripts.requeue(keys=keys, args=ids))

    def purge_dead(self) -> int:
        """Delete every dead task for good; return how many there were."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hlen(self.keys.dead)
            pipe.delete(self.keys.dead, self.keys.dead_reasons)
            count, _ = pipe.execute()
        return int(count)


class TaskFunction(Generic[P, R]):
    """A function decorated with ``Queue.task``: call it to run it here, ``.delay`` to enqueue it."""

    def __init__(self, queue: Queue, fn: Callable[P, R], options: dict[str, Any]) -> None:
        self.queue = queue
        self.fn = fn
        self.options = options
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def delay(self, *args: Any, **kwargs: Any) -> Job:
        """Enqueue ``fn(*args, **kwargs)``; option keywords here override the decorator's."""
        return self.queue._enqueue(self.fn, args, {**self.options, **kwargs}, self.queue.defaults)

    def __reduce__(self) -> tuple[Any, ...]:
        # A task that refers to a decorated function (itself, say) gets the plain function on
        # the worker, rather than dragging the queue and its Redis connection along.
        return (_identity, (self.fn,))


def _identity(value: Any) -> Any:
    return value


def _run_at_ms(delay: float | None, at: datetime.datetime | None) -> int | None:
    """Milliseconds: of delay from now (the Redis clock applies it), or since the epoch for ``at``."""
    if delay is not None and at is not None:
        raise ConfigurationError("give delay or at, not both")
    if delay is not None:
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay < 0:
            raise ConfigurationError(f"delay must be a number of seconds >= 0, got {delay!r}")
        return round(delay * 1000)
    if at is not None:
        if not isinstance(at, datetime.datetime) or at.tzinfo is None:
            raise ConfigurationError(f"at must be a timezone-aware datetime, got {at!r}")
        return round(at.timestamp() * 1000)
    return None


async def _awaited(awaitable: Any) -> Any:
    return await awaitable

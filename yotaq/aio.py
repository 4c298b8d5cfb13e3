"""The producer side for asyncio: ``AsyncQueue``, ``Queue``'s twin whose every call to Redis is awaited.

The same messages, options, signatures, keys and scripts as ``Queue``: the same workers run what either
enqueues, and either reads the other's jobs (``queue.job(id)``, ``aq.job(id)``). Only the waiting
differs: an ``await`` on Redis lets the event loop serve everything else meanwhile.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar

from . import outcomes, serializer
from .broker import QueueKeys, check_name
from .broker.aio import AsyncBroker, AsyncClient
from .broker.urls import connect_async
from .exceptions import ConfigurationError
from .info import QueueInfo
from .job import DEFAULT_RESULT_TTL_MS, JobHandle, Options, Status
from .producing import NOW, PLACEMENT_NAMES, Placement, Producer, placement_of

P = ParamSpec("P")
R = TypeVar("R")


class AsyncQueue(Producer):
    """A named queue on Redis, for asyncio code: ``Queue`` with every call awaited.

    Args:
        redis_client: a ``redis.asyncio.Redis`` or ``redis.asyncio.RedisCluster`` (without
            ``decode_responses``); ``AsyncQueue.from_url(url)`` makes one with yotaq's settings.
        name: the queue's name: printable ASCII without spaces, ``{`` or ``}``.
        secret: when given, every message and result is signed with it (as ``Queue``'s).
        eager: run each task at once, in this process and on this event loop (an ``async def`` task
            is awaited), instead of enqueueing it; it still goes through the serializer. For tests.
        shards: spread the queue over this many Redis Cluster slots, as ``Queue``'s.
        replicas: count an enqueue done only once this many replicas have it (Redis ``WAIT``).
        **defaults: ``Options`` for every task of this queue (``retries``, ``timeout``, ...).
    """

    def __init__(
        self,
        redis_client: AsyncClient,
        name: str = "tasks",
        *,
        secret: str | bytes | None = None,
        eager: bool = False,
        shards: int = 1,
        replicas: int = 0,
        **defaults: Any,
    ) -> None:
        super().__init__(name, secret=secret, eager=eager, shards=shards, defaults=defaults)
        self.broker = AsyncBroker(redis_client, replicas=replicas)
        self.redis = redis_client
        self._owns_client = False

    @classmethod
    def from_url(cls, url: str, name: str = "tasks", **kwargs: Any) -> Self:
        """A queue on a client of its own for ``url``: ``redis://``, ``rediss://``, ``redis+cluster://`` or
        ``redis+sentinel://`` (as ``yotaq.connect``); ``aclose()`` (or ``async with``) closes it.

        Raises:
            ConfigurationError: the URL is malformed, or an argument is invalid.
        """
        queue = cls(connect_async(url), name, **kwargs)
        queue._owns_client = True
        return queue

    async def aclose(self) -> None:
        """Close the client, if this queue made it (``from_url``); a client given to it is the caller's."""
        if self._owns_client:
            await self.broker.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncQueue({self.name!r})"

    async def _keys_of(self, job_id: str) -> QueueKeys:
        """The keys of the shard a job lives in, after checking once that Redis agrees on the shards."""
        if not self._agreed:
            await self.broker.agree_shards(self.keys, len(self.shards), "producer")
            self._agreed = True
        return self._shard(job_id)

    # -- producing -----------------------------------------------------------------------------

    async def enqueue(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> AsyncJob[R]:
        """Put the call ``fn(*args, **kwargs)`` on the queue; a worker runs it at least once.

        Every argument goes to ``fn``; options go through ``aq.options(...)``.

        Raises:
            SerializationError: ``fn`` or an argument cannot travel; nothing was sent.
            ConnectionError: Redis could not be reached within a few seconds.
        """
        return await self._enqueue(fn, args, kwargs, self.defaults, NOW)

    async def enqueue_many(self, fn: Callable[..., R], calls: Iterable[tuple[Any, ...]]) -> list[AsyncJob[R]]:
        """Enqueue ``fn(*args)`` for each ``args`` in ``calls``, all at once (one transaction per shard).

        The function is pickled once for all of them.
        """
        return await self._enqueue_many(fn, calls, self.defaults)

    def options(self, **options: Any) -> AsyncWithOptions:
        """The same ``enqueue`` and ``enqueue_many``, with these options: ``delay``, ``at``, ``job_id``
        and any ``Options`` field, as ``Queue.options``.

        Raises:
            ConfigurationError: an unknown or invalid option.
        """
        return AsyncWithOptions(self, self.defaults, NOW).options(**options)

    async def _enqueue(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], options: Options, at: Placement
    ) -> AsyncJob[Any]:
        job_id, message = self._message(fn, args, kwargs, options, at)
        if self.eager:
            return await self._run_eagerly(job_id, message)
        keys = await self._keys_of(job_id)
        if at == NOW:
            await self.broker.push(keys, job_id, message)
        else:
            unique = at.job_id is not None
            await self.broker.enqueue(keys, job_id, message, unique=unique, at_ms=at.at_ms, delay_ms=at.delay_ms)
        return AsyncJob(self.broker, keys, job_id, self._secret, result_ttl_ms=options.result_ttl_ms)

    async def _enqueue_many(
        self, fn: Callable[..., Any], calls: Iterable[tuple[Any, ...]], options: Options
    ) -> list[AsyncJob[Any]]:
        job_ids, messages = self._messages(fn, calls, options)
        if self.eager:
            return [await self._run_eagerly(job_id, message) for job_id, message in zip(job_ids, messages, strict=True)]
        await self._keys_of("")  # Redis agrees on the shards
        for keys, (ids, shard_messages) in self._by_shard(job_ids, messages).items():
            await self.broker.push_many(keys, ids, shard_messages)
        ttl_ms = options.result_ttl_ms
        return [
            AsyncJob(self.broker, self._shard(job_id), job_id, self._secret, result_ttl_ms=ttl_ms) for job_id in job_ids
        ]

    async def _run_eagerly(self, job_id: str, message: bytes) -> AsyncJob[Any]:
        task = serializer.decode(message, self._secret, self.name)
        try:
            value = task.fn(*task.args, **task.kwargs)
            if inspect.isawaitable(value):
                value = await value
            outcome: tuple[Any, ...] = ("done", value)
        except Exception as exc:
            outcome = outcomes.failure(exc)
        envelope = self._eager_envelope(job_id, outcome)
        return AsyncJob(self.broker, await self._keys_of(job_id), job_id, self._secret, eager_result=envelope)

    # -- looking -------------------------------------------------------------------------------

    def job(self, job_id: str) -> AsyncJob[Any]:
        """The job with this id, for its status or result, whoever enqueued it (a ``Queue`` too)."""
        keys, ttl_ms = self._shard(check_name("job id", job_id)), self.defaults.result_ttl_ms
        return AsyncJob(self.broker, keys, job_id, self._secret, result_ttl_ms=ttl_ms)

    async def info(self) -> QueueInfo:
        """Counts of pending, scheduled, active, failed and dead jobs, the event counters, and the workers
        (summed over the shards of a sharded queue), as ``Queue.info``."""
        await self._keys_of("")  # Redis agrees on the shards
        return QueueInfo.merged([await self.broker.info(keys) for keys in self.shards])


class AsyncWithOptions:
    """``aq.options(...)``: ``enqueue`` and ``enqueue_many`` with options, kept apart from the function's
    own arguments."""

    def __init__(self, queue: AsyncQueue, options: Options, placement: Placement) -> None:
        self.queue = queue
        self._options = options
        self._placement = placement

    def options(self, **options: Any) -> AsyncWithOptions:
        """These options, with ``options`` on top."""
        task_options = {name: value for name, value in options.items() if name not in PLACEMENT_NAMES}
        placement = placement_of(self._placement, options)
        return AsyncWithOptions(self.queue, self._options.replace(**task_options), placement)

    async def enqueue(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> AsyncJob[R]:
        """``AsyncQueue.enqueue`` with these options."""
        return await self.queue._enqueue(fn, args, kwargs, self._options, self._placement)

    async def enqueue_many(self, fn: Callable[..., R], calls: Iterable[tuple[Any, ...]]) -> list[AsyncJob[R]]:
        """``AsyncQueue.enqueue_many`` with these options; each job gets its own id, at once."""
        if self._placement != NOW:
            raise ConfigurationError("enqueue_many takes no delay, at or job_id: use enqueue for each")
        return await self.queue._enqueue_many(fn, calls, self._options)


class AsyncJob(JobHandle[R]):
    """A task on a queue, known by its id: ``Job`` with its calls to Redis awaited (``await job.result()``,
    ``await job.status()``, ``await job.cancel()``). ``AsyncQueue.job(id)`` finds one from anywhere."""

    def __init__(
        self,
        broker: AsyncBroker,
        keys: QueueKeys,
        job_id: str,
        secret: bytes | None,
        *,
        eager_result: bytes | None = None,
        result_ttl_ms: int = DEFAULT_RESULT_TTL_MS,
    ) -> None:
        super().__init__(keys, job_id, secret, eager_result, result_ttl_ms)
        self._broker = broker

    async def result(self, timeout: float | None = None) -> R:
        """Wait for the task to finish and return its value; the wait is in Redis, the event loop free.

        Raises:
            JobFailed: the task raised on its last try (with the remote type, message and
                traceback), or was set aside without running.
            JobCancelled: the job was cancelled before it finished.
            ResultTimeout: no result within ``timeout`` seconds.
            ConnectionError: Redis could not be reached.
        """
        if self._eager_result is not None:
            return self._value(self._eager_result)
        waits = self._waits(timeout, self._broker.max_block_s)
        while (envelope := await self._broker.wait_result(self._keys, self.id, next(waits))) is None:
            pass
        return self._value(envelope)

    async def status(self) -> Status:
        """Where the job is now (``Job.status``, a property there): one O(1) read.

        Raises:
            InvalidMessage: its outcome's signature does not hold (forged).
        """
        state, envelope = (
            ("result", self._eager_result)
            if self._eager_result is not None
            else await self._broker.status(self._keys, self.id)
        )
        return self._status(state, envelope)

    async def cancel(self) -> bool:
        """Cancel the job, as ``Job.cancel``: one pending or scheduled never runs, one running is
        interrupted in its worker. Returns whether it was still to finish."""
        if self._eager_result is not None:
            return False
        return self._was_cancellable(await self._broker.cancel(self._keys, self.id, *self._cancel_args()))

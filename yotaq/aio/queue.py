"""``AsyncQueue``, ``AsyncWithOptions`` and ``AsyncTaskFunction``: ``Queue``, ``WithOptions`` and
``TaskFunction`` with every call to Redis awaited (see ``yotaq.aio``)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar

from .. import outcomes, serializer
from .. import periodic as schedules
from ..broker import QueueKeys, check_name
from ..broker.aio import AsyncBroker, AsyncClient
from ..broker.urls import connect_async
from ..exceptions import ConfigurationError
from ..groups import AsyncGroup
from ..info import FailedJob, FailedOrDead, QueueInfo
from ..job import Options
from ..producing import (
    ENQUEUE_DEFAULTS,
    ENQUEUE_OPTION_NAMES,
    Decorated,
    EnqueueOptions,
    Producer,
    Settings,
    check_kind,
    enqueue_options_of,
    periodic_timing,
)
from ..workflows import Call, Node, chain_nodes, chord_nodes, enqueue_nodes_async, group_nodes
from .job import AsyncJob

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


class AsyncQueue(Producer):
    """A named queue on Redis, for asyncio code: ``Queue`` with every call awaited.

    Args:
        redis_client: a ``redis.asyncio.Redis`` or ``redis.asyncio.RedisCluster`` (without
            ``decode_responses``); ``AsyncQueue.from_url(url)`` makes one with yotaq's settings.
        name: the queue's name: printable ASCII without spaces, ``{`` or ``}``.
        secret: when given, every message and result is signed with it (as ``Queue``'s).
        eager: run each task at once, in this process and on this event loop (an ``async def`` task
            is awaited), instead of enqueueing it; it still goes through the serializer. For tests.
        shards: spread the queue over this many Redis Cluster slots, as ``Queue``'s; 1 by default.
        replicas: count an enqueue done only once this many replicas have it (Redis ``WAIT``); 0 by default.
        settings: ``secret``, ``shards`` and ``replicas`` at once, as a ``yotaq.Settings`` that the
            deployment's workers are given too (then give none of the three).
        **defaults: ``Options`` for every task of this queue (``retries``, ``timeout``, ...).
    """

    def __init__(
        self,
        redis_client: AsyncClient,
        name: str = "tasks",
        *,
        secret: str | bytes | None = None,
        eager: bool = False,
        shards: int | None = None,
        replicas: int | None = None,
        settings: Settings | None = None,
        **defaults: Any,
    ) -> None:
        self.settings = Settings.of(settings, secret, shards, replicas)
        super().__init__(name, secret=self.settings.secret, eager=eager, shards=self.settings.shards, defaults=defaults)
        self.broker = AsyncBroker(redis_client, replicas=self.settings.replicas)
        self.redis = redis_client
        self._owns_client = False

    @classmethod
    def from_url(
        cls,
        url: str,
        name: str = "tasks",
        *,
        secret: str | bytes | None = None,
        eager: bool = False,
        shards: int | None = None,
        replicas: int | None = None,
        settings: Settings | None = None,
        **defaults: Any,
    ) -> Self:
        """A queue on a client of its own for ``url``: ``redis://``, ``rediss://``, ``redis+cluster://`` or
        ``redis+sentinel://`` (as ``yotaq.connect``); ``aclose()`` (or ``async with``) closes it. The
        other arguments are the constructor's.

        Raises:
            ConfigurationError: the URL is malformed, or an argument is invalid.
        """
        client = connect_async(url)  # it connects at its first command: nothing to close if the rest fails
        queue = cls(
            client, name, secret=secret, eager=eager, shards=shards, replicas=replicas, settings=settings, **defaults
        )
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
            RedisUnavailable: Redis could not be reached within a few seconds.
        """
        return await self._enqueue(fn, args, kwargs, self.defaults, ENQUEUE_DEFAULTS)

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Call:
        """``Queue.call``: the call described, not enqueued (nothing is sent)."""
        return Call(self, fn, args, kwargs, self.defaults)

    async def chain(self, *calls: Call) -> AsyncJob[Any]:
        """``Queue.chain``, awaited."""
        return (await enqueue_nodes_async(self, chain_nodes(calls)))[-1]

    async def group(self, calls: Iterable[Call]) -> AsyncGroup:
        """``Queue.group``, awaited."""
        return AsyncGroup(await enqueue_nodes_async(self, group_nodes(calls)))

    async def chord(self, calls: Iterable[Call], callback: Call) -> AsyncJob[Any]:
        """``Queue.chord``, awaited."""
        return (await enqueue_nodes_async(self, chord_nodes(calls, callback)))[-1]

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
        return AsyncWithOptions(self, self.defaults, ENQUEUE_DEFAULTS).options(**options)

    def periodic(
        self, *, every: float | None = None, cron: str | None = None, tz: str = "UTC", name: str | None = None
    ) -> Callable[[F], Awaitable[F]]:
        """Run a function periodically: ``await aq.periodic(...)(fn)``, as ``Queue.periodic`` (the same
        schedules: either queue lists and removes the other's). Registering waits on Redis, so this is
        no ``@`` decorator: it returns ``fn`` once the schedule is kept. Options:
        ``aq.options(...).periodic(...)``.
        """
        return AsyncWithOptions(self, self.defaults, ENQUEUE_DEFAULTS).periodic(
            every=every, cron=cron, tz=tz, name=name
        )

    async def remove_periodic(self, name: str) -> bool:
        """Stop a periodic schedule; whether there was one of that name."""
        keys = await self._keys_of(check_name("periodic schedule name", name))
        return await self.broker.unschedule(keys, name)

    async def periodics(self) -> list[schedules.Schedule]:
        """Every periodic schedule of the queue, with its next run."""
        await self._keys_of("")  # Redis agrees on the shards
        return schedules.listed(
            self.name, [record for keys in self.shards for record in await self.broker.schedules(keys)]
        )

    def task(self, **options: Any) -> Callable[[Callable[P, R]], AsyncTaskFunction[P, R]]:
        """Decorate a function so that ``await fn.delay(*args, **kwargs)`` enqueues it with ``options``.

        Calling ``fn(...)`` itself still runs it here; ``fn.options(...)`` overrides options.
        """
        bound = self.options(**options)
        return lambda fn: AsyncTaskFunction(bound, fn)

    async def _enqueue(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: Options,
        at: EnqueueOptions,
    ) -> AsyncJob[Any]:
        if at.depends_on:
            call = Call(self, fn, args, kwargs, options, at)
            return (await enqueue_nodes_async(self, [Node(call, list(at.depends_on), "")]))[0]
        job_id, message = self._message(fn, args, kwargs, options, at)
        if self.eager:
            return await self._run_eagerly(job_id, message)
        keys = await self._keys_of(job_id)
        if at == ENQUEUE_DEFAULTS:
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

    async def failed_jobs(self) -> list[FailedJob]:
        """The jobs that raised on their last try, oldest first, for as long as their records are kept."""
        return await self._failed_or_dead("failed")

    async def dead_jobs(self) -> list[FailedJob]:
        """The jobs set aside without a result (invalid, unsigned, or killing their workers), oldest first."""
        return await self._failed_or_dead("dead")

    async def _failed_or_dead(self, kind: FailedOrDead) -> list[FailedJob]:
        await self._keys_of("")  # Redis agrees on the shards
        return self._failed_jobs(
            kind, [record for keys in self.shards for record in await self.broker.jobs_of(keys, kind)]
        )

    async def requeue(self, kind: FailedOrDead, job_ids: Iterable[str] | None = None) -> int:
        """Put failed or dead jobs (all of that kind when ``job_ids`` is None) back on the queue, to
        run again from scratch; return how many were found."""
        kind = check_kind(kind)
        by_shard = self._ids_by_shard(
            [job.id for job in await self._failed_or_dead(kind)] if job_ids is None else job_ids
        )
        await self._keys_of("")  # Redis agrees on the shards
        return sum([await self.broker.requeue(keys, kind, shard_ids) for keys, shard_ids in by_shard.items()])

    async def purge(self, kind: FailedOrDead) -> int:
        """Forget every failed or dead job for good; return how many there were."""
        kind = check_kind(kind)
        await self._keys_of("")  # Redis agrees on the shards
        return sum([await self.broker.purge(keys, kind) for keys in self.shards])


class AsyncWithOptions:
    """``aq.options(...)``: ``enqueue`` and ``enqueue_many`` with options, kept apart from the function's
    own arguments."""

    def __init__(self, queue: AsyncQueue, options: Options, enqueue_options: EnqueueOptions) -> None:
        self.queue = queue
        self._options = options
        self._enqueue_options = enqueue_options

    def options(self, **options: Any) -> AsyncWithOptions:
        """These options, with ``options`` on top."""
        task_options = {name: value for name, value in options.items() if name not in ENQUEUE_OPTION_NAMES}
        enqueue_options = enqueue_options_of(self._enqueue_options, options)
        return AsyncWithOptions(self.queue, self._options.replace(**task_options), enqueue_options)

    def periodic(
        self, *, every: float | None = None, cron: str | None = None, tz: str = "UTC", name: str | None = None
    ) -> Callable[[F], Awaitable[F]]:
        """``AsyncQueue.periodic`` with these options."""
        spec = periodic_timing(self._enqueue_options, every, cron, tz)
        queue = self.queue

        async def register(fn: F) -> F:
            schedule, timing, body = queue._schedule(fn, name, spec, self._options)
            keys = await queue._keys_of(schedule)
            await queue.broker.schedule(
                keys, schedule, *schedules.record_of(keys, queue._secret, schedule, timing, body)
            )
            return fn

        return register

    async def enqueue(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> AsyncJob[R]:
        """``AsyncQueue.enqueue`` with these options."""
        return await self.queue._enqueue(fn, args, kwargs, self._options, self._enqueue_options)

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Call:
        """``AsyncQueue.call`` with these options."""
        return Call(self.queue, fn, args, kwargs, self._options, self._enqueue_options)

    async def enqueue_many(self, fn: Callable[..., R], calls: Iterable[tuple[Any, ...]]) -> list[AsyncJob[R]]:
        """``AsyncQueue.enqueue_many`` with these options; each job gets its own id, at once."""
        if self._enqueue_options != ENQUEUE_DEFAULTS:
            raise ConfigurationError("enqueue_many takes no delay, at, job_id or depends_on: use enqueue for each")
        return await self.queue._enqueue_many(fn, calls, self._options)


class AsyncTaskFunction(Decorated[AsyncWithOptions, P, R]):
    """A function decorated with ``AsyncQueue.task``: call it to run it here, ``await .delay(...)`` to
    enqueue it."""

    async def delay(self, *args: P.args, **kwargs: P.kwargs) -> AsyncJob[R]:
        """Enqueue ``fn(*args, **kwargs)`` with the decorator's options; every argument goes to ``fn``."""
        return await self._bound.enqueue(self.fn, *args, **kwargs)

    def options(self, **options: Any) -> AsyncTaskFunction[P, R]:
        """This task with ``options`` on top of the decorator's, for ``.delay``."""
        return AsyncTaskFunction(self._bound.options(**options), self.fn)

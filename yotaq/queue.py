"""The producer side: put tasks on a queue, with options in a channel of their own, and look at what is there."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Self, TypeVar

from . import outcomes, serializer
from .broker import Broker, QueueKeys, check_name, connect
from .broker.connection import Client
from .exceptions import ConfigurationError
from .job import Job, Options
from .producing import (
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

# Workflows, groups, schedules and the looks at a queue: imported by the methods using them, not by an enqueue
if TYPE_CHECKING:
    from . import periodic as schedules
    from .groups import Group
    from .info import FailedJob, FailedOrDead, QueueInfo
    from .workflows import Call

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


class Queue(Producer):
    """A named queue on Redis.

    Args:
        redis_client: the connection (``yotaq.connect(url)`` makes one; ``Queue.from_url(url)``, a queue with its own).
        name: the queue's name: printable ASCII without spaces, ``{`` or ``}``.
        secret: when given, every message and result is signed with it; workers holding it refuse the rest.
        eager: run each task at once, here, instead of enqueueing it (for tests); it still goes through
            the serializer, so what would fail on a worker fails here too.
        shards: spread the queue over this many Redis Cluster slots (so over several nodes); its
            producers and workers must all say the same (see ``docs/guide/cluster.md``); 1 by default.
        replicas: count an enqueue done only once this many replicas have it (Redis ``WAIT``); 0 by default.
        settings: ``secret``, ``shards`` and ``replicas`` at once, as a ``yotaq.Settings`` that the
            deployment's workers are given too (then give none of the three).
        **defaults: ``Options`` for every task of this queue (``retries``, ``timeout``, ...).
    """

    def __init__(
        self,
        redis_client: Client,
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
        self.broker = Broker(redis_client, replicas=self.settings.replicas)
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
        """A queue on a client of its own for ``url`` (any URL ``yotaq.connect`` takes), which ``close()`` (or
        ``with``) closes; the other arguments are the constructor's.

        Raises:
            ConfigurationError: the URL is malformed, or an argument is invalid.
            RedisUnavailable: no node of a cluster answered.
        """
        settings = Settings.of(settings, secret, shards, replicas)  # checked before a client is made
        client = connect(url)
        try:
            queue = cls(client, name, eager=eager, settings=settings, **defaults)
        except BaseException:
            client.close()  # a cluster's client has already connected, to learn its layout
            raise
        queue._owns_client = True
        return queue

    def close(self) -> None:
        """Close the client, if this queue made it (``from_url``); a client given to it is the caller's."""
        if self._owns_client:
            self.broker.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _keys_of(self, job_id: str, *, agree: bool = True) -> QueueKeys:
        """The keys of the shard a job lives in, once Redis agrees on the shards (``agree``: it is asked)."""
        if agree and not self._agreed:
            self.broker.agree_shards(self.keys, len(self.shards), "producer")
            self._agreed = True
        return self._shard(job_id)

    def __repr__(self) -> str:
        return f"Queue({self.name!r})"

    def enqueue(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Job[R]:
        """Put the call ``fn(*args, **kwargs)`` on the queue (every argument goes to ``fn``, options go
        through ``queue.options(...)``); a worker runs it at least once.

        Raises:
            SerializationError: ``fn`` or an argument cannot travel; nothing was sent.
            RedisUnavailable: Redis could not be reached within a few seconds.
        """
        return self._enqueue(fn, args, kwargs, self.defaults, ENQUEUE_DEFAULTS)

    def enqueue_many(self, fn: Callable[..., R], calls: Iterable[tuple[Any, ...]]) -> list[Job[R]]:
        """Enqueue ``fn(*args)`` for each ``args`` in ``calls``, all at once (one transaction), the
        function pickled once for all of them."""
        return self._enqueue_many(fn, calls, self.defaults)

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Call:
        """The call ``fn(*args, **kwargs)`` described, not enqueued: a step of ``chain``, a member of
        ``group`` or ``chord``. Options: ``queue.options(...).call(...)``."""
        from .workflows import Call

        return Call(self, fn, args, kwargs, self.defaults)

    def chain(self, *calls: Call) -> Job[Any]:
        """Enqueue the calls as a chain: each runs once the one before is done, its result as its first
        argument (before its own); returns the last step's job. A step that fails for good cancels the rest."""
        from .workflows import chain_nodes, enqueue_nodes

        return enqueue_nodes(self, chain_nodes(calls))[-1]

    def group(self, calls: Iterable[Call]) -> Group:
        """Enqueue the calls at once (one script call), to run in parallel; ``Group.results()`` waits for all."""
        from .groups import Group
        from .workflows import enqueue_nodes, group_nodes

        return Group(enqueue_nodes(self, group_nodes(calls)))

    def chord(self, calls: Iterable[Call], callback: Call) -> Job[Any]:
        """Enqueue the calls, and ``callback`` to run once after all are over (retries included), as
        ``callback.fn(results in member order, *callback.args)``; returns its job. A member that fails for good
        cancels it, unless it allows failures (``queue.options(allow_failure=True).call(...)``): then it gets
        the member's ``JobFailed``."""
        from .workflows import chord_nodes, enqueue_nodes

        return enqueue_nodes(self, chord_nodes(calls, callback))[-1]

    def options(self, **options: Any) -> WithOptions:
        """The same ``enqueue`` and ``enqueue_many``, with these options: ``delay`` (seconds) or ``at`` (an
        aware ``datetime``), ``job_id`` (unique while the job is pending, scheduled or active), ``depends_on``,
        and any ``Options`` field (``retries``, ``timeout``, ...).

        Raises:
            ConfigurationError: an unknown or invalid option.
        """
        return WithOptions(self, self.defaults, ENQUEUE_DEFAULTS).options(**options)

    def periodic(
        self, *, every: float | None = None, cron: str | None = None, tz: str = "UTC", name: str | None = None
    ) -> Callable[[F], F]:
        """Run a function periodically (decorate it) ``every`` seconds, or on a ``cron`` expression in the time
        zone ``tz`` (the ``cron`` extra), under ``name`` (its qualified name by default; a name registered again
        is replaced); each tick is enqueued once, whatever the number of workers (``docs/guide/periodic.md``)."""
        return WithOptions(self, self.defaults, ENQUEUE_DEFAULTS).periodic(every=every, cron=cron, tz=tz, name=name)

    def remove_periodic(self, name: str) -> bool:
        """Stop a periodic schedule; whether there was one of that name."""
        return self.broker.unschedule(self._keys_of(check_name("periodic schedule name", name)), name)

    def periodics(self) -> list[schedules.Schedule]:
        """Every periodic schedule of the queue, with its next run."""
        from . import periodic as schedules

        self._keys_of("")  # Redis agrees on the shards
        return schedules.listed(self.name, (record for keys in self.shards for record in self.broker.schedules(keys)))

    def task(self, **options: Any) -> Callable[[Callable[P, R]], TaskFunction[P, R]]:
        """Decorate a function so that ``fn.delay(*args, **kwargs)`` enqueues it with ``options``
        (``fn.options(...)`` overrides them); calling ``fn(...)`` itself still runs it here."""
        bound = self.options(**options)
        return lambda fn: TaskFunction(bound, fn)

    def _enqueue(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: Options,
        at: EnqueueOptions,
    ) -> Job[Any]:
        if at.depends_on:  # a workflow of one
            from .workflows import Call, Node, enqueue_nodes

            return enqueue_nodes(self, [Node(Call(self, fn, args, kwargs, options, at), list(at.depends_on), "")])[0]
        job_id, message = self._message(fn, args, kwargs, options, at)
        if self.eager:
            return self._run_eagerly(job_id, message)
        keys = self._keys_of(job_id)
        if at is ENQUEUE_DEFAULTS:
            self.broker.push(keys, job_id, message)
        else:
            unique = at.job_id is not None
            self.broker.enqueue(keys, job_id, message, unique=unique, at_ms=at.at_ms, delay_ms=at.delay_ms)
        return Job(self.broker, keys, job_id, self._secret, result_ttl_ms=options.result_ttl_ms)

    def _enqueue_many(
        self, fn: Callable[..., Any], calls: Iterable[tuple[Any, ...]], options: Options
    ) -> list[Job[Any]]:
        job_ids, messages = self._messages(fn, calls, options)
        if self.eager:
            return [self._run_eagerly(job_id, message) for job_id, message in zip(job_ids, messages, strict=True)]
        self._keys_of("")  # Redis agrees on the shards
        for keys, (ids, shard_messages) in self._by_shard(job_ids, messages).items():
            self.broker.push_many(keys, ids, shard_messages)
        ttl_ms = options.result_ttl_ms
        return [Job(self.broker, self._shard(job_id), job_id, self._secret, result_ttl_ms=ttl_ms) for job_id in job_ids]

    def _run_eagerly(self, job_id: str, message: bytes) -> Job[Any]:
        task = serializer.decode(message, self._secret, self.name)
        try:
            value = task.fn(*task.args, **task.kwargs)
            if inspect.isawaitable(value):
                value = asyncio.run(_awaited(value))
            outcome: tuple[Any, ...] = ("done", value)
        except Exception as exc:
            outcome = outcomes.failure(exc)
        envelope = self._eager_envelope(job_id, outcome)
        return Job(self.broker, self._keys_of(job_id), job_id, self._secret, eager_result=envelope)

    def job(self, job_id: str) -> Job[Any]:
        """The job with this id, for its status or result (or to cancel it), from any process."""
        keys = self._keys_of(check_name("job id", job_id), agree=False)
        return Job(self.broker, keys, job_id, self._secret, result_ttl_ms=self.defaults.result_ttl_ms)

    def info(self) -> QueueInfo:
        """The counts of jobs in each state, the event counters and the workers, summed over the shards."""
        from .info import QueueInfo

        self._keys_of("")  # Redis agrees on the shards
        return QueueInfo.merged([self.broker.info(keys) for keys in self.shards])

    def failed_jobs(self) -> list[FailedJob]:
        """The jobs that raised on their last try, oldest first, for as long as their records are kept."""
        return self._failed_or_dead("failed")

    def dead_jobs(self) -> list[FailedJob]:
        """The jobs set aside without a result (invalid, unsigned, or killing their workers), oldest first."""
        return self._failed_or_dead("dead")

    def _failed_or_dead(self, kind: FailedOrDead) -> list[FailedJob]:
        self._keys_of("")  # Redis agrees on the shards
        return self._failed_jobs(kind, (record for keys in self.shards for record in self.broker.jobs_of(keys, kind)))

    def requeue(self, kind: FailedOrDead, job_ids: Iterable[str] | None = None) -> int:
        """Put failed or dead jobs (all of ``kind`` without ``job_ids``) back, to run afresh; how many were found."""
        kind = check_kind(kind)
        by_shard = self._ids_by_shard([job.id for job in self._failed_or_dead(kind)] if job_ids is None else job_ids)
        self._keys_of("")  # Redis agrees on the shards
        return sum(self.broker.requeue(keys, kind, shard_ids) for keys, shard_ids in by_shard.items())

    def purge(self, kind: FailedOrDead) -> int:
        """Forget every failed or dead job for good; return how many there were."""
        kind = check_kind(kind)
        self._keys_of("")  # Redis agrees on the shards
        return sum(self.broker.purge(keys, kind) for keys in self.shards)


class WithOptions:
    """``queue.options(...)``: ``enqueue`` and ``enqueue_many`` with options, apart from the function's arguments."""

    def __init__(self, queue: Queue, options: Options, enqueue_options: EnqueueOptions) -> None:
        self.queue, self._options, self._enqueue_options = queue, options, enqueue_options

    def options(self, **options: Any) -> WithOptions:
        """These options, with ``options`` on top."""
        task_options = {name: value for name, value in options.items() if name not in ENQUEUE_OPTION_NAMES}
        enqueue_options = enqueue_options_of(self._enqueue_options, options)
        return WithOptions(self.queue, self._options.replace(**task_options), enqueue_options)

    def enqueue(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Job[R]:
        """``Queue.enqueue`` with these options."""
        return self.queue._enqueue(fn, args, kwargs, self._options, self._enqueue_options)

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Call:
        """``Queue.call`` with these options (``job_id``, ``delay``, ``depends_on``... too)."""
        from .workflows import Call

        return Call(self.queue, fn, args, kwargs, self._options, self._enqueue_options)

    def periodic(
        self, *, every: float | None = None, cron: str | None = None, tz: str = "UTC", name: str | None = None
    ) -> Callable[[F], F]:
        """``Queue.periodic`` with these options."""
        spec = periodic_timing(self._enqueue_options, every, cron, tz)
        queue = self.queue

        def register(fn: F) -> F:
            from . import periodic as schedules

            schedule, timing, body = queue._schedule(fn, name, spec, self._options)
            keys = queue._keys_of(schedule)
            queue.broker.schedule(keys, schedule, *schedules.record_of(keys, queue._secret, schedule, timing, body))
            return fn

        return register

    def enqueue_many(self, fn: Callable[..., R], calls: Iterable[tuple[Any, ...]]) -> list[Job[R]]:
        """``Queue.enqueue_many`` with these options; each job gets its own id, at once."""
        if self._enqueue_options != ENQUEUE_DEFAULTS:
            raise ConfigurationError("enqueue_many takes no delay, at, job_id or depends_on: use enqueue for each")
        return self.queue._enqueue_many(fn, calls, self._options)


class TaskFunction(Decorated[WithOptions, P, R]):
    """A function decorated with ``Queue.task``: call it to run it here, ``.delay`` to enqueue it."""

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> Job[R]:
        """Enqueue ``fn(*args, **kwargs)`` with the decorator's options; every argument goes to ``fn``."""
        return self._bound.enqueue(self.fn, *args, **kwargs)

    def options(self, **options: Any) -> TaskFunction[P, R]:
        """This task with ``options`` on top of the decorator's, for ``.delay``."""
        return TaskFunction(self._bound.options(**options), self.fn)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable

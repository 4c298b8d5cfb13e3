"""What ``Queue`` and ``AsyncQueue`` share: a queue's shards, defaults and secret, when and under which
id a job goes on it (``EnqueueOptions``), turning calls into signed messages and functions into periodic
schedules, reading failed and dead records, and decorated task functions (``Decorated``). Nothing here
talks to Redis: sending and reading, blocking or awaited, is each queue's own part.
"""

from __future__ import annotations

import datetime
import functools
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, ParamSpec, TypeVar

from . import outcomes, serializer
from .broker import QueueKeys, Record, check_name
from .broker.flows import MESSAGE_OPTION
from .broker.keys import shard_of
from .exceptions import ConfigurationError, YotaqError
from .functions import FunctionPickles
from .job import JobHandle, Options, new_job_id, seconds_to_ms

if TYPE_CHECKING:  # (imported where they are used: periodic schedules, failed and dead records)
    from .info import FailedJob, FailedOrDead

P = ParamSpec("P")
R = TypeVar("R")
B = TypeVar("B")  # what a decorated function enqueues through: WithOptions or AsyncWithOptions


class EnqueueOptions(NamedTuple):
    """When and under which id a job goes on the queue: options that stay with the producer."""

    delay_ms: int | None = None  # from now (from when its parents are over, for a dependent), on Redis's clock
    at_ms: int | None = None  # since the epoch
    job_id: str | None = None  # of the caller's choosing, unique while the job is not finished
    depends_on: tuple[JobHandle[Any] | str, ...] = ()  # its parents: jobs, or ids of jobs on its queue
    allow_failure: bool = False  # it runs even after a parent failed


ENQUEUE_DEFAULTS = EnqueueOptions()
ENQUEUE_OPTION_NAMES = frozenset(("delay", "at", "job_id", "depends_on", "allow_failure"))


def enqueue_options_of(base: EnqueueOptions, options: dict[str, Any]) -> EnqueueOptions:
    """``base`` with the ``delay``, ``at``, ``job_id``, ``depends_on`` and ``allow_failure`` of ``options``.

    Raises:
        ConfigurationError: both ``delay`` and ``at``, or one of them, the id or a parent invalid.
    """
    delay, at, job_id = options.get("delay"), options.get("at"), options.get("job_id")
    if "depends_on" in options:
        base = base._replace(depends_on=parents_of(options["depends_on"]))
    if "allow_failure" in options:
        if not isinstance(options["allow_failure"], bool):
            raise ConfigurationError(f"allow_failure must be True or False, got {options['allow_failure']!r}")
        base = base._replace(allow_failure=options["allow_failure"])
    if delay is not None and at is not None:
        raise ConfigurationError("give delay or at, not both")
    if delay is not None:
        base = base._replace(delay_ms=seconds_to_ms("delay", delay), at_ms=None)
    if at is not None:
        if not isinstance(at, datetime.datetime) or at.tzinfo is None:
            raise ConfigurationError(f"at must be a timezone-aware datetime, got {at!r}")
        base = base._replace(at_ms=math.ceil(at.timestamp() * 1000), delay_ms=None)
    if job_id is not None:
        base = base._replace(job_id=check_name("job id", job_id))
    return base


def parents_of(depends_on: object) -> tuple[JobHandle[Any] | str, ...]:
    """The parents a ``depends_on`` names: jobs (``Job``, ``AsyncJob``) or ids of jobs on the same queue.

    Raises:
        ConfigurationError: not a list of those.
    """
    if isinstance(depends_on, (str, JobHandle)):
        depends_on = [depends_on]
    if not isinstance(depends_on, (list, tuple)):
        raise ConfigurationError(f"depends_on must be a list of jobs or job ids, got {depends_on!r}")
    parents: list[JobHandle[Any] | str] = []
    for parent in depends_on:
        if isinstance(parent, JobHandle):
            parents.append(parent)
        elif isinstance(parent, str):
            parents.append(check_name("job id", parent))
        else:
            raise ConfigurationError(f"depends_on takes jobs or job ids, not {parent!r}")
    return tuple(parents)


def periodic_timing(enqueue_options: EnqueueOptions, every: float | None, cron: str | None, tz: str) -> dict[str, Any]:
    """The timing of ``queue.options(...).periodic(...)``, checked.

    Raises:
        ConfigurationError: the timing is invalid, or the options place the job (its ticks do that).
    """
    if enqueue_options != ENQUEUE_DEFAULTS:
        raise ConfigurationError("a periodic task takes no delay, at, job_id or depends_on: its ticks set their own")
    from . import periodic as schedules

    return schedules.timing(every, cron, tz)


def check_kind(kind: str) -> FailedOrDead:
    """``kind`` if it is where jobs are set aside: ``failed`` or ``dead``, else ``ConfigurationError``."""
    if kind not in ("failed", "dead"):
        raise ConfigurationError(f"kind must be 'failed' or 'dead', got {kind!r}")
    return kind  # type: ignore[return-value]


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What every producer and worker of one deployment must agree on, given once and passed to each:
    ``Queue(r, "q", settings=s)``, ``AsyncQueue(ar, "q", settings=s)``, ``Worker(r, ["q"], settings=s)``.

    ``secret``: the key messages and results are signed with (None: unsigned). ``shards``: how many
    shards a queue is spread over (Redis Cluster). ``replicas``: how many replicas must have each write
    (an enqueue, an outcome) before it counts (Redis ``WAIT``).
    """

    secret: str | bytes | None = field(default=None, repr=False)  # kept out of logs and tracebacks
    shards: int = 1
    replicas: int = 0

    @classmethod
    def of(
        cls, settings: Settings | None, secret: str | bytes | None, shards: int | None, replicas: int | None
    ) -> Settings:
        """``settings``, or the one the separate arguments make (None: not given); both at once is a mistake,
        even when a separate value equals the default (``shards=1`` beside ``Settings(shards=4)``).

        Raises:
            ConfigurationError: ``settings`` and any of ``secret``, ``shards``, ``replicas`` given.
        """
        if settings is None:
            return cls(
                secret=secret, shards=1 if shards is None else shards, replicas=0 if replicas is None else replicas
            )
        if not isinstance(settings, Settings):
            raise ConfigurationError(f"settings must be a yotaq.Settings, got {settings!r}")
        if (secret, shards, replicas) != (None, None, None):
            raise ConfigurationError("give settings= or secret=, shards= and replicas=, not both")
        return settings


class Producer:
    """A queue's name, shards, defaults and secret, and its messages (see ``Queue`` for the arguments)."""

    def __init__(
        self, name: str, *, secret: str | bytes | None, eager: bool, shards: int, defaults: dict[str, Any]
    ) -> None:
        self.shards = QueueKeys.of(name, shards)
        self.keys = self.shards[0]  # an unsharded queue's keys (a sharded one's first shard's)
        self.name = name
        self.eager = eager
        self.defaults = Options().replace(**defaults)
        self._secret = serializer.as_secret(secret)
        self._functions = FunctionPickles()
        self._agreed = eager  # whether Redis agrees on the number of shards (asked at first use)

    def _shard(self, job_id: str) -> QueueKeys:
        """The keys of the shard a job lives in."""
        return self.shards[shard_of(job_id, len(self.shards))]

    def _message(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: Options,
        at: EnqueueOptions,
        flow: tuple[bool, str] | None = None,
    ) -> tuple[str, bytes]:
        """The job id and signed message of the call ``fn(*args, **kwargs)``; ``flow``: its part in a
        workflow (whether it is a dependent, and its dependents)."""
        job_id = new_job_id() if at.job_id is None else at.job_id
        run_at_s = at.at_ms / 1000 if at.at_ms is not None else time.time() + (at.delay_ms or 0) / 1000
        expires = serializer.expires_at(run_at_s)
        changes = options.changes if flow is None else {**options.changes, MESSAGE_OPTION: flow}
        function = self._functions.dumps(fn)
        return job_id, serializer.encode_call(
            job_id, function, args, kwargs, changes, self._secret, self.name, expires=expires, limit=options.limit(fn)
        )

    def _messages(
        self, fn: Callable[..., Any], calls: Iterable[tuple[Any, ...]], options: Options
    ) -> tuple[list[str], list[bytes]]:
        """The job ids and signed messages of ``fn(*args)`` for each ``args``; ``fn`` pickled once."""
        function = self._functions.dumps(fn)
        arguments = [tuple(args) for args in calls]
        job_ids = [new_job_id() for _ in arguments]
        messages = serializer.encode_calls(
            function, job_ids, arguments, options.changes, self._secret, self.name, options.limit(fn)
        )
        return job_ids, messages

    def _by_shard(
        self, job_ids: Sequence[str], messages: Sequence[bytes]
    ) -> dict[QueueKeys, tuple[list[str], list[bytes]]]:
        """The jobs grouped by the shard each lives in, for one push per shard."""
        if len(self.shards) == 1:
            return {self.keys: (list(job_ids), list(messages))}
        grouped: dict[QueueKeys, tuple[list[str], list[bytes]]] = {}
        for job_id, message in zip(job_ids, messages, strict=True):
            ids, shard_messages = grouped.setdefault(self._shard(job_id), ([], []))
            ids.append(job_id)
            shard_messages.append(message)
        return grouped

    def _ids_by_shard(self, job_ids: Iterable[str]) -> dict[QueueKeys, list[str]]:
        """Job ids, each checked, grouped by the shard each lives in."""
        grouped: dict[QueueKeys, list[str]] = {}
        for job_id in job_ids:
            grouped.setdefault(self._shard(check_name("job id", job_id)), []).append(job_id)
        return grouped

    def _failed_jobs(self, kind: FailedOrDead, records: Iterable[Record]) -> list[FailedJob]:
        """The failed or dead jobs of ``records`` (of every shard), each with the reason its outcome
        gives, oldest first."""
        from .info import FailedJob

        jobs = []
        for record in records:
            try:
                reason = outcomes.failure_text(record.job_id, record.envelope, self._secret, self.name)
            except YotaqError as exc:
                reason = f"(its record cannot be read: {exc})"
            jobs.append(FailedJob(record.job_id, kind, reason, record.at_ms, record.expires_at_ms))
        return sorted(jobs, key=lambda job: job.at_ms)

    def _schedule(
        self, fn: Callable[..., Any], name: str | None, spec: dict[str, Any], options: Options
    ) -> tuple[str, dict[str, Any], bytes]:
        """A periodic schedule of ``fn`` (a decorated task's own function): its name (the function's
        qualified name by default), its timing with the limit its ticks run under, and the message body
        every tick carries."""
        plain = fn.fn if isinstance(fn, Decorated) else fn
        schedule = check_name("periodic schedule name", name or f"{plain.__module__}.{plain.__qualname__}")
        body = serializer.task_body(self._functions.dumps(plain), (), {}, options.changes)
        limit = options.limit(plain)
        return schedule, (spec if limit == serializer.NO_LIMIT else {**spec, "limit": limit}), body

    def _eager_envelope(self, job_id: str, outcome: tuple[Any, ...]) -> bytes:
        """The result envelope of a job run eagerly, in this process."""
        return outcomes.encode_result(job_id, outcome, self._secret, self.name, "eager")[1]


class Decorated(Generic[B, P, R]):
    """What ``TaskFunction`` and ``AsyncTaskFunction`` share: the function, which a call still runs
    here, and the options (``B``) that its ``delay`` enqueues it with."""

    def __init__(self, bound: B, fn: Callable[P, R]) -> None:
        self.fn = fn
        self._bound = bound
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        # A task that refers to a decorated function (itself, say) gets the plain function on
        # the worker, rather than dragging the queue and its Redis connection along.
        return (_identity, (self.fn,))


def _identity(value: Any) -> Any:
    return value

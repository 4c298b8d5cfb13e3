"""A job: the options it runs with, where it is (``Status``), and the handle ``enqueue`` returns."""

from __future__ import annotations

import dataclasses
import enum
import functools
import itertools
import json
import math
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from . import outcomes
from .broker import Broker, QueueKeys
from .exceptions import ConfigurationError, ResultTimeout
from .serializer import NO_LIMIT, VALID_ID

R = TypeVar("R")

RESULT_TTL_S = 86_400.0
FAILURE_TTL_S = 7 * 86_400.0  # as long as dramatiq keeps dead messages
RETRY_DELAY_S = 1.0
RETRY_BACKOFF = 2.0
RETRY_MAX_DELAY_S = 3_600.0
MAX_TTL_S = 10 * 365 * 86_400.0  # longer than anyone means, short of what breaks a millisecond count
MAX_RATE = 1_000_000  # starts per period, at most
MAX_CONCURRENCY = 1_000_000  # tasks of one limit key running at once: far past any fleet, well inside Lua's doubles
MAX_RETRIES = 1_000_000  # more than a task retried hourly for a century
MAX_BACKOFF = 1_000.0
_RATE = re.compile(r"(\d{1,7})/([smh])")
_PERIODS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000}
CANCELLER = "cancel"  # who a cancellation's result envelope says recorded it
_CANCELLABLE = {"pending", "scheduled", "active", "waiting"}  # the states a cancel still stops


@dataclass(frozen=True)
class Options:
    """How a task runs. Set per queue, per decorated function, or per call with ``queue.options(...)``.

    Attributes:
        retries: how many times to run it again after it raises.
        retry_delay: seconds before the first retry.
        retry_backoff: each retry waits this many times longer than the one before.
        retry_max_delay: the longest wait between retries, in seconds.
        timeout: seconds after which the task is stopped and fails with ``TimeoutError``.
        result_ttl: seconds its result is kept.
        failure_ttl: seconds the record of its failure is kept, if it fails for good (its
            failed result is kept for the shorter of this and ``result_ttl``).
        concurrency: at most this many tasks with the same ``limit_key`` run at once, across
            all workers; the others wait in Redis for a slot.
        rate_limit: at most this many tasks with the same ``limit_key`` start per second, minute
            or hour, across all workers (``"50/s"``, ``"100/m"``, ``"1000/h"``), evenly spaced.
        limit_key: what tasks share a limit: by default the function's qualified name.
    """

    retries: int = 0
    retry_delay: float = RETRY_DELAY_S
    retry_backoff: float = RETRY_BACKOFF
    retry_max_delay: float = RETRY_MAX_DELAY_S
    timeout: float | None = None
    result_ttl: float = RESULT_TTL_S
    failure_ttl: float = FAILURE_TTL_S
    concurrency: int | None = None
    rate_limit: str | None = None
    limit_key: str | None = None

    def __post_init__(self) -> None:
        _check_count("retries", self.retries, low=0, high=MAX_RETRIES)
        for name in ("retry_delay", "retry_max_delay"):
            _check_seconds(name, getattr(self, name), low=0)
        if not _is_number(self.retry_backoff) or not 1 <= self.retry_backoff <= MAX_BACKOFF:
            raise ConfigurationError(
                f"retry_backoff must be a number from 1 to {MAX_BACKOFF:g}, got {self.retry_backoff!r}"
            )
        if self.timeout is not None:
            _check_seconds("timeout", self.timeout, low=0.001)
        _check_seconds("result_ttl", self.result_ttl, low=0.001)
        _check_seconds("failure_ttl", self.failure_ttl, low=0.001)
        if self.concurrency is not None:
            _check_count("concurrency", self.concurrency, low=1, high=MAX_CONCURRENCY)
        if self.rate_limit is not None and self._rate is None:
            raise ConfigurationError(f"rate_limit must look like '50/s', '100/m' or '1000/h', got {self.rate_limit!r}")
        if self.limit_key is not None and (
            not isinstance(self.limit_key, str)
            or "," in self.limit_key
            or not VALID_ID.fullmatch(self.limit_key.encode())
        ):
            raise ConfigurationError(
                f"limit_key must be printable ASCII without spaces, ',', '{{' or '}}', got {self.limit_key!r}"
            )

    def replace(self, **changes: Any) -> Options:
        """These options with ``changes``; an unknown name raises ``ConfigurationError``."""
        if not changes:
            return self
        unknown = set(changes) - OPTION_NAMES
        if unknown:
            raise ConfigurationError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    @functools.cached_property
    def changes(self) -> dict[str, Any]:
        """The options that differ from the defaults: what a message carries."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) != f.default}

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first).

        Exponential, capped, with "equal jitter": a random point in the upper half of the step,
        so that retries of many tasks spread out yet each wait is at least as long as the last.
        """
        step = min(self.retry_max_delay, self.retry_delay * self.retry_backoff ** min(attempt - 1, 1000))
        return step / 2 + random.uniform(0, step / 2)

    @functools.cached_property
    def _rate(self) -> tuple[int, int] | None:
        """The rate limit as (count, period in ms), if it is well formed."""
        match = isinstance(self.rate_limit, str) and _RATE.fullmatch(self.rate_limit)
        return (int(match[1]), _PERIODS_MS[match[2]]) if match and 0 < int(match[1]) <= MAX_RATE else None

    def limit(self, fn: Callable[..., Any]) -> str:
        """The limit field of a message of ``fn`` with these options (``serializer.NO_LIMIT`` if none)."""
        if self.concurrency is None and self.rate_limit is None:
            return NO_LIMIT
        key = self.limit_key or f"{getattr(fn, '__module__', None)}.{getattr(fn, '__qualname__', type(fn).__name__)}"
        key = "".join(char if 0x21 <= ord(char) <= 0x7E and char not in ",{}" else "_" for char in key)[:200]
        concurrency = "-" if self.concurrency is None else str(self.concurrency)
        rate = "-" if self._rate is None else f"{self._rate[0]}/{self._rate[1]}"
        return f"{key},{concurrency},{rate}"

    @functools.cached_property
    def result_ttl_ms(self) -> int:
        return _ms(self.result_ttl)

    @functools.cached_property
    def failure_ttl_ms(self) -> int:
        return _ms(self.failure_ttl)

    @functools.cached_property
    def failed_result_ttl_ms(self) -> int:
        return _ms(min(self.result_ttl, self.failure_ttl))


OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(Options))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_count(name: str, value: object, *, low: int, high: int) -> None:
    """A whole number (an ``int``: not ``2.0``, not a bool) from ``low`` to ``high``, else ``ConfigurationError``."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigurationError(f"{name} must be a whole number from {low} to {high:_}, got {value!r}")


def _check_seconds(name: str, value: object, *, low: float) -> None:
    """A finite number of seconds from ``low`` to ``MAX_TTL_S``, else ``ConfigurationError``."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigurationError(f"{name} must be a number of seconds, got {value!r}")
    if not low <= value <= MAX_TTL_S:
        raise ConfigurationError(f"{name} must be from {low:g} to {MAX_TTL_S:g} seconds, got {value!r}")


def _ms(seconds: float) -> int:
    """Whole milliseconds, at least 1: Redis takes no fractions, and ``PEXPIRE 0`` deletes at once."""
    return max(1, math.ceil(seconds * 1000))


DEFAULT_RESULT_TTL_MS = _ms(RESULT_TTL_S)


def seconds_to_ms(name: str, seconds: object) -> int:
    """A delay given in seconds, checked, as whole milliseconds (0 allowed)."""
    _check_seconds(name, seconds, low=0)
    return math.ceil(seconds * 1000)  # type: ignore[operator]


class Status(enum.StrEnum):
    """Where a job is."""

    PENDING = "pending"  # waiting on the queue
    SCHEDULED = "scheduled"  # waiting for its time: delayed, or between retries
    WAITING = "waiting"  # a dependent waiting for its parents (a chain's step, a chord's callback)
    ACTIVE = "active"  # leased by a worker
    DONE = "done"
    FAILED = "failed"  # raised on its last try
    DEAD = "dead"  # set aside without a result: it could not run, or kept killing its workers
    CANCELLED = "cancelled"  # cancelled before it finished
    NOT_FOUND = "not_found"  # never enqueued here, or everything about it has expired


_LIVE = {"cancelling": Status.ACTIVE}  # a running job being interrupted is still running


def new_job_id() -> str:
    """A job id unique across processes: a random prefix per process and a counter."""
    return f"{_id_prefix}{next(_id_counter):x}"


def _new_id_prefix() -> None:
    global _id_prefix, _id_counter
    _id_prefix, _id_counter = os.urandom(8).hex(), itertools.count()


_id_prefix, _id_counter = "", itertools.count()
_new_id_prefix()
os.register_at_fork(after_in_child=_new_id_prefix)  # a forked child must not repeat its parent's ids


class JobHandle(Generic[R]):
    """What ``Job`` and ``AsyncJob`` share: a job's id and keys, and reading what Redis replies about
    it. Neither sends anything: each asks its own broker, blocking or awaited."""

    def __init__(
        self, keys: QueueKeys, job_id: str, secret: bytes | None, eager_result: bytes | None, result_ttl_ms: int
    ) -> None:
        self.id = job_id
        self.queue = keys.queue
        self._keys = keys
        self._secret = secret
        self._eager_result = eager_result  # the result envelope of a job run by an eager queue
        self._result_ttl_ms = result_ttl_ms  # how long a cancellation's record is kept, as the job's result

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r}, queue={self.queue!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, type(self)) and (other.id, other.queue) == (self.id, self.queue)

    def __hash__(self) -> int:
        return hash((self.id, self.queue))

    def _waits(self, timeout: float | None, slice_s: float) -> Iterator[float]:
        """How long each wait in Redis for the result lasts: at most ``slice_s``, until ``timeout`` is
        spent (for ever when None). There is always a first, so a result already stored is read even
        with ``timeout=0``.

        Raises:
            ResultTimeout: asked for a wait past ``timeout``.
        """
        if timeout is not None:
            _check_seconds("timeout", timeout, low=0)
        give_up_at = None if timeout is None else time.monotonic() + timeout
        wait = slice_s if timeout is None else min(slice_s, timeout)
        while True:
            yield wait  # (0 too: the broker makes it a wait that ends)
            if give_up_at is not None:
                wait = min(slice_s, give_up_at - time.monotonic())
                if wait <= 0:
                    raise ResultTimeout(f"job {self.id}: no result within {timeout:g} s")

    def _value(self, envelope: bytes) -> R:
        return outcomes.decode_result(self.id, envelope, self._secret, self.queue)  # type: ignore[no-any-return]

    def _status(self, state: str, envelope: bytes | None) -> Status:
        if envelope is None:
            return _LIVE.get(state) or Status(state)
        return Status(outcomes.result_kind(self.id, envelope, self._secret, self.queue))

    def _cancel_args(self) -> tuple[bytes, int]:
        """The result a cancel records, and how long it is kept (ms)."""
        outcome = ("cancelled", "cancelled by Job.cancel")
        return outcomes.encode_result(self.id, outcome, self._secret, self.queue, CANCELLER)[1], self._result_ttl_ms

    @staticmethod
    def _progress_of(data: bytes | None) -> Any:
        """The progress a task reported, from what Redis keeps of it (JSON), or None."""
        return None if data is None else json.loads(data)

    @staticmethod
    def _was_cancellable(state: str | None) -> bool:
        """Whether a cancel found the job still to finish (its state before)."""
        return state in _CANCELLABLE


class Job(JobHandle[R]):
    """A task on a queue, known by its id. ``Queue.job(id)`` finds one from another process."""

    def __init__(
        self,
        broker: Broker,
        keys: QueueKeys,
        job_id: str,
        secret: bytes | None,
        *,
        eager_result: bytes | None = None,
        result_ttl_ms: int = DEFAULT_RESULT_TTL_MS,
    ) -> None:
        super().__init__(keys, job_id, secret, eager_result, result_ttl_ms)
        self._broker = broker

    def result(self, timeout: float | None = None) -> R:
        """Wait for the task to finish and return its value.

        The wait blocks in Redis and wakes as soon as the result is stored.

        Raises:
            JobFailed: the task raised on its last try (with the remote type, message and
                traceback), or was set aside without running.
            ResultTimeout: no result within ``timeout`` seconds.
            RedisUnavailable: Redis could not be reached.
        """
        if self._eager_result is not None:
            return self._value(self._eager_result)
        waits = self._waits(timeout, self._broker.max_block_s)
        while (envelope := self._broker.wait_result(self._keys, self.id, next(waits))) is None:
            pass
        return self._value(envelope)

    @property
    def status(self) -> Status:
        """Where the job is now: one O(1) read, whatever the queue holds.

        A finished job's outcome is read through its signature.

        Raises:
            InvalidMessage: its outcome's signature does not hold (forged).
        """
        state, envelope = (
            ("result", self._eager_result)
            if self._eager_result is not None
            else self._broker.status(self._keys, self.id)
        )
        return self._status(state, envelope)

    def cancel(self) -> bool:
        """Cancel the job: one pending, scheduled or waiting (a dependent) never runs; one running is
        interrupted in its worker at once (raised inside it, as a time limit is). Its result raises
        ``JobCancelled`` (unless it finished first), kept as long as its ``result_ttl``; everything
        downstream of it (docs/guide/workflows.md) ends cancelled too. Returns whether it was still to
        finish (never, for a job an eager queue ran at once)."""
        if self._eager_result is not None:
            return False
        return self._was_cancellable(self._broker.cancel(self._keys, self.id, *self._cancel_args()))

    @property
    def progress(self) -> Any:
        """What the task last reported with ``yotaq.current_job().set_progress(...)``, or None."""
        return self._progress_of(self._broker.progress(self._keys, self.id))

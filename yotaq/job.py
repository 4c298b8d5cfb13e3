"""What a task carries besides its call (its options), and the handle ``enqueue`` returns."""

from __future__ import annotations

import dataclasses
import enum
import functools
import itertools
import os
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .queue import Queue

RESULT_TTL_S = 86_400.0
RETRY_DELAY_S = 1.0
RETRY_BACKOFF = 2.0
RETRY_MAX_DELAY_S = 3_600.0


@dataclass(frozen=True)
class Options:
    """How a task runs. Set per queue, per decorated function, or per ``enqueue`` call.

    Attributes:
        retries: how many times to run it again after it raises.
        retry_delay: seconds before the first retry.
        retry_backoff: each retry waits this many times longer than the one before.
        retry_max_delay: the longest wait between retries, in seconds.
        timeout: seconds after which the task is stopped and fails with ``TimeoutError``.
        result_ttl: seconds its result (or failure) is kept.
    """

    retries: int = 0
    retry_delay: float = RETRY_DELAY_S
    retry_backoff: float = RETRY_BACKOFF
    retry_max_delay: float = RETRY_MAX_DELAY_S
    timeout: float | None = None
    result_ttl: float = RESULT_TTL_S

    def __post_init__(self) -> None:
        if not _is_number(self.retries) or self.retries < 0 or int(self.retries) != self.retries:
            raise ConfigurationError(f"retries must be a whole number >= 0, got {self.retries!r}")
        for name in ("retry_delay", "retry_max_delay"):
            if not _is_number(getattr(self, name)) or getattr(self, name) < 0:
                raise ConfigurationError(f"{name} must be a number of seconds >= 0, got {getattr(self, name)!r}")
        if not _is_number(self.retry_backoff) or self.retry_backoff < 1:
            raise ConfigurationError(f"retry_backoff must be a number >= 1, got {self.retry_backoff!r}")
        if self.timeout is not None and (not _is_number(self.timeout) or self.timeout <= 0):
            raise ConfigurationError(f"timeout must be a positive number of seconds or None, got {self.timeout!r}")
        if not _is_number(self.result_ttl) or self.result_ttl <= 0:
            raise ConfigurationError(f"result_ttl must be a positive number of seconds, got {self.result_ttl!r}")

    def replace(self, **changes: Any) -> Options:
        """These options with ``changes``; an unknown name raises ``ConfigurationError``."""
        if not changes:
            return self
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
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
        step = min(self.retry_max_delay, self.retry_delay * self.retry_backoff ** (attempt - 1))
        return step / 2 + random.uniform(0, step / 2)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Status(enum.StrEnum):
    """Where a job is."""

    PENDING = "pending"  # waiting on the queue (or not known to yotaq at all)
    SCHEDULED = "scheduled"  # waiting for its time: delayed, or between retries
    ACTIVE = "active"  # leased by a worker
    DONE = "done"
    FAILED = "failed"  # raised on its last try
    DEAD = "dead"  # set aside without a result: it could not run, or kept killing its workers


def new_job_id() -> str:
    """A job id unique across processes: a random prefix per process and a counter."""
    return f"{_id_prefix}{next(_id_counter):x}"


def _new_id_prefix() -> None:
    global _id_prefix, _id_counter
    _id_prefix, _id_counter = os.urandom(8).hex(), itertools.count()


_id_prefix, _id_counter = "", itertools.count()
_new_id_prefix()
os.register_at_fork(after_in_child=_new_id_prefix)  # a forked child must not repeat its parent's ids


class Job:
    """A task on a queue, known by its id. ``Queue.job(id)`` finds one from another process."""

    def __init__(self, queue: Queue, job_id: str, *, eager_result: bytes | None = None) -> None:
        self.queue = queue
        self.id = job_id
        self._eager_result = eager_result  # the result envelope of a job run by an eager queue

    def __repr__(self) -> str:
        return f"Job({self.id!r}, queue={self.queue.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and (other.id, other.queue.name) == (self.id, self.queue.name)

    def __hash__(self) -> int:
        return hash((self.id, self.queue.name))

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the task to finish and return its value.

        The wait blocks in Redis and wakes as soon as the result is stored.

        Raises:
            JobFailed: the task raised on its last try (with the remote type, message and
                traceback), or was set aside without running.
            ResultTimeout: no result within ``timeout`` seconds.
        """
        return self.queue._result(self, timeout)

    @property
    def status(self) -> Status:
        return self.queue._status(self)

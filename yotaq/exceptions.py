"""Every error yotaq raises, on one screen."""

from __future__ import annotations

import builtins
import warnings
from typing import Any

MAX_RETRY_DELAY_S = 365 * 86_400.0


class YotaqError(Exception):
    """Base class of every error raised by yotaq."""


class ConfigurationError(YotaqError, ValueError):
    """Raised when a queue, worker or command is given an invalid setting."""


class SerializationError(YotaqError, TypeError):
    """Raised at enqueue time when a task or its arguments cannot travel to a worker."""


class RedisUnavailable(YotaqError, builtins.ConnectionError):
    """Raised when Redis cannot be reached, or cannot take writes for now (loading, failing over,
    out of memory), within a producer's deadline."""


class BrokerError(YotaqError):
    """Raised when Redis refuses a command for a reason that waiting will not fix."""


class InvalidMessage(YotaqError):
    """Raised when a message or a result cannot be trusted or read back; the reason says why.

    Attributes:
        job_id: the id to record a bad message under: its own digest unless it is authentic.
    """

    def __init__(self, reason: str, job_id: str = "") -> None:
        super().__init__(reason)
        self.job_id = job_id

    def __reduce__(self) -> tuple[Any, ...]:
        return (InvalidMessage, (str(self), self.job_id))


class ServerError(YotaqError):
    """Raised when the embedded Redis server cannot be found or started."""


class JobFailed(YotaqError):
    """Raised by ``Job.result`` when the task raised (after its last retry) or was set aside.

    Attributes:
        job_id: the job.
        type: the remote exception's type name ("Dead" for a job set aside without running).
        message: the remote exception's message, or why the job was set aside.
        traceback: the remote traceback, as text.
    """

    def __init__(self, job_id: str, type: str, message: str, traceback: str) -> None:  # noqa: A002
        super().__init__(f"job {job_id} failed: {type}: {message}")
        self.job_id = job_id
        self.type = type
        self.message = message
        self.traceback = traceback

    def __reduce__(self) -> tuple[Any, ...]:
        return (JobFailed, (self.job_id, self.type, self.message, self.traceback))


class JobCancelled(YotaqError):
    """Raised by ``Job.result`` when the job was cancelled (``Job.cancel``) before it finished."""

    def __init__(self, job_id: str, reason: str = "cancelled") -> None:
        super().__init__(f"job {job_id} was cancelled: {reason}")
        self.job_id = job_id
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (JobCancelled, (self.job_id, self.reason))


class JobIdInUse(YotaqError):
    """Raised by an enqueue under a chosen job id that still belongs to a cancelled job on the queue."""


class ResultTimeout(YotaqError, TimeoutError):
    """Raised by ``Job.result`` when the result did not come within the timeout."""


class Interrupted(BaseException):
    """Base of what a worker raises into its own main thread to stop what it is doing (a stop signal,
    a time limit, a cancel): yotaq's guards against whatever a task's code may raise let it through."""


class Retry(Exception):
    """Raised by a task to be run again after ``delay`` seconds (one of its retries)."""

    def __init__(self, delay: float | None = None) -> None:
        if delay is not None and (
            not isinstance(delay, (int, float)) or isinstance(delay, bool) or not 0 <= delay <= MAX_RETRY_DELAY_S
        ):
            raise ConfigurationError(f"Retry(delay=...) must be seconds from 0 to {MAX_RETRY_DELAY_S:g}, got {delay!r}")
        super().__init__(f"retry requested (delay {delay} s)" if delay is not None else "retry requested")
        self.delay = delay


DEPRECATED_NAMES = {"ConnectionError": "RedisUnavailable"}


def __getattr__(name: str) -> Any:
    # The old name shadowed the builtin in every module that imported it; it stays for one release.
    if name in DEPRECATED_NAMES:  # (``yotaq`` has them too: its __getattr__)
        new = DEPRECATED_NAMES[name]
        warnings.warn(f"yotaq.{name} is deprecated, use yotaq.{new}", DeprecationWarning, stacklevel=2)
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def describe(exc: BaseException) -> str:
    """``"Type: message"`` for any exception, even one whose ``__str__`` raises."""
    text = message_of(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def message_of(exc: BaseException) -> str:
    try:
        return str(exc)
    except Interrupted:
        raise
    except BaseException:
        return "<its message could not be read>"

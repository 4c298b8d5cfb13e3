"""The job a task runs as, as user code sees it: ``current_job()`` inside a task, to read its id and try and
to report progress; and the hooks (``Hook``) told of it around each task.

Hooks are points in a worker's life to plug tracing and metrics into (as dramatiq's middleware or celery's
signals do). Subclass ``Hook``, override what you need, and pass instances as ``Worker(..., hooks=[...])``.
A hook runs in the worker's main thread, around the task. One that raises is logged and ignored: it never
takes a task, or the worker, down.
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

from .exceptions import ConfigurationError, YotaqError

logger = logging.getLogger(__name__)

MAX_PROGRESS_BYTES = 4096


class CurrentJob:
    """The job a task runs as (made for every task: a plain class, cheap to make).

    Attributes:
        id: the job's id.
        queue: its queue's name.
        attempt: how many times it has failed and been retried before this try (0 on the first).
    """

    __slots__ = ("_report", "attempt", "id", "queue")

    def __init__(self, id: str, queue: str, attempt: int, report: Callable[[bytes], None]) -> None:  # noqa: A002
        self.id = id
        self.queue = queue
        self.attempt = attempt
        self._report = report

    def __repr__(self) -> str:
        return f"CurrentJob({self.id!r}, queue={self.queue!r}, attempt={self.attempt})"

    def set_progress(self, value: float | dict[str, Any]) -> None:
        """Report progress, readable from any process as ``job.progress``: a number, or a small dict that
        JSON can carry (at most ``MAX_PROGRESS_BYTES`` as JSON).

        Raises:
            ConfigurationError: the value is not a finite number or such a dict.
        """
        if isinstance(value, bool) or not isinstance(value, (int, float, dict)):
            raise ConfigurationError(f"progress must be a number or a dict, got {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigurationError(f"progress must be finite, got {value!r}")
        try:
            data = json.dumps(value, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"progress must be JSON-able: {exc}") from exc
        if len(data) > MAX_PROGRESS_BYTES:
            raise ConfigurationError(f"progress is {len(data)} bytes as JSON, over the limit of {MAX_PROGRESS_BYTES}")
        self._report(data)


_current: contextvars.ContextVar[CurrentJob | None] = contextvars.ContextVar("yotaq_current_job", default=None)


def current_job() -> CurrentJob:
    """The job the calling task runs as.

    Raises:
        YotaqError: called outside a task run by a worker.
    """
    job = _current.get()
    if job is None:
        raise YotaqError("current_job() is only available inside a task run by a yotaq worker")
    return job


def set_current(job: CurrentJob | None) -> contextvars.Token[CurrentJob | None]:
    """Set the job the calling context runs as (the worker does, around each task)."""
    return _current.set(job)


def reset_current(token: contextvars.Token[CurrentJob | None]) -> None:
    _current.reset(token)


class Hook:
    """Does nothing at each point; override the ones you need."""

    def on_worker_start(self, worker: str, queues: Sequence[str]) -> None:
        """The worker ``worker`` is about to take tasks from ``queues``."""

    def on_worker_stop(self, worker: str) -> None:
        """The worker has stopped: it gave back what it held."""

    def before_task(self, job: CurrentJob) -> None:
        """A task is about to run (``job.id``, ``job.queue``, ``job.attempt``)."""

    def after_task(self, job: CurrentJob, outcome: str, error: BaseException | None, seconds: float) -> None:
        """A task ran ``seconds``: ``outcome`` is ``done``, ``retried``, ``failed`` or ``cancelled``; ``error``
        what it raised, if anything."""


class Hooks:
    """Several hooks, called in order, each shielded from the others' and the worker's failures."""

    def __init__(self, hooks: Sequence[Hook]) -> None:
        self._hooks = list(hooks)

    def on_worker_start(self, worker: str, queues: Sequence[str]) -> None:
        for hook in self._hooks:
            self._shielded(hook.on_worker_start, worker, queues)

    def on_worker_stop(self, worker: str) -> None:
        for hook in self._hooks:
            self._shielded(hook.on_worker_stop, worker)

    def before_task(self, job: CurrentJob) -> None:
        for hook in self._hooks:
            self._shielded(hook.before_task, job)

    def after_task(self, job: CurrentJob, outcome: str, error: BaseException | None, seconds: float) -> None:
        for hook in self._hooks:
            self._shielded(hook.after_task, job, outcome, error, seconds)

    @staticmethod
    def _shielded(point: object, *args: object) -> None:
        try:
            point(*args)  # type: ignore[operator]
        except Exception:
            logger.exception("hook %r failed", point)

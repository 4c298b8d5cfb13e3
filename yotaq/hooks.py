"""Task hooks: points in a worker's life to plug tracing and metrics into (as dramatiq's middleware or
celery's signals do). Subclass ``Hook``, override what you need, and pass instances as
``Worker(..., hooks=[...])``.

A hook runs in the worker's main thread, around the task. One that raises is logged and ignored:
it never takes a task, or the worker, down.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from .current import CurrentJob

logger = logging.getLogger(__name__)


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

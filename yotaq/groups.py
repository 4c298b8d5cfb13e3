"""``Group`` and ``AsyncGroup``: the jobs of ``queue.group([...])``, and waiting for all of them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .exceptions import JobCancelled, JobFailed

if TYPE_CHECKING:
    from .aio import AsyncJob
    from .job import Job


def _collected(found: list[Any], failure: JobFailed | JobCancelled, allow_failure: bool) -> None:
    if not allow_failure:
        raise failure
    found.append(failure)


def _left(give_up_at: float | None) -> float | None:
    return None if give_up_at is None else max(0.0, give_up_at - time.monotonic())


class Group:
    """The jobs of ``queue.group([...])``, in member order."""

    def __init__(self, jobs: list[Job[Any]]) -> None:
        self.jobs = jobs

    def __repr__(self) -> str:
        return f"{type(self).__name__}({[job.id for job in self.jobs]!r})"

    def results(self, timeout: float | None = None, *, allow_failure: bool = False) -> list[Any]:
        """Wait for every member and return their results in member order, within ``timeout`` seconds in all.

        Raises:
            JobFailed: a member failed (with ``allow_failure``, its ``JobFailed`` is in its place).
            JobCancelled: a member was cancelled (likewise).
            ResultTimeout: not all of them within ``timeout``.
        """
        give_up_at = None if timeout is None else time.monotonic() + timeout
        found: list[Any] = []
        for job in self.jobs:
            try:
                found.append(job.result(timeout=_left(give_up_at)))
            except (JobFailed, JobCancelled) as failure:
                _collected(found, failure, allow_failure)
        return found


class AsyncGroup:
    """The jobs of ``await aq.group([...])``, in member order: ``Group`` with its wait awaited."""

    def __init__(self, jobs: list[AsyncJob[Any]]) -> None:
        self.jobs = jobs

    def __repr__(self) -> str:
        return f"{type(self).__name__}({[job.id for job in self.jobs]!r})"

    async def results(self, timeout: float | None = None, *, allow_failure: bool = False) -> list[Any]:
        """``Group.results``, awaited."""
        give_up_at = None if timeout is None else time.monotonic() + timeout
        found: list[Any] = []
        for job in self.jobs:
            try:
                found.append(await job.result(timeout=_left(give_up_at)))
            except (JobFailed, JobCancelled) as failure:
                _collected(found, failure, allow_failure)
        return found

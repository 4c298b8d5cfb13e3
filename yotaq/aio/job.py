"""``AsyncJob``: ``Job`` with its calls to Redis awaited."""

from __future__ import annotations

from typing import Any, TypeVar

from ..broker import QueueKeys
from ..broker.aio import AsyncBroker
from ..job import DEFAULT_RESULT_TTL_MS, JobHandle, Status

R = TypeVar("R")


class AsyncJob(JobHandle[R]):
    """A task on a queue, known by its id: ``Job`` with its calls to Redis awaited (``await job.result()``,
    ``await job.status()``, ``await job.cancel()``, ``await job.progress()``). ``AsyncQueue.job(id)``
    finds one from anywhere."""

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
            RedisUnavailable: Redis could not be reached.
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

    async def progress(self) -> Any:
        """What the task last reported with ``yotaq.current_job().set_progress(...)``, or None (``Job.progress``,
        a property there)."""
        return self._progress_of(await self._broker.progress(self._keys, self.id))

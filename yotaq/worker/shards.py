"""``Shards``: which of a worker's queues to lease from now, when the node of one of them fails.

On a Redis Cluster each queue, and each shard of a sharded queue, lives on the master that holds its
slot, and one master can be down (dead, or failing over to its replica) while the others serve. A
queue whose call fails is set aside for a pause that doubles with each failure up to
``MAX_PAUSE_S``, and the worker goes on leasing from the others; once the pause is over the next
lease tries it again. Before the first lease from a queue that failed, the worker gives back what it
holds there, as after any outage: the reply to a lease may be what was lost, and the tasks that
lease took would otherwise sit in this worker's active list, never run, for as long as it lives.

Only when every queue fails at once is it an outage of Redis as a whole: the call raises, and the
worker waits it out as it always has (``Worker._until_done``). On a single Redis that is the only
kind of outage, so nothing changes there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from .. import serializer
from ..broker import Ack, Broker, Leases, QueueKeys
from ..exceptions import RedisUnavailable
from .batch import Batch

logger = logging.getLogger(__name__)

FIRST_PAUSE_S = 0.05  # how long a queue whose node just failed is set aside
MAX_PAUSE_S = 1.0  # at most: about how late a worker finds a failed-over shard again


class Shards:
    """The queues of one worker, each shard its own, and those of them set aside because their node fails.

    Used from the worker's main thread only.
    """

    def __init__(
        self,
        broker: Broker,
        worker: str,
        batch: Batch,
        queues: Sequence[QueueKeys],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._broker = broker
        self._worker = worker
        self._batch = batch
        self._queues = list(queues)
        self._clock = clock
        self.rejoined: Callable[[], None] = lambda: None  # the worker beats again there (registering)
        self._failing: dict[QueueKeys, tuple[float, float]] = {}  # queue: (when to try it again, its pause)

    def ready(self, keys: QueueKeys) -> bool:
        """Whether to send ``keys`` commands now: its node has not failed, or its pause is over."""
        failing = self._failing.get(keys)
        return failing is None or self._clock() >= failing[0]

    def reset(self) -> None:
        """Forget the failures: the worker gave back everything on every queue (after an outage)."""
        self._failing.clear()

    def lease(self, keys: QueueKeys, size: int) -> Leases | None:
        """Send the queue's acknowledgements and lease up to ``size`` tasks from it, in one call.

        None when its node fails now while another queue's does not: the queue is set aside for a
        pause, its acknowledgements kept for later. Raises ``RedisUnavailable`` when every queue fails.
        """
        acks = self._batch.take_acks(keys).get(keys, [])
        try:
            if keys in self._failing:
                self._rejoin(keys, acks)
            leases = self._broker.ack_and_lease(keys, self._worker, acks, size)
        except BaseException as exc:
            self._batch.restore_acks({keys: acks} if acks else {})
            if isinstance(exc, RedisUnavailable) and self._set_aside(keys, exc):
                return None
            raise
        return leases

    def acknowledge(self, keys: QueueKeys, acks: Sequence[Ack]) -> list[str] | None:
        """Record the outcome of finished tasks of ``keys``; the ids of those no longer leased here.

        None when the queue is set aside, or its node fails now while another's does not: the caller
        keeps them for later. Raises ``RedisUnavailable`` when every queue fails.
        """
        if not self.ready(keys):
            return None
        try:
            return self._broker.ack_and_lease(keys, self._worker, acks, 0).lost
        except RedisUnavailable as exc:
            if self._set_aside(keys, exc):
                return None
            raise

    def _rejoin(self, keys: QueueKeys, acks: list[Ack]) -> None:
        """The queue's node answers again: record what finished (emptying ``acks``), give back what a lost
        lease reply may have left in this worker's active list there, and register again; then it is
        leased from."""
        with self._batch.handover:
            if acks:
                lost = self._broker.ack_and_lease(keys, self._worker, acks, 0).lost
                acks.clear()  # recorded: not to be sent again, whatever happens next
                for job_id in lost:
                    logger.warning("job %s: finished, but no longer leased by this worker", job_id)
            if given := self.give_back_strays(keys):
                logger.info("gave %d task(s) back to %r after its node failed", given, keys.queue)
        self.rejoined()
        del self._failing[keys]
        logger.warning("%s answers again: leasing from it", _named(keys))

    def give_back_strays(self, keys: QueueKeys) -> int:
        """Give back what this worker holds on ``keys`` but does not run, once its finished tasks there are
        acknowledged: what a lease whose reply was lost took. Leases are made only with nothing unstarted
        in the batch, so nothing else is held but the tasks running now, which it keeps. How many."""
        running = {task.job_id for task in self._batch.all_running() if task.keys == keys}
        held = self._broker.held(keys, self._worker)
        strays = [message for message in held if serializer.message_id(message) not in running]
        return self._broker.unlease(keys, self._worker, strays) if strays else 0

    def _set_aside(self, keys: QueueKeys, exc: RedisUnavailable) -> bool:
        """Set ``keys`` aside for a longer pause than last time; False if every queue is set aside."""
        pause = min(self._failing[keys][1] * 2, MAX_PAUSE_S) if keys in self._failing else FIRST_PAUSE_S
        if keys not in self._failing and len(self._queues) > 1:
            logger.warning("%s unreachable (%s): leasing from the other queues meanwhile", _named(keys), exc)
        self._failing[keys] = (self._clock() + pause, pause)
        return any(queue not in self._failing for queue in self._queues)


def _named(keys: QueueKeys) -> str:
    return f"queue {keys.queue!r}" + ("" if keys.shard is None else f" shard {keys.shard}")

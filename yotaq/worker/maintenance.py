"""A worker's maintenance threads: liveness (heartbeat), time (promoter and give-back), control.

- **Liveness**: every ``heartbeat_interval`` the worker beats (``liveness.Heart``), which also finds
  the workers that stopped beating; now and then one worker a queue forgets its expired records.
- **Time**: it moves scheduled tasks that are due onto their queues, and enqueues periodic ticks,
  waiting in Redis on the queues' markers in between (one blocking call: see ``_keep_time``); and
  every ``LONG_TASK_CHECK_S`` (without Redis) it looks at the task running now: one that has run
  ``LONG_TASK_S`` has the rest of its batch given back to the queue and the finished tasks'
  acknowledgements sent, so that neither waits behind a long task.
- **Control**: it waits on the queues' control channels (pub/sub) for the cancel of a job this
  worker holds, and interrupts it, and for a worker found dead, whose tasks on the queue it gives
  back; waiting sends Redis nothing.

None of them ever blocks the main one: they share only the ``Batch``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from ..broker import Broker, QueueKeys
from ..broker.connection import CONNECT_TIMEOUT_S
from ..broker.control import Subscription
from ..broker.upkeep import LAPSED
from ..exceptions import RedisUnavailable
from .batch import Batch
from .liveness import Heart, Liveness
from .timelimit import leave_signals_to_the_main_thread

logger = logging.getLogger(__name__)

MAX_WAIT_S = 30.0  # the longest a time thread's wait in Redis lasts
# A time thread looks at a queue when something there comes due, when its marker says so, and at least
# this often, in case a wake-up was lost all the same: a marker taken by a worker that then died is
# written again when that worker is found dead, and one that stops hands over what it knew
LOOK_ANYWAY_S = 300.0
# Redis ends a blocking wait up to 1/hz late (100 ms at its default hz of 10): a time thread waits
# in Redis until this long before the next job is due, and the rest here, to start it on time
EARLY_S = 0.15
MAX_PAUSE_S = 1.0  # how long a time thread waits after a failure before it tries again
TICK_AGAIN_S = 0.1  # after enqueueing a periodic tick, how soon a time thread asks when the next is
LONG_TASK_CHECK_S = 0.1  # how often the task running now is looked at (here, without Redis)
LISTEN_S = 0.5  # each wait for a cancel ends this often, to see a stop (it sends Redis nothing)
LISTENER_MARGIN_S = CONNECT_TIMEOUT_S + 0.5  # a stopping worker waits this much longer for its listener (a reconnect)
LONG_TASK_S = 0.2  # a task running this long sets the rest of its batch free
TRIM_INTERVAL_S = 300.0  # how often expired failure records and spent rates are looked for (by one worker)


class _Stopped(Exception):
    """A wait in Redis about to begin after the stop: it does not."""


class Maintenance:
    """The threads, started and stopped together."""

    def __init__(
        self,
        broker: Broker,
        queues: Sequence[QueueKeys],
        worker: str,
        liveness: Liveness,
        batch: Batch,
        secret: bytes | None,
        cancel_running: Callable[[str], None],
        counts: Mapping[str, int] | None = None,
    ) -> None:
        self._secret = secret
        self._cancel_running = cancel_running
        self._shards = {keys.queue: sum(1 for other in queues if other.queue == keys.queue) for keys in queues}
        self._broker = broker
        self._queues = queues
        self._worker = worker
        self._liveness = liveness
        self._batch = batch
        self._stop = threading.Event()
        self._heart = Heart(broker, queues, worker, liveness, secret, counts)
        self._threads = [
            broker.thread(self._every, self._live, liveness.heartbeat_interval, name=f"yotaq-liveness-{worker}"),
            broker.thread(self._every, self._free_the_batch_behind_a_long_task, LONG_TASK_CHECK_S,
                          name=f"yotaq-long-task-{worker}"),
        ]  # fmt: skip
        # The threads that wait in Redis: one listens for cancels (woken at a stop on its own channel); one
        # keeps time for each set of queues one blocking wait can cover: all of them on one Redis (its wait
        # ended at a stop), each queue (and shard) apart on a cluster, where each lives in a slot of its own
        # (it sees the stop within MAX_WAIT_S, and a marker it takes after the stop is written back).
        groups = [[keys] for keys in queues] if broker.cluster else [list(queues)]
        self._waiting_threads = [
            broker.thread(self._listen, name=f"yotaq-control-{worker}"),
            *(broker.thread(self._keep_time, group, name=f"yotaq-time-{worker}") for group in groups),
        ]  # fmt: skip
        self._trimmed_at = 0.0
        self._knows: set[QueueKeys] = set()  # the queues where this worker knows of something due
        self._time_waits_on: int | None = None  # the connection of the time thread's wait (one Redis)

    def start(self) -> None:
        for thread in [*self._threads, *self._waiting_threads]:
            thread.start()

    def stop(self) -> None:
        """Stop the threads, and join them but a time thread on a cluster (it sees the stop when its wait
        ends): the control listener, woken now, and the time thread on one Redis, whose wait is ended
        now, after this worker handed over what it knew (``_hand_over``). A thread left in redis-py as
        the interpreter exits can hang the exit, on a pool's lock it held when it was frozen."""
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()
        listener = self._waiting_threads[0]
        if listener.is_alive():
            with contextlib.suppress(RedisUnavailable):  # it is waiting out the outage, LISTEN_S at a time
                self._broker.wake_listener(self._worker)
            listener.join(LISTEN_S + LISTENER_MARGIN_S)
        self._hand_over()
        if not self._broker.cluster:
            self._broker.end_wait(lambda: self._time_waits_on)
            for thread in self._waiting_threads[1:]:
                if thread.is_alive():  # (a worker that never reached Redis never started it)
                    thread.join(MAX_WAIT_S)

    def beat(self) -> None:
        """Register this worker, or push its liveness deadline forward (``Heart.beat``)."""
        self._heart.beat()

    def deregistered(self) -> None:
        """Told that the worker gave everything back: its next beat is a first one."""
        self._heart.deregistered()

    def leave(self) -> None:
        """The worker stops: it is no longer alive."""
        self._heart.leave()

    def _every(self, step: Callable[[], float | None], interval: float) -> None:
        """Run ``step`` until stopped, ``interval`` apart (or as soon as ``step`` says); one failure never
        ends the thread. The main loop reports outages, so this one only notes them."""
        leave_signals_to_the_main_thread()
        wait = interval
        while not self._stop.wait(wait):
            wait = max(interval, LONG_TASK_CHECK_S)  # after a failure: never straight back into it
            try:
                wait = step() or interval
            except RedisUnavailable:
                pass  # each queue's reachability is kept by the heartbeats (beat)
            except Exception:
                logger.exception("%s failed", threading.current_thread().name)

    def _live(self) -> None:
        self.beat()
        now = time.monotonic()
        if now - self._trimmed_at < TRIM_INTERVAL_S:
            return
        for keys in self._queues:
            if self._broker.trim_turn(keys, self._worker, round(TRIM_INTERVAL_S * 1000)):
                self._broker.trim(keys)
        self._trimmed_at = now

    def _keep_time(self, queues: list[QueueKeys]) -> None:
        """Move the queues' scheduled jobs onto them as they come due, and enqueue periodic ticks: wait in
        Redis on the queues' markers until the next one is due, or a job is scheduled earlier than any
        this worker knows of (whatever schedules one writes the marker), or ``LOOK_ANYWAY_S`` passes, when
        the queue is looked at anyway. Each wait in Redis lasts ``MAX_WAIT_S`` at most, and the next goes on
        waiting, unless something is due."""
        leave_signals_to_the_main_thread()
        look_at = dict.fromkeys(queues, 0.0)  # when to look at each queue next (monotonic)
        while not self._stop.is_set():
            for keys in [keys for keys, at in look_at.items() if at <= time.monotonic()]:
                due = self._promote(keys)
                look_at[keys] = time.monotonic() + (LOOK_ANYWAY_S if due is None else due)
                if due is None:
                    self._knows.discard(keys)
                else:
                    self._knows.add(keys)
            wait = min(max(min(look_at.values()) - time.monotonic(), 0.0), MAX_WAIT_S)
            try:
                if wait <= EARLY_S:
                    self._stop.wait(wait)  # the last of a wait, on this clock
                elif (scheduled := self._broker.wait_due(queues, wait - EARLY_S, self._time_waits)) is not None:
                    look_at[scheduled] = 0.0
                    if self._stop.is_set():  # taken after the hand-over: another worker must look
                        self._broker.wake_time(scheduled)
                    self._knows.add(scheduled)
            except RedisUnavailable:
                self._stop.wait(MAX_PAUSE_S)  # the main loop reports outages
            except Exception:
                if not self._stop.is_set():
                    logger.exception("waiting for scheduled jobs failed")
                    self._stop.wait(MAX_PAUSE_S)

    def _time_waits(self, connection_id: int | None) -> None:
        self._time_waits_on = connection_id
        if connection_id is not None and self._stop.is_set():
            raise _Stopped  # the stop came after the look at it, and before its end_wait could see this wait

    def _hand_over(self) -> None:
        """Write the marker of each queue where this stopping worker knows of something due: a wait of
        another worker on it ends, and that one looks at the queue (else it would at its next look anyway,
        up to ``LOOK_ANYWAY_S`` late)."""
        for keys in list(self._knows):
            try:
                self._broker.wake_time(keys)
            except RedisUnavailable:
                return  # the workers that wait out the outage look at every queue once Redis is back

    def _promote(self, keys: QueueKeys) -> float | None:
        """Move the queue's due scheduled jobs onto it, and enqueue a periodic tick due; the seconds until
        it needs a look again, as the next job or tick there is due (None: nothing is)."""
        try:
            next_due, next_tick = self._broker.promote(keys)
            if next_tick == 0:  # a periodic schedule's (periodic is imported when one is due)
                from .. import periodic

                periodic.tick(self._broker, keys, self._shards[keys.queue], self._secret)
                return TICK_AGAIN_S  # the tick moved its schedule's next run on: ask when that is
        except RedisUnavailable:
            return MAX_PAUSE_S  # its node fails: the other queues' scheduled tasks still come due
        except Exception:
            logger.exception("moving the scheduled jobs of %r failed", keys.queue)
            return MAX_PAUSE_S
        return min((due for due in (next_due, next_tick) if due is not None), default=None)

    def _listen(self) -> None:
        """Wait on the queues' control channels for cancels of jobs this worker holds, and stop them
        (``Job.cancel``): one blocking read, no command sent while nothing comes."""
        leave_signals_to_the_main_thread()
        subscription = self._broker.subscribe(self._queues, self._worker)
        try:
            while not self._stop.is_set():
                try:
                    heard = subscription.next(LISTEN_S)
                    if heard is Subscription.RESUBSCRIBED:
                        self._heart.heard_of_a_lost_one()
                        self._look_for_cancels()
                    elif heard is not None and heard.text.startswith(LAPSED):
                        self._heart.reap(heard.keys, heard.text.removeprefix(LAPSED))
                        self._broker.wake_time(heard.keys)  # it may have taken the queue's marker
                    elif heard is not None and self._batch.holds(heard.text):
                        logger.info("job %s was cancelled: interrupting it", heard.text)
                        self._cancel_running(heard.text)
                except RedisUnavailable:
                    self._heart.heard_of_a_lost_one()  # a reap may have failed
                    self._stop.wait(LISTEN_S)  # the main loop reports outages
                except Exception:
                    if self._stop.is_set():
                        return  # the worker is gone, and may have closed the client under us
                    logger.exception("listening for cancels failed")
                    self._stop.wait(LISTEN_S)
        finally:
            subscription.close()

    def _look_for_cancels(self) -> None:
        """Stop the jobs this worker holds that were cancelled while no cancel could be heard."""
        for keys, job_id in self._batch.held():
            if self._broker.state_of(keys, job_id) == "cancelling":
                logger.info("job %s was cancelled: interrupting it", job_id)
                self._cancel_running(job_id)

    def _free_the_batch_behind_a_long_task(self) -> None:
        """Give back the unstarted tasks of a batch whose current task has been running long, and
        acknowledge the finished ones, so that their results are not held back either."""
        running = self._batch.running
        if running is None or time.monotonic() - running.since < LONG_TASK_S:
            return
        # Queue by queue: those whose node fails now stay with the main thread, which sends their
        # acknowledgements with its next lease there and runs their unstarted tasks.
        with self._batch.handover:
            acks = self._batch.take_acks()
            try:
                for keys, mine in list(acks.items()):
                    try:
                        lost = self._broker.ack_and_lease(keys, self._worker, mine, 0).lost
                    except RedisUnavailable:
                        continue
                    del acks[keys]
                    for job_id in lost:
                        logger.warning("job %s: finished, but no longer leased by this worker", job_id)
            finally:
                self._batch.restore_acks(acks)
        kept = self._batch.take_unstarted()  # until given back
        try:
            for keys in self._queues:
                messages = [message for queue, message, _ in kept if queue == keys]
                if not messages:
                    continue
                try:
                    given = self._broker.unlease(keys, self._worker, messages)
                except RedisUnavailable:
                    continue
                kept = [leased for leased in kept if leased[0] != keys]
                logger.info("job %s is taking long: gave %d task(s) back to %r", running.job_id, given, keys.queue)
        finally:
            self._batch.restore_unstarted(kept)

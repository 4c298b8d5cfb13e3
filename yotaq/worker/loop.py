"""``Worker``: lease a task, run it, record how it ended; keep the promise when things break.

A task is leased by moving its message from the queue's pending list into this worker's own
active list, and leaves that list only when its outcome is recorded (done, retried or set aside)
by one Lua script. The maintenance threads keep this worker's liveness deadline fresh and reap
workers whose deadline has passed, giving their tasks back to the queue. So a worker can die at
any point and its tasks still run, at least once, elsewhere.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, TypeVar

import redis

from .. import serializer
from ..broker import Ack, Broker, Patience, QueueKeys, check_name
from ..exceptions import ConfigurationError, ConnectionError, InvalidMessage, Retry  # noqa: A004 - yotaq's own
from ..functions import FunctionCache
from ..info import Buried
from ..job import Options, seconds_to_ms
from .batch import Batch
from .maintenance import Liveness, Maintenance, reap
from .timelimit import TaskRunner, TimeLimitExceeded, Watchdog
from .watch import QueueWatcher

logger = logging.getLogger(__name__)

T = TypeVar("T")

IDLE_WAIT_S = 1.0  # longest a blocking wait for work lasts before the worker looks around again
LIVENESS_TIMEOUT_S = 7.0  # a worker silent this long is presumed dead and its tasks requeued
HEARTBEAT_INTERVAL_S = 1.0  # also how often this worker looks for dead ones
MAX_DELIVERIES = 3  # a task whose worker died this many times is set aside

_DEFAULTS = Options()
NOT_PENDING = (
    "its job is not pending on this queue: a copy of a job that already ran (a replay), or a message "
    "not enqueued through yotaq; it was not run"
)


class _StopNow(BaseException):
    """Raised in the main thread by a signal to stop waiting, or by a second one to stop running."""


def _positive(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < float("inf"):
        raise ConfigurationError(f"{name} must be a positive number, got {value!r}")
    return value


class Worker:
    """Runs the tasks of one or more queues, one at a time, always from the first non-empty queue.

    Args:
        redis_client: the connection; ``yotaq.connect(url)`` makes a suitable one.
        queues: the queues to take tasks from, in priority order.
        secret: when given, only messages signed with it are run; anything else is set aside.
            Results are signed with it too.
        burst: stop when no task is pending or scheduled instead of waiting for more.
        liveness_timeout: seconds without a heartbeat after which this worker counts as dead.
        heartbeat_interval: seconds between heartbeats (and between looks for dead workers).
        max_deliveries: how many times a task may lose its worker before it is set aside.
        name: this worker's id; host, pid and a random suffix by default.
        watchdog: told each task's time limit, for a supervising process to enforce it even on
            code that Python's signals cannot interrupt.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        queues: Sequence[str] = ("tasks",),
        *,
        secret: str | bytes | None = None,
        burst: bool = False,
        liveness_timeout: float = LIVENESS_TIMEOUT_S,
        heartbeat_interval: float = HEARTBEAT_INTERVAL_S,
        max_deliveries: int = MAX_DELIVERIES,
        name: str | None = None,
        watchdog: Watchdog | None = None,
    ) -> None:
        if isinstance(queues, str) or not queues:
            raise ConfigurationError(f"queues must be a non-empty list of queue names, got {queues!r}")
        self.queues = [QueueKeys(queue) for queue in queues]
        self.broker = Broker(redis_client)
        self.burst = burst
        if _positive("heartbeat_interval", heartbeat_interval) >= _positive("liveness_timeout", liveness_timeout):
            raise ConfigurationError("heartbeat_interval must be shorter than liveness_timeout")
        if not isinstance(max_deliveries, int) or isinstance(max_deliveries, bool) or max_deliveries < 1:
            raise ConfigurationError(f"max_deliveries must be a positive integer, got {max_deliveries!r}")
        self.liveness = Liveness(liveness_timeout, heartbeat_interval, max_deliveries)
        self.name = check_name("worker name", name or f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
        self.counts: Counter[str] = Counter()
        self._secret = serializer.as_secret(secret)
        self._functions = FunctionCache()
        self._watchdog = watchdog
        self._runner = TaskRunner(watchdog)
        self._patience = Patience(None, sleep=self._sleep)
        self._batch = Batch()
        self._stopping = False
        self._waiting = False  # blocked waiting (for work, or for Redis): a stop signal may interrupt at once
        self._shutting_down = False
        self._current: QueueKeys | None = None  # the queue of the task being processed, until it is recorded

    def __repr__(self) -> str:
        return f"Worker({self.name!r}, queues={[q.queue for q in self.queues]})"

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        """Run tasks until stopped by SIGINT/SIGTERM (or, in burst mode, until there are none left).

        The first signal stops leasing and lets the running task finish; a second one gives the
        running task back to the queue as well. Either way every task this worker holds and has
        not finished is returned to the head of its queue.
        """
        if self._secret is None:
            logger.warning(
                "no secret set: this worker runs any message it finds, so anyone who can write to "
                "this Redis can run code here (set YOTAQ_SECRET or secret=)"
            )
        self._stopping = self._shutting_down = False
        self._batch = Batch()
        self._runner = TaskRunner(self._watchdog)  # made in the thread that runs the tasks
        maintenance = Maintenance(self.broker, self.queues, self.name, self.liveness, self._batch, self._secret)
        handlers = self._install_signal_handlers()
        watcher = QueueWatcher(self.broker, self.queues) if len(self.queues) > 1 else None
        crashed = False
        try:
            self._until_done(maintenance.beat)
            maintenance.start()
            logger.info("%r started", self)
            self._loop(watcher, maintenance)
        except _StopNow:
            if self._batch.running is not None:
                logger.warning("stopped during job %s: it goes back to its queue", self._batch.running[0])
        except BaseException:
            crashed = True
            raise
        finally:
            self._shutting_down = True
            maintenance.stop()
            if watcher is not None:
                watcher.stop()
            try:
                self._send_acks()
                if crashed and self._current is not None:
                    self._give_back_counted(self._current)
                self._release_all(maintenance)
            except ConnectionError as exc:
                logger.warning(
                    "could not give tasks back (%s): they return to the queue once this worker's heartbeat lapses", exc
                )
            finally:
                self._runner.close()
                for signum, handler in handlers.items():
                    signal.signal(signum, handler)
            logger.info("%r stopped: %s", self, dict(self.counts) or "no tasks")

    def _loop(self, watcher: QueueWatcher | None, maintenance: Maintenance) -> None:
        while not self._stopping:
            if self.burst and self._until_done(lambda: self.broker.waiting(self.queues)) == 0:
                return
            try:
                self._lease(watcher)
            except ConnectionError as exc:
                logger.warning("Redis unreachable (%s); retrying until it is back", exc)
                # The reply to a lease may be what was lost, leaving a message in our active list
                # that we do not know of. We hold nothing we have started: give everything back.
                self._until_done(lambda: self._rejoin(maintenance), failing=True)
                continue
            while not self._stopping and (leased := self._batch.next()) is not None:
                self._process(*leased)
                if self._batch.acks_due():
                    self._until_done(self._send_acks)
            # The batch's acknowledgements go out with the next lease, in one round trip.

    def _lease(self, watcher: QueueWatcher | None) -> None:
        """Lease the next task(s) into the batch, waiting up to ``IDLE_WAIT_S`` when there are none."""
        size = self._batch.size()
        for keys in self.queues:  # in priority order, acknowledging on the way
            acks = self._batch.take_acks(keys).get(keys, [])
            try:
                leases = self.broker.ack_and_lease(keys, self.name, acks, size)
            except BaseException:
                self._batch.restore_acks({keys: acks} if acks else {})
                raise
            self._lost_leases(leases.lost, "done")
            if leases.messages:
                self._batch.add(keys, leases)
                self._send_acks()  # those of the queues not looked at
                return
        self._waiting = True  # from here a stop signal interrupts the wait; before, it is seen here
        try:
            if self._stopping:
                return
            if watcher is None:
                first = self.queues[0]
                self._batch.add(first, self.broker.lease_blocking(first, self.name, IDLE_WAIT_S))
            else:
                watcher.wait(IDLE_WAIT_S, is_ready=lambda: self.broker.any_pending(self.queues))
        finally:
            self._waiting = False

    def _send_acks(self) -> None:
        """Acknowledge the finished tasks now, one script call per queue."""
        taken = self._batch.take_acks()
        try:
            while taken:
                keys, acks = next(iter(taken.items()))
                self._lost_leases(self.broker.ack_and_lease(keys, self.name, acks, 0).lost, "done")
                del taken[keys]
        finally:
            self._batch.restore_acks(taken)

    def _rejoin(self, maintenance: Maintenance) -> None:
        self._batch.take_unstarted()
        self._send_acks()  # finished work is recorded before the rest is given back
        self._release_all(maintenance)
        maintenance.beat()

    def _give_back_counted(self, keys: QueueKeys) -> None:
        """The worker is going down in the middle of a task: give that task back as a reaper would,
        counting a delivery, so that a task that takes its worker down is set aside in the end."""
        unstarted = [message for queue, message, _ in self._batch.take_unstarted() if queue == keys]
        if unstarted:
            self.broker.unlease(keys, self.name, unstarted)
        reaped = reap(self.broker, keys, self.name, self.liveness.max_deliveries, self._secret, force=True)
        logger.error("worker going down in the middle of a task: gave it back, counting a delivery (%s)", reaped)

    def _release_all(self, maintenance: Maintenance) -> None:
        """Give back every task this worker holds and deregister it."""
        maintenance.deregistered()
        for keys in self.queues:
            released = self.broker.release(keys, self.name)
            if released:
                logger.info("gave %d unfinished task(s) back to %r", released, keys.queue)

    # -- one task ------------------------------------------------------------------------------

    def _process(self, keys: QueueKeys, message: bytes, known: bool) -> None:
        """Run one leased task and record how it ended. Whatever fails in this worker's own code on
        the way is recorded as the task's failure too, and the worker goes on."""
        self._current = keys
        try:
            if not known:
                self._set_aside(keys, message, serializer.invalid_id(message), NOT_PENDING)
            else:
                self._run(keys, message)
        except (_StopNow, TimeLimitExceeded):
            raise
        except Exception as exc:
            logger.exception("recording the outcome of job %s failed", serializer.message_id(message))
            trace = "".join(traceback.format_exc())
            outcome = ("failed", "WorkerError", f"recording its outcome failed: {serializer.describe(exc)}", trace)
            self._fail(keys, message, serializer.message_id(message), _DEFAULTS, outcome)
        self._current = None

    def _run(self, keys: QueueKeys, message: bytes) -> None:
        try:
            task = serializer.decode(message, self._secret, keys.queue, self._functions)
            options = _DEFAULTS.replace(**task.options)
        except (InvalidMessage, ConfigurationError) as exc:
            record_id = exc.job_id if isinstance(exc, InvalidMessage) else serializer.message_id(message)
            self._set_aside(keys, message, record_id or serializer.invalid_id(message), str(exc))
            return
        self._batch.start(task.id)
        started = time.perf_counter()
        failure: BaseException | None = None
        try:
            value = self._runner.call(task, options.timeout)
        except TimeLimitExceeded as exc:
            failure = TimeoutError(f"task exceeded its time limit of {options.timeout:g} s")
            failure.__traceback__ = exc.__traceback__
        except _StopNow:
            raise
        except BaseException as exc:  # whatever a task raises, it must not take the worker down with it
            failure = exc
        elapsed = time.perf_counter() - started
        self._batch.finish(elapsed)
        if failure is None:
            kind, envelope = serializer.encode_result(task.id, ("done", value), self._secret, keys.queue)
            if kind == "done":
                logger.debug("job %s done in %.6f s", task.id, elapsed)
                self.counts["done"] += 1
                self._batch.acknowledge(keys, Ack(task.id, envelope, options.result_ttl_ms))
                return
            logger.error("job %s returned a value that cannot be stored: it fails", task.id)
            self._record("failed", task.id, lambda: self._bury(keys, message, task.id, "failed", envelope, options))
        elif task.attempt < options.retries:
            self._retry(keys, message, task, options, failure, elapsed)
        else:
            outcome = serializer.failure(failure)
            logger.error("job %s failed after %.3f s:\n%s", task.id, elapsed, outcome[3].rstrip())
            self._fail(keys, message, task.id, options, outcome)

    def _retry(
        self, keys: QueueKeys, message: bytes, task: serializer.Task, options: Options, failure: BaseException, s: float
    ) -> None:
        delay = failure.delay if isinstance(failure, Retry) and failure.delay is not None else None
        delay_s = options.backoff(task.attempt + 1) if delay is None else delay
        logger.warning(
            "job %s failed after %.3f s (try %d of %d), retrying in %.2f s: %s",
            task.id, s, task.attempt + 1, options.retries + 1, delay_s, serializer.describe(failure),
        )  # fmt: skip
        body = serializer.message_body(message)
        retry = serializer.with_attempt(task, body, self._secret, keys.queue, time.time() + delay_s)
        delay_ms = seconds_to_ms("retry delay", delay_s)
        self._record("retried", task.id, lambda: self.broker.retry(keys, self.name, message, retry, task.id, delay_ms))

    def _fail(self, keys: QueueKeys, message: bytes, job_id: str, options: Options, outcome: tuple[str, ...]) -> None:
        """Set a task aside as failed, with ``outcome``: ``("failed", type, message, traceback)``."""
        _, envelope = serializer.encode_result(job_id, outcome, self._secret, keys.queue)
        self._record("failed", job_id, lambda: self._bury(keys, message, job_id, "failed", envelope, options))

    def _set_aside(self, keys: QueueKeys, message: bytes, record_id: str, reason: str) -> None:
        """Set a message aside as dead, unrun, with the reason, under ``record_id``."""
        logger.error("job %s set aside as dead: %s", record_id, reason)
        _, envelope = serializer.encode_result(record_id, ("dead", reason), self._secret, keys.queue)
        self._record("invalid", record_id, lambda: self._bury(keys, message, record_id, "dead", envelope, _DEFAULTS))

    def _bury(
        self, keys: QueueKeys, message: bytes, record_id: str, kind: Buried, envelope: bytes, options: Options
    ) -> bool:
        return self.broker.bury(
            keys,
            self.name,
            message,
            record_id,
            kind=kind,
            envelope=envelope,
            record_ttl_ms=options.failure_ttl_ms,
            result_ttl_ms=options.failed_result_ttl_ms,
        )

    def _record(self, outcome: str, job_id: str, step: Callable[[], bool]) -> None:
        """Record how a task ended, retrying through an outage so finished work is not run again."""
        self.counts[outcome] += 1
        if not self._until_done(step):
            self._lost_leases([job_id], outcome)

    def _lost_leases(self, job_ids: list[str], outcome: str) -> None:
        for job_id in job_ids:
            logger.warning(
                "job %s: could not record it as %s, its lease was gone: this worker was presumed dead and "
                "the task given back to the queue (where it runs again), or an earlier try at recording it "
                "went through before the connection dropped",
                job_id,
                outcome,
            )

    # -- outages and signals -------------------------------------------------------------------

    def _until_done(self, command: Callable[[], T], *, failing: bool = False) -> T:
        """``command()``, waiting out an outage for as long as it lasts (a stop signal ends the wait).

        Logs once when Redis goes away (unless the caller already did: ``failing``) and once
        when it is back.
        """
        outage = [failing]

        def note(exc: ConnectionError) -> None:
            if not outage[0]:
                logger.warning("Redis unreachable (%s); retrying until it is back", exc)
                outage[0] = True

        result = self._patience.run(command, on_outage=note)
        if outage[0]:
            logger.warning("Redis is reachable again")
        return result

    def _sleep(self, seconds: float) -> None:
        """Wait between tries through an outage; a stop signal ends the wait (what was not recorded runs again)."""
        self._waiting = True
        try:
            if self._stopping:
                raise _StopNow
            time.sleep(seconds)
        finally:
            self._waiting = False

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            logger.warning("not in the main thread: no signal handling, and time limits apply to async tasks only")
            return {}
        handlers: dict[int, Any] = {
            signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGINT, signal.SIGTERM)
        }
        handlers[signal.SIGALRM] = self._runner.install()
        return handlers

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._shutting_down:
            return
        if self._stopping:
            raise _StopNow
        self._stopping = True
        logger.info(
            "%s: finishing the running task, then stopping (again to stop at once)", signal.Signals(signum).name
        )
        if self._waiting:
            raise _StopNow

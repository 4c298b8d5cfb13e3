"""The consumer side: lease a task, run it, record how it ended; keep the promise when things break.

A task is leased by moving its message from the queue's pending list into this worker's own
active list (``LMOVE``/``BLMOVE``), and leaves that list only when its outcome is recorded
(done, retried or set aside) in one Lua script. A heartbeat thread keeps this worker's liveness
deadline in Redis fresh and reaps workers whose deadline has passed, giving their tasks back to
the queue. So a worker can die at any point and its tasks still run, at least once, elsewhere.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol, TypeVar

import redis

from . import serializer
from .connection import ThreadClients, check_client, is_transient
from .exceptions import ConfigurationError, InvalidMessage, Retry
from .job import RESULT_TTL_S, Options
from .keys import QueueKeys, check_name
from .scripts import Scripts
from .watch import QueueWatcher

logger = logging.getLogger(__name__)

T = TypeVar("T")

IDLE_WAIT_S = 1.0  # longest a blocking wait for work lasts before the worker looks around again
SCHEDULE_POLL_S = 0.1  # how often the scheduler thread looks for newly scheduled tasks
LIVENESS_TIMEOUT_S = 7.0  # a worker silent this long is presumed dead and its tasks requeued
HEARTBEAT_INTERVAL_S = 1.0  # also how often this worker looks for dead ones
MAX_DELIVERIES = 3  # a task whose worker died this many times is set aside
PROMOTE_BATCH = 1_000  # scheduled tasks moved to the queue per script call
# Batching, for short tasks: a worker leases about BATCH_WORK_S of work at once (by the running
# average of its task durations, at most MAX_BATCH tasks), and acknowledges finished tasks
# together, at the end of the batch or ACK_DELAY_S after the first, whichever comes first. A
# batch whose current task has run HOSTAGE_S gives its unstarted tasks back to the queue.
BATCH_WORK_S = 0.01
MAX_BATCH = 64
ACK_DELAY_S = 0.01
HOSTAGE_S = 0.2
_FIRST_BACKOFF_S = 0.1
_MAX_BACKOFF_S = 5.0


_DEFAULT_OPTIONS = Options()


class Watchdog(Protocol):
    """Told the latest moment the running task may still be running; see ``supervisor``."""

    def arm(self, seconds: float) -> None: ...

    def disarm(self) -> None: ...


class _StopNow(BaseException):
    """Raised in the main thread by a signal to stop waiting, or by a second one to stop running."""


class _TimeLimit(BaseException):
    """Raised in the main thread by SIGALRM when a task runs past its timeout.

    A BaseException, so that a task's own ``except Exception`` cannot swallow it.
    """


def _positive(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
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
        queues: list[str] | tuple[str, ...] = ("tasks",),
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
        self.redis = check_client(redis_client)
        self.queues = [QueueKeys(queue) for queue in queues]
        self.burst = burst
        self.liveness_timeout = _positive("liveness_timeout", liveness_timeout)
        self.heartbeat_interval = _positive("heartbeat_interval", heartbeat_interval)
        if heartbeat_interval >= liveness_timeout:
            raise ConfigurationError("heartbeat_interval must be shorter than liveness_timeout")
        if not isinstance(max_deliveries, int) or max_deliveries < 1:
            raise ConfigurationError(f"max_deliveries must be a positive integer, got {max_deliveries!r}")
        self.max_deliveries = max_deliveries
        self.name = check_name("worker", name or f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
        self.counts: Counter[str] = Counter()
        self._secret = serializer.as_secret(secret)
        self._scripts = Scripts(redis_client)
        self._clients = ThreadClients(self.redis)  # what leases and acknowledgements go through
        self._functions = serializer.FunctionCache()
        self._watchdog = watchdog
        self._stopping = False
        self._waiting = False  # blocked waiting for work: a stop signal may interrupt at once
        self._shutting_down = False
        self._registered = False
        self._running: str | None = None  # the id of the job running now
        self._threads_stop = threading.Event()
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._in_main_thread = False
        self._lock = threading.Lock()  # guards _prefetched and _acks, shared with the scheduler thread
        self._prefetched: collections.deque[tuple[QueueKeys, bytes]] = collections.deque()
        self._running_since = 0.0
        self._average_task_s = 1.0  # pessimistic until measured: lease one at a time
        self._acks: list[tuple[QueueKeys, bytes, str, bytes, int]] = []
        self._acks_since = 0.0

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
        self._threads_stop = threading.Event()
        self._in_main_thread = threading.current_thread() is threading.main_thread()
        if not self._in_main_thread:
            logger.warning("not in the main thread: no signal handling, and time limits apply to async tasks only")
        handlers = self._install_signal_handlers()
        threads = [
            threading.Thread(target=self._heartbeat_loop, name=f"yotaq-heartbeat-{self.name}", daemon=True),
            threading.Thread(target=self._scheduler_loop, name=f"yotaq-scheduler-{self.name}", daemon=True),
        ]
        watcher = QueueWatcher(self.redis, self.queues) if len(self.queues) > 1 else None
        try:
            self._until_done(self._beat)
            for thread in threads:
                thread.start()
            logger.info("%r started", self)
            self._loop(watcher)
        except _StopNow:
            self._shutting_down = True
            if self._running is not None:
                logger.warning("stopped during job %s: it goes back to its queue", self._running)
        finally:
            self._shutting_down = True
            self._threads_stop.set()
            if watcher is not None:
                watcher.stop()
            for thread in threads:
                if thread.is_alive():
                    thread.join()
            try:
                self._flush_acks(retry=False)
                self._release_all()
            except redis.RedisError as exc:
                logger.warning(
                    "could not give tasks back (%s): they return to the queue once this worker's heartbeat lapses",
                    exc,
                )
            finally:
                if self._event_loop is not None:
                    self._event_loop.close()
                for signum, handler in handlers.items():
                    signal.signal(signum, handler)
            logger.info("%r stopped: %s", self, dict(self.counts) or "no tasks")

    def _loop(self, watcher: QueueWatcher | None) -> None:
        while not self._stopping:
            if self.burst and self._nothing_left():
                return
            batch = self._lease(watcher)
            with self._lock:
                self._prefetched.extend(batch)
            while not self._stopping:
                with self._lock:
                    if not self._prefetched:
                        break
                    keys, message = self._prefetched.popleft()
                self._process(keys, message)
                if self._acks and time.monotonic() - self._acks_since >= ACK_DELAY_S:
                    self._flush_acks()
            # The batch's acknowledgements go out with the next lease, in one round trip.

    def _lease(self, watcher: QueueWatcher | None) -> list[tuple[QueueKeys, bytes]]:
        """Move the next message(s) into this worker's active list; none when none came in time."""
        try:
            leased = self._take()
            if leased:
                return leased
            self._waiting = True  # from here a stop signal interrupts the wait; before, it is seen here
            try:
                if self._stopping:
                    return []
                if watcher is None:
                    first = self.queues[0]
                    pending, active = first.pending, first.active(self.name)
                    message = self._clients.call(
                        lambda client: client.blmove(pending, active, IDLE_WAIT_S, "LEFT", "RIGHT")
                    )
                    return [] if message is None else [(first, message)]
                watcher.wait(IDLE_WAIT_S, is_ready=lambda: any(self.redis.llen(q.pending) for q in self.queues))
                return []
            finally:
                self._waiting = False
        except redis.RedisError as exc:
            if not is_transient(exc):
                raise
            logger.warning("Redis unreachable (%s); retrying until it is back", exc)
            # The reply to a move may be what was lost, leaving a message in our active list
            # that we do not know of. We hold nothing we have started: give everything back.
            self._until_done(self._rejoin, failing=True)
            return []

    def _batch_size(self) -> int:
        """How many tasks to lease at once: one, or about BATCH_WORK_S worth when tasks have been short."""
        return max(1, min(MAX_BATCH, int(BATCH_WORK_S / self._average_task_s)))

    def _take(self) -> list[tuple[QueueKeys, bytes]]:
        """Lease a batch of tasks (often just one) from the first queue that has any, acknowledging
        on the way the finished tasks of each queue it looks at."""
        size = self._batch_size()
        for keys in self.queues:
            messages = self._ack_and_lease(keys, size)
            if messages:
                self._flush_acks()  # those of the queues not looked at
                return [(keys, message) for message in messages]
        return []

    def _scheduler_loop(self) -> None:
        """Move scheduled tasks to their queues when due, waking workers blocked on those queues.

        The waits are timed here rather than by Redis, whose blocking timeouts are only as fine
        as its event loop (100 ms at the default ``hz 10``).
        """
        wait_s = 0.0
        while not self._threads_stop.wait(wait_s):
            wait_s = SCHEDULE_POLL_S
            try:
                self._free_hostages()
                for keys in self.queues:
                    _, next_ms = self._scripts.promote(
                        keys=[keys.scheduled, keys.scheduled_messages, keys.pending], args=[PROMOTE_BATCH]
                    )
                    if next_ms >= 0:
                        wait_s = min(wait_s, next_ms / 1000)
            except redis.RedisError as exc:
                if not is_transient(exc):
                    logger.exception("moving scheduled tasks failed")
            except Exception:
                logger.exception("moving scheduled tasks failed")

    def _free_hostages(self) -> None:
        """Give back the unstarted tasks of a batch whose current task has been running long, and
        acknowledge the finished ones, so their results are not held back either."""
        if self._running is None or time.monotonic() - self._running_since < HOSTAGE_S:
            return
        if self._acks:
            self._flush_acks(retry=False)
        with self._lock:
            hostages, self._prefetched = list(self._prefetched), collections.deque()
        for keys in self.queues:
            mine = [message for queue, message in hostages if queue is keys]
            if not mine:
                continue
            try:
                released = self._scripts.unlease(keys=[keys.active(self.name), keys.pending], args=mine)
            except BaseException:
                with self._lock:  # keep what is still ours, to run it after all
                    self._prefetched.extendleft(reversed([h for h in hostages if h[1] in mine]))
                raise
            logger.info("job %s is taking long: gave %d task(s) back to %r", self._running, released, keys.queue)

    def _nothing_left(self) -> bool:
        """Whether no task is pending or scheduled on any of the queues (for burst mode)."""

        def count() -> int:
            with self.redis.pipeline(transaction=False) as pipe:
                for keys in self.queues:
                    pipe.llen(keys.pending)
                    pipe.zcard(keys.scheduled)
                return sum(pipe.execute())

        return self._until_done(count) == 0

    def _rejoin(self) -> None:
        with self._lock:
            self._prefetched.clear()
        self._flush_acks(retry=False)  # finished work is recorded before the rest is given back
        self._release_all()
        self._beat()

    # -- one task ------------------------------------------------------------------------------

    def _process(self, keys: QueueKeys, message: bytes) -> None:
        try:
            task = serializer.decode(message, self._secret, self._functions)
            options = _DEFAULT_OPTIONS.replace(**task.options)
        except (InvalidMessage, ConfigurationError) as exc:
            job_id, reason = serializer.message_id(message), str(exc)
            logger.error("job %s set aside: %s", job_id, reason)
            self._record("invalid", job_id, lambda: self._bury(keys, message, job_id, reason, "invalid", None))
            return
        self._running = task.id
        self._running_since = time.monotonic()
        started = time.perf_counter()
        failure: BaseException | None = None
        try:
            value = self._call(task, options.timeout)
        except _TimeLimit as exc:
            failure = TimeoutError(f"task exceeded its time limit of {options.timeout:g} s")
            failure.__traceback__ = exc.__traceback__
        except _StopNow:
            raise
        except BaseException as exc:  # whatever a task raises, it must not take the worker down with it
            failure = exc
        elapsed = time.perf_counter() - started
        self._average_task_s += (elapsed - self._average_task_s) / 8
        if failure is None:
            logger.debug("job %s done in %.6f s", task.id, elapsed)
            self.counts["done"] += 1
            envelope = serializer.encode_result(task.id, ("done", value), self._secret)
            with self._lock:
                if not self._acks:
                    self._acks_since = time.monotonic()
                self._acks.append((keys, message, task.id, envelope, round(options.result_ttl * 1000)))
        elif task.attempt < options.retries:
            delay = failure.delay if isinstance(failure, Retry) and failure.delay is not None else None
            delay = options.backoff(task.attempt + 1) if delay is None else delay
            tries = f"try {task.attempt + 1} of {options.retries + 1}"
            logger.warning(
                "job %s failed after %.3f s (%s), retrying in %.2f s: %r", task.id, elapsed, tries, delay, failure
            )
            retry = serializer.with_attempt(task.id, task.attempt + 1, serializer.message_body(message), self._secret)
            self._record("retried", task.id, lambda: self._retry(keys, message, retry, task.id, delay))
        else:
            trace = "".join(traceback.format_exception(failure))
            logger.error("job %s failed after %.3f s:\n%s", task.id, elapsed, trace.rstrip())
            outcome = ("failed", type(failure).__name__, str(failure), trace)
            envelope = serializer.encode_result(task.id, outcome, self._secret)
            self._record("failed", task.id, lambda: self._bury(keys, message, task.id, trace, "failed", envelope))
        self._running = None

    def _call(self, task: serializer.Task, timeout: float | None) -> Any:
        """Run the task within its time limit: SIGALRM interrupts a function; a coroutine it returns
        (an ``async def`` task returns one at once) runs on this worker's event loop under
        ``asyncio.wait_for``. The watchdog, when there is one, is armed for both."""
        if timeout is not None and self._watchdog is not None:
            self._watchdog.arm(timeout)
        try:
            if timeout is not None and self._in_main_thread:
                signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                value = task.fn(*task.args, **task.kwargs)
            finally:
                if timeout is not None and self._in_main_thread:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            if inspect.isawaitable(value):
                value = self._run_coroutine(value, timeout)
            return value
        finally:
            if self._watchdog is not None:
                self._watchdog.disarm()

    def _run_coroutine(self, awaitable: Any, timeout: float | None) -> Any:
        if self._event_loop is None:
            self._event_loop = asyncio.new_event_loop()
        try:
            return self._event_loop.run_until_complete(asyncio.wait_for(awaitable, timeout))
        except TimeoutError:
            raise _TimeLimit from None

    def _record(self, outcome: str, job_id: str, step: Callable[[], bool]) -> None:
        """Record how a task ended, retrying through an outage so finished work is not run again."""
        self.counts[outcome] += 1
        if not self._until_done(step):
            self._lost_lease(job_id, outcome)

    def _lost_lease(self, job_id: str, outcome: str) -> None:
        logger.warning(
            "job %s: could not record it as %s, its lease was gone: this worker was presumed dead and "
            "the task given back to the queue (where it runs again), or an earlier try at recording it "
            "went through before the connection dropped",
            job_id,
            outcome,
        )

    def _flush_acks(self, retry: bool = True) -> None:
        """Acknowledge the finished tasks, one script call per queue; through an outage unless ``retry`` is off."""
        for keys in self.queues:
            if any(ack[0] is keys for ack in self._acks):
                if retry:
                    self._until_done(lambda keys=keys: self._ack_and_lease(keys, 0))
                else:
                    self._ack_and_lease(keys, 0)

    def _ack_and_lease(self, keys: QueueKeys, size: int) -> list[bytes]:
        """Acknowledge the finished tasks of ``keys``'s queue and lease up to ``size`` more, in one script call.

        The acknowledgements are forgotten only once Redis has answered, so that a call lost to
        an outage is made again rather than the finished tasks run again.
        """
        with self._lock:  # the scheduler thread acknowledges too, while a long task runs
            mine = [ack for ack in self._acks if ack[0] is keys]
            script_keys = [keys.active(self.name), keys.pending, keys.deliveries, keys.stats]
            args: list[Any] = [" ".join(ack[2] for ack in mine), " ".join(str(ack[4]) for ack in mine), size]
            for _, message, job_id, envelope, _ in mine:
                script_keys += (keys.result(job_id), keys.unique(job_id))
                args += (message, envelope)
            lost, messages = self._clients.call(
                lambda client: self._scripts.ack(keys=script_keys, args=args, client=client)
            )
            if mine:
                self._acks = [ack for ack in self._acks if ack[0] is not keys]
        for position in lost:
            self._lost_lease(mine[position - 1][2], "done")
        return messages  # type: ignore[no-any-return]

    def _retry(self, keys: QueueKeys, message: bytes, retry: bytes, job_id: str, delay_s: float) -> bool:
        return bool(
            self._scripts.retry(
                keys=[keys.active(self.name), keys.scheduled, keys.scheduled_messages, keys.stats],
                args=[message, retry, job_id, round(delay_s * 1000)],
            )
        )

    def _bury(
        self, keys: QueueKeys, message: bytes, job_id: str, reason: str, counter: str, envelope: bytes | None
    ) -> bool:
        envelope = envelope or serializer.dead_result(reason)
        script_keys = [keys.active(self.name), keys.dead, keys.dead_reasons, keys.deliveries, keys.stats]
        script_keys += [keys.result(job_id), keys.unique(job_id)]
        args = [message, job_id, reason, counter, envelope, round(RESULT_TTL_S * 1000)]
        return bool(self._scripts.bury(keys=script_keys, args=args))

    # -- liveness ------------------------------------------------------------------------------

    def _beat(self) -> None:
        for keys in self.queues:
            was_missing = self._scripts.heartbeat(
                keys=[keys.workers, keys.heartbeats], args=[self.name, int(self.liveness_timeout * 1000)]
            )
            if was_missing and self._registered:
                logger.warning("%r was presumed dead on %r and its tasks given to other workers", self, keys.queue)
        self._registered = True

    def _reap(self) -> None:
        """Give back the tasks of every worker whose liveness deadline has passed."""
        seconds, microseconds = self.redis.time()
        now_ms = seconds * 1000 + microseconds // 1000
        for keys in self.queues:
            for member in self.redis.zrangebyscore(keys.workers, "-inf", now_ms):
                worker = member.decode(errors="replace")
                try:
                    keys.active(worker)
                except ConfigurationError:
                    logger.error("ignoring %r in %s: not a worker name yotaq would use", worker, keys.workers)
                    continue
                reaped = reap(self._scripts, self.redis, keys, worker, self.max_deliveries, force=False)
                if reaped:
                    logger.warning(
                        "worker %s on %r missed its heartbeat: %d task(s) requeued, %d set aside",
                        worker,
                        keys.queue,
                        *reaped,
                    )

    def _heartbeat_loop(self) -> None:
        # Reaping waits until this worker has been connected for a whole liveness timeout: after
        # an outage every deadline in Redis has lapsed, and live workers need that long to beat
        # again; this worker may itself have started during the outage.
        connected_at: float | None = None
        while not self._threads_stop.wait(self.heartbeat_interval):
            try:
                self._beat()
                connected_at = connected_at or time.monotonic()
                if time.monotonic() - connected_at >= self.liveness_timeout:
                    self._reap()
            except redis.RedisError as exc:
                if not is_transient(exc):
                    logger.exception("heartbeat failed")
                connected_at = None  # the main loop reports outages; beats resume when Redis does
            except Exception:
                logger.exception("heartbeat failed")

    def _release_all(self) -> None:
        """Give back every task this worker holds and deregister it."""
        self._registered = False
        for keys in self.queues:
            released = self._scripts.release(
                keys=[keys.workers, keys.heartbeats, keys.active(self.name), keys.pending], args=[self.name]
            )
            if released:
                logger.info("gave %d unfinished task(s) back to %r", released, keys.queue)

    def _until_done(self, command: Callable[[], T], *, failing: bool = False) -> T:
        """Run ``command``, retrying a lost Redis connection with capped backoff, forever.

        Logs once when Redis goes away (unless the caller already did: ``failing``) and once
        when it is back.
        """
        pause = _FIRST_BACKOFF_S
        while True:
            if failing:
                self._waiting = True  # a stop signal ends the wait for Redis; what was not recorded runs again
                try:
                    if self._stopping:
                        raise _StopNow
                    time.sleep(pause)
                finally:
                    self._waiting = False
                pause = min(pause * 2, _MAX_BACKOFF_S)
            try:
                result = command()
            except redis.RedisError as exc:
                if not is_transient(exc):
                    raise
                if not failing:
                    logger.warning("Redis unreachable (%s); retrying until it is back", exc)
                failing = True
                continue
            if failing:
                logger.warning("Redis is reachable again")
            return result

    # -- signals -------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> dict[int, Any]:
        if not self._in_main_thread:
            return {}
        handlers = {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
        handlers[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_alarm)
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

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self._running is not None:
            raise _TimeLimit


def reap(
    scripts: Scripts, client: redis.Redis, keys: QueueKeys, worker: str, max_deliveries: int, *, force: bool
) -> tuple[int, int] | None:
    """Give back the tasks of ``worker`` if its deadline has passed (or at once with ``force``).

    Returns (requeued, set aside), or None when the worker is alive or changed what it holds
    meanwhile. The script gets the key of each message's result and unique marker, so every
    key it touches is in KEYS.
    """
    held = client.lrange(keys.active(worker), 0, -1)
    ids = [serializer.message_id(message) for message in held]
    per_message = [key for job_id in ids for key in (keys.result(job_id), keys.unique(job_id))]
    script_keys = [keys.workers, keys.heartbeats, keys.active(worker), keys.pending, keys.deliveries]
    script_keys += [keys.dead, keys.dead_reasons, keys.stats, *per_message]
    args = [worker, max_deliveries, "1" if force else "", round(RESULT_TTL_S * 1000), " ".join(ids), *held]
    reaped = scripts.reap(keys=script_keys, args=args)
    return (int(reaped[0]), int(reaped[1])) if reaped else None

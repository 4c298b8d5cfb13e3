"""The consumer side: lease a task, run it, acknowledge it; keep the promise when things break.

A task is leased by moving its message from the queue's pending list into this worker's own
active list (``LMOVE``/``BLMOVE``), and leaves that list only when it is acknowledged. A
heartbeat thread keeps this worker's liveness deadline in Redis fresh and reaps workers whose
deadline has passed, giving their tasks back to the queue. So a worker can die at any point and
its tasks still run, at least once, elsewhere.
"""

from __future__ import annotations

import logging
import math
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
from typing import Any, TypeVar

import redis

from . import serializer
from .connection import check_client
from .exceptions import ConfigurationError, InvalidMessage
from .keys import QueueKeys, check_name
from .scripts import Scripts

logger = logging.getLogger(__name__)

T = TypeVar("T")

IDLE_WAIT_S = 1.0  # longest a blocking wait for work lasts before the worker looks around again
LIVENESS_TIMEOUT_S = 7.0  # a worker silent this long is presumed dead and its tasks requeued
HEARTBEAT_INTERVAL_S = 1.0  # also how often this worker looks for dead ones
MAX_DELIVERIES = 3  # a task whose worker died this many times is set aside
_FIRST_BACKOFF_S = 0.1
_MAX_BACKOFF_S = 5.0


class _StopNow(BaseException):
    """Raised in the main thread by a signal to stop waiting, or by a second one to stop running."""


def _positive(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive number, got {value!r}")
    return value


class Worker:
    """Runs the tasks of one or more queues, one at a time, first queue first.

    Args:
        redis_client: the connection; ``yotaq.connect(url)`` makes a suitable one.
        queues: the queues to take tasks from, in priority order.
        secret: when given, only messages signed with it are run; anything else is set aside.
        burst: stop when the queues are empty instead of waiting for more.
        liveness_timeout: seconds without a heartbeat after which this worker counts as dead.
        heartbeat_interval: seconds between heartbeats (and between looks for dead workers).
        max_deliveries: how many times a task may lose its worker before it is set aside.
        name: this worker's id; host, pid and a random suffix by default.
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
        self._stopping = False
        self._waiting = False  # blocked waiting for work: a stop signal may interrupt at once
        self._shutting_down = False
        self._registered = False
        self._running: str | None = None  # the id of the job running now
        self._heartbeat_stop = threading.Event()

    def __repr__(self) -> str:
        return f"Worker({self.name!r}, queues={[q.queue for q in self.queues]})"

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        """Run tasks until stopped by SIGINT/SIGTERM (or, in burst mode, until the queues are empty).

        The first signal stops leasing and lets the running task finish; a second one gives the
        running task back to the queue as well. Either way every task this worker holds and has
        not finished is returned to the head of its queue.
        """
        if self._secret is None:
            logger.warning(
                "no secret set: this worker runs any message it finds, so anyone who can write to "
                "this Redis can run code here (set YOTAQ_SECRET or secret=)"
            )
        handlers = self._install_signal_handlers()
        heartbeat = threading.Thread(target=self._heartbeat_loop, name=f"yotaq-heartbeat-{self.name}", daemon=True)
        try:
            self._until_done(self._beat)
            heartbeat.start()
            logger.info("%r started", self)
            self._loop()
        except _StopNow:
            if self._running is not None:
                logger.warning("stopped during job %s: it goes back to its queue", self._running)
        finally:
            self._shutting_down = True
            self._heartbeat_stop.set()
            if heartbeat.is_alive():
                heartbeat.join()
            try:
                self._release_all()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                logger.warning(
                    "could not give tasks back (%s): they return to the queue once this worker's heartbeat lapses",
                    exc,
                )
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            logger.info("%r stopped: %s", self, dict(self.counts) or "no tasks")

    def _loop(self) -> None:
        while not self._stopping:
            leased = self._lease()
            if leased is not None:
                self._process(*leased)
            elif self.burst:
                return

    def _lease(self) -> tuple[QueueKeys, bytes] | None:
        """Move the next message into this worker's active list; ``None`` when there is none."""
        try:
            for keys in self.queues:
                message = self.redis.lmove(keys.pending, keys.active(self.name), "LEFT", "RIGHT")
                if message is not None:
                    return keys, message
            if self.burst or self._stopping:
                return None
            first = self.queues[0]
            self._waiting = True
            try:
                message = self.redis.blmove(first.pending, first.active(self.name), IDLE_WAIT_S, "LEFT", "RIGHT")
            finally:
                self._waiting = False
            return None if message is None else (first, message)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            logger.warning("Redis unreachable (%s); retrying until it is back", exc)
            # The reply to a move may be what was lost, leaving a message in our active list
            # that we do not know of. We hold nothing we have started: give everything back.
            self._until_done(self._rejoin, failing=True)
            return None

    def _rejoin(self) -> None:
        self._release_all()
        self._beat()

    def _process(self, keys: QueueKeys, message: bytes) -> None:
        try:
            task = serializer.decode(message, self._secret)
        except InvalidMessage as exc:
            job_id = serializer.message_id(message)
            reason = str(exc)
            logger.error("job %s set aside: %s", job_id, reason)
            self._record("invalid", job_id, lambda: self._bury(keys, message, job_id, reason, "invalid"))
            return
        started = time.perf_counter()
        self._running = task.id
        try:
            task.fn(*task.args, **task.kwargs)
        except (Exception, SystemExit):
            logger.exception("job %s failed after %.3f s", task.id, time.perf_counter() - started)
            reason = traceback.format_exc()
            self._record("failed", task.id, lambda: self._bury(keys, message, task.id, reason, "failed"))
        else:
            logger.info("job %s done in %.3f s", task.id, time.perf_counter() - started)
            self._record("done", task.id, lambda: self._ack(keys, message, task.id))
        self._running = None

    def _record(self, outcome: str, job_id: str, step: Callable[[], bool]) -> None:
        """Record how a task ended, retrying through an outage so finished work is not run again."""
        self.counts[outcome] += 1
        if not self._until_done(step):
            logger.warning(
                "job %s: its lease was lost before it could be recorded as %s (this worker was presumed "
                "dead and the task given back to the queue, where it runs again)",
                job_id,
                outcome,
            )

    def _ack(self, keys: QueueKeys, message: bytes, job_id: str) -> bool:
        return bool(
            self._scripts.ack(keys=[keys.active(self.name), keys.deliveries, keys.stats], args=[message, job_id])
        )

    def _bury(self, keys: QueueKeys, message: bytes, job_id: str, reason: str, counter: str) -> bool:
        return bool(
            self._scripts.bury(
                keys=[keys.active(self.name), keys.dead, keys.dead_reasons, keys.deliveries, keys.stats],
                args=[message, job_id, reason, counter],
            )
        )

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
            for worker in self.redis.zrangebyscore(keys.workers, "-inf", now_ms):
                dead = worker.decode()
                reaped = self._scripts.reap(
                    keys=[
                        keys.workers,
                        keys.heartbeats,
                        keys.active(dead),
                        keys.pending,
                        keys.deliveries,
                        keys.dead,
                        keys.dead_reasons,
                        keys.stats,
                    ],
                    args=[dead, self.max_deliveries],
                )
                if reaped:
                    requeued, buried = reaped
                    logger.warning(
                        "worker %s on %r missed its heartbeat: %d task(s) requeued, %d set aside",
                        dead,
                        keys.queue,
                        requeued,
                        buried,
                    )

    def _heartbeat_loop(self) -> None:
        # After an outage, reaping waits until this worker has been connected again for a whole
        # liveness timeout: every deadline in Redis lapsed meanwhile, and live workers need that
        # long to beat again.
        connected_at: float | None = -math.inf
        while not self._heartbeat_stop.wait(self.heartbeat_interval):
            try:
                self._beat()
                connected_at = connected_at or time.monotonic()
                if time.monotonic() - connected_at >= self.liveness_timeout:
                    self._reap()
            except (redis.ConnectionError, redis.TimeoutError):
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
                time.sleep(pause)
                pause = min(pause * 2, _MAX_BACKOFF_S)
            try:
                result = command()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if not failing:
                    logger.warning("Redis unreachable (%s); retrying until it is back", exc)
                failing = True
                continue
            if failing:
                logger.warning("Redis is reachable again")
            return result

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {signum: signal.signal(signum, self._on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}

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

"""Waiting for work on several queues at once, without taking anything.

Redis can block on one list only (``BLMOVE``). A worker given several queues must still take
from the first non-empty one, so it cannot block on one of them: it blocks on this instead. One
thread per queue waits in Redis until its queue has a pending task, taking nothing
(``Broker.wait_for_pending``). The first thread to see work wakes the worker, which then leases
from its queues in priority order. A worker running coroutines with slots free waits on this too,
beside them (``on_work`` wakes its event loop), rather than asking Redis for work every so often.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from ..broker import Broker, QueueKeys
from ..exceptions import RedisUnavailable
from .timelimit import leave_signals_to_the_main_thread

logger = logging.getLogger(__name__)

WATCH_WAIT_S = 30.0  # each blocking wait ends this often, and the threads see a stop
_AFTER_ERROR_S = 0.5


class _Stopped(Exception):
    """Raised in a watching thread to keep it from waiting after the stop."""


JOIN_S = 2.0  # how long a closing watcher waits, at most, for its threads to end (their waits ended)


class QueueWatcher:
    """Wakes the worker when any of ``queues`` has a pending task, while the worker is idle."""

    def __init__(self, broker: Broker, queues: Sequence[QueueKeys]) -> None:
        self._broker = broker
        self._condition = threading.Condition()
        self._round = 0  # incremented each time the worker goes idle and asks to be woken
        self._woken_round = -1
        self._stopped = False
        self.on_work: Callable[[], None] | None = None  # called (in a watching thread) when work is seen
        self._blocked: dict[int, int | None] = {}  # by thread: the connection its wait in Redis is on
        self._threads = [
            broker.thread(self._watch, n, keys, name=f"yotaq-watch-{keys.queue}") for n, keys in enumerate(queues)
        ]
        for thread in self._threads:
            thread.start()

    def wait(self, timeout: float, is_ready: Callable[[], bool] | None) -> bool:
        """Return when a watched queue has work, ``timeout`` seconds passed, or ``is_ready()`` is true;
        whether there is work (False: the wait timed out).

        ``is_ready`` runs after the watchers are armed, so work that arrives while it checks is not
        missed; a wait that follows one that timed out needs none: the watchers never stopped watching.
        """
        round_ = self.arm()
        if is_ready is not None and is_ready():
            return True
        with self._condition:
            return self._condition.wait_for(lambda: self._woken_round >= round_ or self._stopped, timeout)

    def arm(self) -> int:
        """Have the threads watch for work from now on (until they see some); the round this starts."""
        with self._condition:
            self._round += 1
            self._condition.notify_all()
            return self._round

    def stop(self) -> None:
        """Let the threads end (from any thread): each does when its wait in Redis ends."""
        with self._condition:
            self._stopped = True
            self._condition.notify_all()

    def close(self) -> None:
        """Stop, end the threads' waits in Redis and join them (see ``Broker.thread``). On a Redis
        Cluster a wait cannot be named: its thread ends within ``WATCH_WAIT_S``, unjoined."""
        self.stop()
        if self._broker.cluster:
            return
        for n in range(len(self._threads)):
            self._broker.end_wait(lambda n=n: self._blocked.get(n))  # type: ignore[misc]
        joined_by = time.monotonic() + JOIN_S
        for thread in self._threads:
            thread.join(max(joined_by - time.monotonic(), 0.0))

    def _named(self, n: int, connection_id: int | None) -> None:
        """Keep the connection thread ``n`` is about to wait on (None: its wait is over), for ``close`` to end
        it; a wait about to begin after the stop is not begun (``close`` may have looked already)."""
        self._blocked[n] = connection_id
        if connection_id is not None and self._stopped:
            raise _Stopped

    def _watch(self, n: int, keys: QueueKeys) -> None:
        leave_signals_to_the_main_thread()
        served = 0
        while True:
            with self._condition:
                while self._round <= served and not self._stopped:
                    self._condition.wait()
                if self._stopped:
                    return
                round_ = self._round
            try:
                found = self._broker.wait_for_pending(keys, WATCH_WAIT_S, lambda id_: self._named(n, id_))
            except Exception as exc:
                if self._stopped:
                    return  # the worker is gone, and may have closed the client under us
                if not isinstance(exc, RedisUnavailable):
                    logger.exception("watching %r failed", keys.queue)
                time.sleep(_AFTER_ERROR_S)  # the worker's own loop reports Redis outages
                continue
            if found:
                served = round_
                with self._condition:
                    self._woken_round = max(self._woken_round, round_)
                    self._condition.notify_all()
                if self.on_work is not None:
                    self.on_work()

"""Waiting for work on several queues at once, without taking anything.

Redis can block on one list only (``BLMOVE``). A worker given several queues must still take from the
first non-empty one, so it cannot block on one of them: it waits on this instead, one watch of their
pending lists (``Broker.watch_lists``): one listening connection whatever the number of queues, told by
Redis when a pending list changes, which sends Redis nothing while the worker is idle. The first queue
seen with work wakes the worker, which then leases from its queues in priority order. A worker running
coroutines or threads with slots free waits on this too, beside them (``on_work`` wakes its loop), rather
than asking Redis for work every so often.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from ..broker import Broker, QueueKeys
from .timelimit import leave_signals_to_the_main_thread

JOIN_S = 2.0  # how long a closing watcher waits, at most, for its listening threads to end


class QueueWatcher:
    """Wakes the worker when any of ``queues`` has a pending task, while the worker is idle."""

    def __init__(self, broker: Broker, queues: Sequence[QueueKeys]) -> None:
        self._pending = [keys.pending for keys in queues]
        self._condition = threading.Condition()
        self._round = 0  # incremented each time the worker goes idle and asks to be woken
        self._woken_round = -1
        self._stopped = False
        self.on_work: Callable[[], None] | None = None  # called (in a listening thread) when work is seen
        self._watch = broker.watch_lists(
            self._came, lambda target, name: broker.thread(_in_the_background, target, name=name)
        )

    def wait(self, timeout: float) -> bool:
        """Return when a watched queue has work, ``timeout`` seconds passed, or the watcher is stopped;
        whether there is work (False: the wait timed out)."""
        round_ = self.arm()
        with self._condition:
            return self._condition.wait_for(lambda: self._woken_round >= round_ or self._stopped, timeout)

    def arm(self) -> int:
        """Watch for work from now on (until some is seen); the round this starts. Each pending list is
        read once as it is watched, so work already there wakes at once; one watched still (a wait that
        timed out) is not read again: Redis tells of its next change."""
        with self._condition:
            self._round += 1
            round_ = self._round
        self._watch.watch(self._pending)
        return round_

    def stop(self) -> None:
        """End the waits (from any thread)."""
        with self._condition:
            self._stopped = True
            self._condition.notify_all()

    def close(self) -> None:
        """Stop, and end the listening threads (see ``Broker.thread``), waiting ``JOIN_S`` at most."""
        self.stop()
        self._watch.close(JOIN_S)

    def _came(self, pending: str, message: bytes) -> None:
        """Work on one queue: watch the others no longer (one wake-up a round), and wake the worker. In
        that order: a round armed meanwhile, whose watch this may have undone, is woken with this one."""
        for other in self._pending:
            self._watch.forget(other)
        with self._condition:
            self._woken_round = self._round
            self._condition.notify_all()
        if self.on_work is not None:
            self.on_work()


def _in_the_background(target: Callable[[], None]) -> None:
    leave_signals_to_the_main_thread()
    target()

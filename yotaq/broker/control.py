"""The broker's commands for reaching into a job from outside: cancelling it, and its progress.
Mixed into ``Broker``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from . import commands, flows
from .connection import Client, translated
from .flows import NO_FLOW, Flow, believed
from .keys import QueueKeys, stop_channel
from .scripts import Scripts, keys_for

T = TypeVar("T")


class Control:
    """Cancel and progress, for ``Broker``."""

    _scripts: Scripts
    client: Client

    if TYPE_CHECKING:

        def _call(self, command: Callable[[Client], T], *, own: bool = False, write: bool = False) -> T: ...

        def _through_outage(
            self, command: Callable[[Client], T], *, blocks_s: float = 0.0, write: bool = False
        ) -> T: ...

    def cancel(self, keys: QueueKeys, job_id: str, envelope: bytes, result_ttl_ms: int) -> str | None:
        """Cancel a job and tell its dependents (see ``cancel-14+n.lua``); its state before, or None when
        it was not there."""

        def send(dependents: list[Flow]) -> Any:
            script_keys, args = commands.cancel_script(keys, job_id, envelope, result_ttl_ms, dependents[0])
            return self._through_outage(functools.partial(self._scripts.cancel, script_keys, args))

        return commands.read_cancel(believed(send, [Flow(after=True)]))

    def subscribe(self, queues: Sequence[QueueKeys], worker: str) -> Subscription:
        """Listen on the control channels of ``queues``, and on ``worker``'s stop channel (see
        ``Subscription``)."""
        return Subscription(self.client, queues, worker)

    def wake_listener(self, worker: str) -> None:
        """End the wait of ``worker``'s control listener now (it is stopping)."""
        self._call(lambda c: c.publish(stop_channel(worker), b""))

    def state_of(self, keys: QueueKeys, job_id: str) -> str | None:
        """A job's state (``pending``, ``scheduled``, ``active``, ``cancelling``, ...), if not finished."""
        state = self._call(lambda c: c.hget(keys.state, job_id))
        return None if state is None else state.decode()  # type: ignore[union-attr]

    def record_cancelled(
        self,
        keys: QueueKeys,
        worker: str,
        message: bytes,
        job_id: str,
        envelope: bytes,
        result_ttl_ms: int,
        shown: str = "- - -",
        flow: Flow = NO_FLOW,
    ) -> bool:
        """Take a job this worker interrupted because it was cancelled (or did not run, a parent of it having
        failed) off its active list, and tell its dependents (as believed: ``flow``); ``shown`` is what the
        lists of finished jobs show of it (``Ack.shown``)."""
        fixed = keys_for("cancelled", keys, worker=worker, job_id=job_id)

        def send(parts: list[Flow]) -> Any:
            script_keys = [*fixed, *flows.part_keys(keys, job_id, parts[0])]
            args: list[Any] = [message, job_id, envelope, result_ttl_ms, shown, flows.belief(parts[0])]
            return self._call(functools.partial(self._scripts.cancelled, script_keys, args), write=True)

        return bool(believed(send, [flow]))

    def set_progress(self, keys: QueueKeys, job_id: str, progress: bytes, ttl_ms: int) -> None:
        self._call(lambda c: c.set(keys.progress(job_id), progress, px=ttl_ms), own=True)

    def progress(self, keys: QueueKeys, job_id: str) -> bytes | None:
        return cast(bytes | None, self._through_outage(lambda c: c.get(keys.progress(job_id))))


class Heard(NamedTuple):
    """What came on a queue's control channel: the id of a running job cancelled, or ``LAPSED`` and a
    worker found dead (``Upkeep.forget``)."""

    keys: QueueKeys
    text: str


class Subscription:
    """A worker's ear on the control channels of its queues: what is said there (``Heard``).

    A connection of its own, subscribed; waiting on it sends Redis nothing. After the connection
    drops, redis-py subscribes again on the next ``next``; a cancel published meanwhile is missed,
    so ``next`` says ``RESUBSCRIBED`` once, for the worker to look at its running jobs' states (and
    so it does once subscribed at first).
    """

    RESUBSCRIBED = Heard(QueueKeys("-"), "")

    def __init__(self, client: Client, queues: Sequence[QueueKeys], worker: str) -> None:
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._channels = {keys.control.encode(): keys for keys in queues}
        self._stop_channel = stop_channel(worker).encode()
        self._subscribed = False
        self._dropped = True  # until subscribed: a cancel before that was missed too

    def next(self, timeout_s: float) -> Heard | None:
        """What comes next, waiting up to ``timeout_s``; None if nothing came.

        Raises:
            RedisUnavailable: Redis cannot be reached now (the next call tries again).
        """
        try:
            with translated():
                if not self._subscribed:
                    self._pubsub.subscribe(*self._channels, self._stop_channel)
                    self._subscribed = True
                message = self._pubsub.get_message(timeout=timeout_s)
        except BaseException:  # an outage, or a refusal (ACL): either way a cancel may have been missed
            self._dropped = True
            raise
        if self._dropped:
            self._dropped = False
            return self.RESUBSCRIBED
        if message is None or message["channel"] == self._stop_channel:
            return None
        return Heard(self._channels[message["channel"]], cast(bytes, message["data"]).decode(errors="replace"))

    def close(self) -> None:
        self._pubsub.close()

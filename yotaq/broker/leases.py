"""A worker's calls: lease (batched with the acknowledgements of what it finished, or one blocking
wait), retry, set aside, give back; ``Leasing`` is mixed into ``Broker``."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from ..exceptions import BrokerError, RedisUnavailable
from .connection import Client, evalsha, named_wait, packed
from .flows import NO_FLOW, Flow, belief, beliefs, believed, part_keys
from .keys import QueueKeys
from .scripts import keys_for

if TYPE_CHECKING:
    from ..info import FailedOrDead
    from .scripts import Scripts

T = TypeVar("T")

# The most jobs one ack script call acknowledges, and the most it leases: Lua's unpack() holds about
# 8,000 values, and the script unpacks two per leased job; a worker with more in flight takes several calls.
ACK_CHUNK = 1_000
END_TRIES_S = 1.0  # how long ``end_wait`` tries to end a wait that is about to begin
END_RETRY_S = 0.001
DEFAULT_MAX_BULK_BYTES = 512 * 1024 * 1024  # Redis's default proto-max-bulk-len

MAX_SHOWN_FUNCTION = 200  # characters of a function's name kept with a finished job


class Ack(NamedTuple):
    """A finished task's acknowledgement: its result envelope, and how long to keep it."""

    job_id: str
    envelope: bytes
    result_ttl_ms: int
    ran_ms: int  # how long the task ran
    shown: str = "- - -"  # what the list of done jobs shows of it: '<worker> <ran ms> <function>' (``shown``)
    flow: Flow = NO_FLOW  # its part in a workflow, as its message says


def shown(worker: str, ran_ms: int, function: str) -> str:
    """What the lists of finished jobs keep of one (``QueueKeys.finished_jobs``): its worker, how long it
    ran and its function, one word each but the function, last, cut to ``MAX_SHOWN_FUNCTION``, on one line."""
    name = function[:MAX_SHOWN_FUNCTION].replace("\n", " ") or "-"
    return f"{worker} {ran_ms} {name}"


@functools.lru_cache(maxsize=256)
def _ack_keys(keys: QueueKeys, worker: str) -> tuple[str, ...]:
    """The keys the ack script takes first, for a worker's calls on one queue (or shard): the same each batch."""
    return tuple(keys_for("ack", keys, worker=worker))


class Leases(NamedTuple):
    """What ``ack_and_lease`` did: the jobs it could not acknowledge, and what it leased."""

    lost: list[str]  # ids of jobs acknowledged but no longer leased by this worker: nothing recorded
    messages: list[bytes]  # leased, oldest first
    unknown: list[int]  # indexes in messages of those whose job is not pending here: set them aside unrun


class Leasing:
    """The calls a worker makes for its leases, for ``Broker``."""

    _scripts: Scripts
    client: Client
    cluster: bool

    if TYPE_CHECKING:

        def _call(self, command: Callable[[Client], T], *, own: bool = False, write: bool = False) -> T: ...

        def _wait(self, command: Callable[[Client], T], timeout_s: float) -> T: ...

        def longest_wait_s(self, timeout_s: float) -> float: ...

    def ack_and_lease(self, keys: QueueKeys, worker: str, acks: Sequence[Ack], size: int) -> Leases:
        """Acknowledge finished jobs and lease up to ``size`` more (``ACK_CHUNK`` at most), in one script
        call for up to ``ACK_CHUNK`` acknowledgements, one more for each ``ACK_CHUNK`` beyond. Should a
        call fail part way, sending all of them again is safe: those already acknowledged are left as
        they are."""
        lost: list[str] = []
        while len(acks) > ACK_CHUNK:
            lost += self._ack_and_lease(keys, worker, acks[:ACK_CHUNK], 0).lost
            acks = acks[ACK_CHUNK:]
        leases = self._ack_and_lease(keys, worker, acks, min(size, ACK_CHUNK))
        return leases._replace(lost=lost + leases.lost) if lost else leases

    def _ack_and_lease(self, keys: QueueKeys, worker: str, acks: Sequence[Ack], size: int) -> Leases:
        fixed = [*_ack_keys(keys, worker), *(keys.result(ack.job_id) for ack in acks)]
        ids, ttls = " ".join(ack.job_id for ack in acks), " ".join(str(ack.result_ttl_ms) for ack in acks)
        # What is shown and believed of every job in one argument each: fewer to encode
        ran_ms, seen = sum(ack.ran_ms for ack in acks), "".join(f"{ack.shown}\n" for ack in acks)
        envelopes = [ack.envelope for ack in acks]
        script = self._scripts.ack

        def send(flows: list[Flow]) -> Any:
            parts = [key for ack, flow in zip(acks, flows, strict=True) for key in part_keys(keys, ack.job_id, flow)]
            script_keys = [*fixed, *parts]
            args: list[Any] = [ids, ttls, size, ran_ms, seen, beliefs(flows), *envelopes]
            # Packed here rather than by redis-py, at a third of its cost: the call is a worker's per batch
            wire = packed(("EVALSHA", script.sha, len(script_keys), *script_keys, *args))
            otherwise = functools.partial(script, script_keys, args)
            return self._call(lambda client: evalsha(client, wire, otherwise), own=True, write=bool(acks))

        lost, messages, unknown, _, _ = believed(send, [ack.flow for ack in acks], lambda reply: reply[4])
        return Leases([acks[position - 1].job_id for position in lost], messages, [i - 1 for i in unknown])

    def held(self, keys: QueueKeys, worker: str) -> list[bytes]:
        """The messages ``worker`` has leased and not acknowledged, oldest first."""
        return cast(list[bytes], self._call(lambda c: c.lrange(keys.active(worker), 0, -1)))

    def max_argument_bytes(self) -> int:
        """The largest argument Redis takes (its ``proto-max-bulk-len``): it refuses a larger one by
        closing the connection, which looks like an outage. Redis's default where ``CONFIG GET`` is
        refused (as managed services do)."""
        try:
            reply = self._call(lambda c: c.config_get("proto-max-bulk-len"))
        except BrokerError:
            return DEFAULT_MAX_BULK_BYTES
        value = next(iter(reply.values()), None) if isinstance(reply, dict) else None
        return int(value) if value is not None and str(value).isdigit() else DEFAULT_MAX_BULK_BYTES

    def ping(self) -> None:
        """Whether Redis answers: returns if it does, raises ``RedisUnavailable`` if not."""
        self._call(lambda c: c.ping(), own=True)

    def lease_blocking(
        self, keys: QueueKeys, worker: str, timeout_s: float, blocked: Callable[[int | None], None] | None = None
    ) -> Leases:
        """Wait in Redis up to ``timeout_s`` for a message and lease it (none leased when none came).

        ``blocked`` is told the id of the connection that waits before the wait, and None after: another
        thread may end the wait early with ``unblock`` (not on a Redis Cluster, whose pooled client has
        no one connection to name).
        """
        active = keys.active(worker)
        wait_s = self.longest_wait_s(timeout_s)

        def lease(client: Client) -> Leases:
            message = cast(
                bytes | None,
                named_wait(client, blocked, lambda: client.blmove(keys.pending, active, wait_s, "LEFT", "RIGHT")),  # type: ignore[arg-type]
            )
            if message is None:
                return Leases([], [], [])
            # BLMOVE can only move: the job's state follows, in a second call
            known = self._scripts.activate(keys_for("activate", keys, worker=worker), [message], client=client)
            return Leases([], [message], [0]) if known == 0 else Leases([], [message] if known == 1 else [], [])

        return self._wait(lease, wait_s)

    def unblock(self, connection_id: int) -> bool:
        """End the blocking wait of connection ``connection_id`` now, as if it had timed out; whether it
        was waiting."""
        return bool(self._call(lambda c: c.client_unblock(connection_id)))

    def end_wait(self, blocked_on: Callable[[], int | None]) -> None:
        """End the wait in Redis of the connection ``blocked_on()`` names (a wait's ``blocked`` callback
        keeps it), if any. That connection may be between being named and sending its wait: an unblock
        that finds it not yet waiting is tried again, until the wait is over or ``END_TRIES_S`` passed."""
        deadline = time.monotonic() + END_TRIES_S
        while (connection_id := blocked_on()) is not None and time.monotonic() < deadline:
            try:
                if self.unblock(connection_id):
                    return
            except RedisUnavailable:
                return  # the wait ends with the outage
            time.sleep(END_RETRY_S)

    def waiting(self, queues: Sequence[QueueKeys]) -> int:
        """How many jobs are pending, scheduled or waiting for a slot of their limit on these queues."""

        def count(client: Client) -> int:
            with client.pipeline(transaction=False) as pipe:
                for keys in queues:
                    pipe.llen(keys.pending)
                    pipe.zcard(keys.scheduled)
                    pipe.zcard(keys.waiting)
                return sum(pipe.execute())

        return self._call(count)

    def retry(self, keys: QueueKeys, worker: str, message: bytes, retry: bytes, job_id: str, delay_ms: int) -> bool:
        """Schedule the next try (``retry``) of a leased job that raised; False if it was no longer leased."""
        script_keys = keys_for("retry", keys, worker=worker)
        args: list[Any] = [message, retry, job_id, delay_ms]
        return bool(self._call(lambda c: self._scripts.retry(script_keys, args, client=c), write=True))

    def fail(
        self,
        keys: QueueKeys,
        worker: str,
        message: bytes,
        record_id: str,
        *,
        kind: FailedOrDead,
        envelope: bytes,
        record_ttl_ms: int,
        result_ttl_ms: int,
        claimed_id: str = "",
        flow: Flow = NO_FLOW,
    ) -> bool:
        """Set a leased message aside for good as ``kind``, under ``record_id``, with its outcome
        ``envelope`` (which says why), and tell its dependents (as believed: ``flow``). For a message
        that cannot be trusted, ``claimed_id`` is the job id in its header: that job's state goes back
        to what it was before this lease. False if it was no longer leased by ``worker``."""
        counter = "failed" if kind == "failed" else "invalid"
        fixed = keys_for("fail", keys, worker=worker, job_id=record_id, kind=kind)
        fixed_args: list[Any] = [message, record_id, counter, envelope, record_ttl_ms, result_ttl_ms, claimed_id]

        def send(flows: list[Flow]) -> Any:
            script_keys, args = [*fixed, *part_keys(keys, record_id, flows[0])], [*fixed_args, belief(flows[0])]
            return self._call(functools.partial(self._scripts.fail, script_keys, args), write=True)

        return bool(believed(send, [flow._replace(after=True)]))  # (after: its own record expires with it)

    def unlease(self, keys: QueueKeys, worker: str, messages: Sequence[bytes]) -> int:
        """Give back leased messages not started, to the head of the queue; how many were still leased."""
        script_keys = keys_for("unlease", keys, worker=worker)
        return int(self._call(lambda c: self._scripts.unlease(script_keys, list(messages), client=c)))

    def give_back_all(self, keys: QueueKeys, worker: str) -> int:
        """Give back everything ``worker`` holds (none of it started) and deregister it; how many."""
        script_keys = keys_for("give_back", keys, worker=worker)
        return int(self._call(lambda c: self._scripts.give_back(script_keys, [worker], client=c)))

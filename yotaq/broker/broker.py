"""``Broker``: the one door to Redis. Every command yotaq sends goes through it: those of a worker are
here, with their keys and arguments; a producer's are built by ``commands`` (shared with
``AsyncBroker``, in ``aio``); upkeep, control and read-only looks are mixed in from their own modules.

Methods are named for what they do to a queue (push, lease, acknowledge, retry, bury, reap, ...);
each is one round trip and, where it changes more than one key, one Lua script or ``MULTI``, so
it is atomic. redis-py's errors come out as yotaq's (``connection.translated``). Methods a
producer calls wait out a short outage (``Patience``); a worker calls the others through its own
``Patience``, which waits for ever and knows what a lost reply means for its leases.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar, cast

from redis.cluster import RedisCluster
from redis.sentinel import SentinelConnectionPool

from ..exceptions import BrokerError, RedisUnavailable
from ..info import Buried, QueueInfo
from . import commands
from .commands import Record, block_s
from .connection import Client, OwnClient, Patience, ThreadClients, check_client, transaction, translated
from .control import Control
from .flows import NO_FLOW, Flow, Workflows, belief, part_keys, with_actual
from .keys import QueueKeys
from .reads import Reads
from .scripts import Scripts
from .upkeep import Upkeep
from .watch import ResultWatch

T = TypeVar("T")

PRODUCER_PATIENCE_S = 2.0  # how long a producer's call waits out an outage before it raises
MIN_ATTEMPT_S = 0.05  # the shortest time an attempt is given, even at the deadline
# The most jobs one ack script call acknowledges, and the most it leases: Lua's unpack() holds about
# 8,000 values, and the script unpacks two per leased job; a worker with more in flight takes several calls.
ACK_CHUNK = 1_000
MAX_BLOCK_S = 5.0  # the longest a producer's call waits in Redis (a result wait is made of such calls)
# A worker's blocking wait has its reply awaited this much longer than it lasts: later, the connection
# is taken for lost (one that died without a word from the other end is noticed no later)
REPLY_MARGIN_S = 2.0
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
    ran and its function, one word each but the function, last, cut to ``MAX_SHOWN_FUNCTION``."""
    return f"{worker} {ran_ms} {function[:MAX_SHOWN_FUNCTION] or '-'}"


class Leases(NamedTuple):
    """What ``ack_and_lease`` did: the jobs it could not acknowledge, and what it leased."""

    lost: list[str]  # ids of jobs acknowledged but no longer leased by this worker: nothing recorded
    messages: list[bytes]  # leased, oldest first
    unknown: list[int]  # indexes in messages of those whose job is not pending here: set them aside unrun


class Broker(Control, Reads, Upkeep, Workflows):
    """Speaks Redis for every queue on one client.

    Args:
        client: a ``redis.Redis`` or ``RedisCluster`` without ``decode_responses`` (``yotaq.connect(url)``
            makes one).
        patience: how long a producer's call waits out an outage, in seconds.
        replicas: after each write (an enqueue, an outcome), wait until this many replicas have it
            (Redis's ``WAIT``), so that a failover cannot lose it; 0 to count a write done once the
            master has it.
    """

    def __init__(self, client: Client, *, patience: float = PRODUCER_PATIENCE_S, replicas: int = 0) -> None:
        self.client = check_client(client)
        self.cluster = isinstance(client, RedisCluster)
        self.patience = Patience(patience)
        self.replicas = commands.check_replicas(replicas, isinstance(client, RedisCluster))
        # A wait in Redis must end before the client's socket gives up on the reply.
        socket_timeout = client.get_connection_kwargs().get("socket_timeout")
        self.max_block_s = MAX_BLOCK_S if socket_timeout is None else min(MAX_BLOCK_S, socket_timeout / 2)
        # A worker's wait is as long as it asks on a connection of its own (``_wait``); on a Cluster's
        # pooled client, which reads every reply within the socket timeout, shorter than that timeout.
        self._longest_wait_s = socket_timeout - REPLY_MARGIN_S if self.cluster and socket_timeout else None
        self._scripts = Scripts(client)
        self._own = ThreadClients(client)  # for the commands sent most often (see ThreadClients)

    def close(self) -> None:
        """Close the client and its connections (to the Sentinels too, for a Sentinel-managed master)."""
        self.client.close()
        pool = getattr(self.client, "connection_pool", None)
        if isinstance(pool, SentinelConnectionPool):
            for sentinel in pool.sentinel_manager.sentinels:
                sentinel.close()

    def _call(self, command: Callable[[Client], T], *, own: bool = False, write: bool = False) -> T:
        """``command(client)``, redis-py's errors translated; ``own``: on this thread's own client;
        ``write``: replicated as ``replicas`` asks before it counts (on the same connection, own)."""
        if write and self.replicas:
            command, own = self._replicated(command), True
        with translated():
            return self._own.call(command) if own else command(self.client)

    def _wait(self, command: Callable[[Client], T], timeout_s: float) -> T:
        """A worker's blocking ``command``, which waits in Redis up to ``timeout_s``: on this thread's own
        client, its reply awaited that long and ``REPLY_MARGIN_S`` more, whatever the client's socket
        timeout (on a Redis Cluster's pooled client, which has no one connection, within it)."""
        with translated():
            return self._own.call(command, timeout_s + REPLY_MARGIN_S)

    def longest_wait_s(self, timeout_s: float) -> float:
        """``timeout_s`` as a worker's blocking wait: never one Redis takes for "for ever", and on a Redis
        Cluster within the socket timeout."""
        return block_s(timeout_s if self._longest_wait_s is None else min(timeout_s, self._longest_wait_s))

    def _patient(
        self,
        command: Callable[[Client], T],
        *,
        blocks_s: float = 0.0,
        write: bool = False,
        again: Callable[[Client], T] | None = None,
    ) -> T:
        """A producer's call: ``command`` on this thread's own client, tried again through an outage,
        and given up within the patience (plus ``blocks_s``, for a command that waits in Redis).

        ``again`` is what a write sends on its later tries: a try whose reply was lost may have gone
        through, and must not be applied twice.
        """
        give_up_at = time.monotonic() + self.patience.give_up_after + blocks_s  # type: ignore[operator]
        sends = [command] if again is None else [command, again]  # the last one for every later try
        if write and self.replicas:
            sends = [self._replicated(send) for send in sends]

        def attempt() -> T:
            remaining = max(give_up_at - time.monotonic(), MIN_ATTEMPT_S)
            send = sends.pop(0) if len(sends) > 1 else sends[0]
            with translated():
                return self._own.call(send, remaining)

        return self.patience.run(attempt)

    def _replicated(self, command: Callable[[Client], T]) -> Callable[[Client], T]:
        """``command``, then ``WAIT`` on the same connection until ``replicas`` replicas have its writes."""

        def durable(client: Client) -> T:
            result = command(client)
            confirmed = client.execute_command(*commands.wait_command(self.replicas))  # type: ignore[no-untyped-call]
            commands.check_replicated(int(confirmed), self.replicas)
            return result

        return durable

    # -- producing -----------------------------------------------------------------------------

    def push(self, keys: QueueKeys, job_id: str, message: bytes) -> None:
        """Append a message to the pending list, its job now pending: one ``MULTI``, one round trip
        (tried again after a lost reply, it pushes nothing if the first try went through)."""
        self.push_many(keys, [job_id], [message])

    def push_many(self, keys: QueueKeys, job_ids: Sequence[str], messages: Sequence[bytes]) -> None:
        """Append many messages at once, in one transaction."""
        push = commands.push_many_commands(keys, job_ids, messages)
        if not push:
            return

        def push_again(client: Client) -> None:  # built only when needed: it is off the common path
            for script_keys, args in commands.push_again_scripts(keys, job_ids, messages):
                self._scripts.push(script_keys, args, client=client)

        self._patient(lambda client: transaction(client, *push), write=True, again=push_again)

    def enqueue(
        self, keys: QueueKeys, job_id: str, message: bytes, *, unique: bool, at_ms: int | None, delay_ms: int | None
    ) -> bool:
        """Enqueue a job with an id of the caller's choosing (``unique``), or to run later (at a time
        since the epoch, or after a delay on Redis's clock). False when a job with this unique id is
        still pending, scheduled or active.

        Raises:
            JobIdInUse: the id is a cancelled job's still on the queue.
        """
        script_keys, args = commands.enqueue_script(
            keys, job_id, message, unique=unique, at_ms=at_ms, delay_ms=delay_ms, token=os.urandom(8).hex()
        )
        reply = self._patient(lambda c: self._scripts.enqueue(script_keys, args, client=c), write=True)
        return commands.read_enqueue(reply, job_id)

    def agree_shards(self, keys: QueueKeys, shards: int, who: str) -> None:
        """Record how many shards the queue has, or check that it is ``shards``: a producer and a
        worker that count differently would put and look for jobs in different places.

        Raises:
            ConfigurationError: the queue has another number of shards.
        """
        agree = commands.agree_shards_commands(keys, shards)
        recorded, _ = self._patient(lambda c: transaction(c, *agree))
        commands.check_shards(keys, recorded, shards, who)

    def recorded_shards(self, keys: QueueKeys) -> int:
        """How many shards the queue's producers and workers have agreed on (1 if none has said)."""
        recorded = self._patient(lambda c: c.get(keys.shards))
        return 1 if recorded is None else int(recorded)

    # -- reading -------------------------------------------------------------------------------

    def wait_result(self, keys: QueueKeys, job_id: str, timeout_s: float) -> bytes | None:
        """The job's result envelope, waiting for it in Redis at most ``timeout_s``; None if none came."""
        wait = commands.wait_result_command(keys, job_id, timeout_s)
        return cast(bytes | None, self._patient(lambda c: c.execute_command(*wait), blocks_s=timeout_s))  # type: ignore[no-untyped-call]

    def watch_results(self, on_result: Callable[[str, bytes], None]) -> ResultWatch:
        """Wait for the results of many jobs at once, in one blocking read per Redis node: their result
        lists (``QueueKeys.result``) given to the watch's ``watch``, each told to ``on_result`` (see
        ``watch.ResultWatch``)."""
        return ResultWatch(self.client, on_result)

    def status(self, keys: QueueKeys, job_id: str) -> tuple[str, bytes | None]:
        """Where a job is, in O(1) (see ``commands.read_status``)."""
        script_keys, args = commands.status_script(keys, job_id)
        return commands.read_status(self._patient(lambda c: self._scripts.status(script_keys, args, client=c)))

    def info(self, keys: QueueKeys) -> QueueInfo:
        """Counts of the queue's jobs, and its workers, in two round trips."""

        script_keys, args = commands.info_script(keys, self.fleet(keys))

        def read(client: Client) -> QueueInfo:
            reply = self._scripts.info(script_keys, args, client=client)
            lengths = commands.active_commands(keys, reply)
            return commands.read_info(keys, reply, transaction(client, *lengths) if lengths else [])

        return self._patient(read)

    def buried(self, keys: QueueKeys, kind: Buried) -> list[Record]:
        """The records of the jobs set aside as ``kind`` that are kept, oldest first."""
        script_keys, args = commands.records_script(keys, kind)
        return commands.read_records(self._patient(lambda c: self._scripts.records(script_keys, args, client=c)))

    def requeue(self, keys: QueueKeys, kind: Buried, job_ids: Sequence[str]) -> int:
        """Put jobs set aside as ``kind`` back on the queue, to run from scratch; how many were found."""
        if not job_ids:
            return 0
        script_keys, args = commands.requeue_script(keys, kind, job_ids)
        return int(self._patient(lambda c: self._scripts.requeue(script_keys, args, client=c)))

    def purge(self, keys: QueueKeys, kind: Buried) -> int:
        """Forget every job set aside as ``kind``; how many there were."""
        purge = commands.purge_commands(keys, kind)
        count, _ = self._patient(lambda c: transaction(c, *purge))
        return int(count)

    def forget_buried(self, keys: QueueKeys, kind: Buried, job_ids: Sequence[str]) -> int:
        """Forget these jobs set aside as ``kind`` (a purge of some): one ``MULTI``; how many there were."""

        if not job_ids:
            return 0
        commands_ = zip(("ZREM", "HDEL", "HDEL"), keys.buried_keys(kind), strict=True)
        forget = [(command, key, *job_ids) for command, key in commands_]
        return int(self._patient(lambda c: transaction(c, *forget))[0])

    # -- a worker's leases ---------------------------------------------------------------------

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
        fixed = [keys.active(worker), keys.pending, keys.state, keys.deliveries, keys.stats]
        fixed += [keys.holders, keys.waiting, keys.waiting_messages, keys.rates]
        fixed += [keys.scheduled, keys.scheduled_messages, keys.series, keys.marker]
        fixed += [keys.result(ack.job_id) for ack in acks]
        fixed += keys.finished_keys
        ids, ttls = " ".join(ack.job_id for ack in acks), " ".join(str(ack.result_ttl_ms) for ack in acks)
        fixed_args: list[Any] = [ids, ttls, size, sum(ack.ran_ms for ack in acks), *(ack.envelope for ack in acks)]
        fixed_args += [ack.shown for ack in acks]
        while True:
            script_keys = [*fixed, keys.flows, *(key for ack in acks for key in part_keys(keys, ack.job_id, ack.flow))]
            args = [*fixed_args, *(belief(ack.flow) for ack in acks)]
            send = functools.partial(self._scripts.ack, script_keys, args)
            lost, messages, unknown, _, wrong = self._call(send, own=True, write=bool(acks))
            if not wrong:
                return Leases([acks[position - 1].job_id for position in lost], messages, [i - 1 for i in unknown])
            # Dependents were added to a job since its message was made: nothing changed, call again.
            acks = list(acks)
            for n in range(0, len(wrong), 2):
                ack = acks[wrong[n] - 1]
                acks[wrong[n] - 1] = ack._replace(flow=with_actual(ack.flow, wrong[n + 1]))

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
            if blocked is not None and isinstance(client, OwnClient):
                blocked(client.id())
            try:
                message = cast(bytes | None, client.blmove(keys.pending, active, wait_s, "LEFT", "RIGHT"))  # type: ignore[arg-type]
            finally:
                if blocked is not None:
                    blocked(None)
            if message is None:
                return Leases([], [], [])
            # BLMOVE can only move: the job's state follows, in a second call
            script_keys = [keys.state, active, keys.pending, keys.holders, keys.waiting, keys.waiting_messages]
            script_keys += [keys.rates, keys.scheduled, keys.scheduled_messages, keys.deliveries, keys.marker]
            known = self._scripts.activate(script_keys, [message], client=client)
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

    def wait_for_pending(self, keys: QueueKeys, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` until the queue has a pending message, leaving it there.

        ``BLMOVE q q RIGHT RIGHT`` returns as soon as the list has an element yet leaves the list as
        it was, and workers blocked on the same list with a real lease are still served.
        """
        wait_s = self.longest_wait_s(timeout_s)
        found = self._wait(lambda c: c.blmove(keys.pending, keys.pending, wait_s, "RIGHT", "RIGHT"), wait_s)  # type: ignore[arg-type]
        return found is not None

    def any_pending(self, queues: Sequence[QueueKeys]) -> bool:
        def count(client: Client) -> int:
            with client.pipeline(transaction=False) as pipe:
                for keys in queues:
                    pipe.llen(keys.pending)
                return sum(pipe.execute())

        return self._call(count) > 0

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
        script_keys = [keys.active(worker), keys.scheduled, keys.scheduled_messages, keys.state, keys.stats]
        script_keys += [*keys.slots, keys.pending, keys.marker]
        args: list[Any] = [message, retry, job_id, delay_ms]
        return bool(self._call(lambda c: self._scripts.retry(script_keys, args, client=c), write=True))

    def bury(
        self,
        keys: QueueKeys,
        worker: str,
        message: bytes,
        record_id: str,
        *,
        kind: Buried,
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
        flow = flow._replace(after=True)  # its own record, if it has one, expires with it
        while True:
            script_keys = [keys.active(worker), keys.state, keys.deliveries, keys.stats]
            script_keys += [*keys.buried_keys(kind), keys.result(record_id), *[*keys.slots, keys.pending]]
            script_keys += [keys.flows, *part_keys(keys, record_id, flow)]
            args: list[Any] = [message, record_id, counter, envelope, record_ttl_ms, result_ttl_ms, claimed_id]
            args.append(belief(flow))
            reply = self._call(functools.partial(self._scripts.bury, script_keys, args), write=True)
            if not isinstance(reply, list):
                return bool(reply)
            flow = with_actual(flow, reply[0] if reply else None)

    def unlease(self, keys: QueueKeys, worker: str, messages: Sequence[bytes]) -> int:
        """Give back leased messages not started, to the head of the queue; how many were still leased."""
        script_keys = [keys.active(worker), keys.pending, keys.state, *keys.slots]
        return int(self._call(lambda c: self._scripts.unlease(script_keys, list(messages), client=c)))

    def release(self, keys: QueueKeys, worker: str) -> int:
        """Give back everything ``worker`` holds (none of it started) and deregister it; how many."""
        script_keys = [keys.workers, keys.active(worker), keys.pending, keys.state, *keys.slots]
        return int(self._call(lambda c: self._scripts.release(script_keys, [worker], client=c)))

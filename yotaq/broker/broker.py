"""``Broker``: the one door to Redis. Every command yotaq sends goes through it: those of a worker are
here, with their keys and arguments; a producer's are built by ``commands`` (shared with
``AsyncBroker``, in ``aio``); upkeep, control and read-only looks are mixed in from their own modules.

Methods are named for what they do to a queue (push, lease, acknowledge, retry, fail, reap, ...);
each is one round trip and, where it changes more than one key, one Lua script or ``MULTI``, so
it is atomic. redis-py's errors come out as yotaq's (``connection.translated``). Methods a
producer calls wait out a short outage (``OutageRetry``); a worker calls the others through its own
``OutageRetry``, which waits for ever and knows what a lost reply means for its leases.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar, cast

from redis.cluster import RedisCluster
from redis.sentinel import SentinelConnectionPool

from . import commands
from .commands import Record, block_s
from .connection import Client, OutageRetry, ThreadClients, check_client, evalsha, transaction, translated
from .control import Control
from .flows import Workflows
from .keys import QueueKeys
from .leases import Leasing
from .reads import Reads
from .scripts import Scripts
from .upkeep import Upkeep

if TYPE_CHECKING:
    from ..info import FailedOrDead, QueueInfo
    from .watch import ListWatch, Thread

T = TypeVar("T")

PRODUCER_GIVE_UP_S = 2.0  # how long a producer's call waits out an outage before it raises
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


class Broker(Control, Leasing, Reads, Upkeep, Workflows):
    """Speaks Redis for every queue on one client.

    Args:
        client: a ``redis.Redis`` or ``RedisCluster`` without ``decode_responses`` (``yotaq.connect(url)``
            makes one).
        give_up_after: how long a producer's call waits out an outage, in seconds.
        replicas: after each write (an enqueue, an outcome), wait until this many replicas have it
            (Redis's ``WAIT``), so that a failover cannot lose it; 0 to count a write done once the
            master has it.
    """

    def __init__(self, client: Client, *, give_up_after: float = PRODUCER_GIVE_UP_S, replicas: int = 0) -> None:
        self.client = check_client(client)
        self.cluster = isinstance(client, RedisCluster)
        self.outage_retry = OutageRetry(give_up_after)
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

    def thread(self, target: Callable[..., object], *args: object, name: str) -> threading.Thread:
        """A daemon thread running ``target(*args)`` that gives its connection back to the pool as it
        ends, while it is still a thread like any other. Given back later, as the thread's state is torn
        down, it could be as the interpreter exits: the thread is then frozen where it stands, maybe
        holding the pool's lock, and the exit waits on that lock for ever."""

        def run() -> None:
            try:
                target(*args)
            finally:
                self._own.close_mine()

        return threading.Thread(target=run, name=name, daemon=True)

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

    def _through_outage(
        self,
        command: Callable[[Client], T],
        *,
        blocks_s: float = 0.0,
        write: bool = False,
        again: Callable[[Client], T] | None = None,
    ) -> T:
        """A producer's call: ``command`` on this thread's own client, tried again through an outage,
        and given up within its give-up time (plus ``blocks_s``, for a command that waits in Redis).

        ``again`` is what a write sends on its later tries: a try whose reply was lost may have gone
        through, and must not be applied twice.
        """
        give_up_at = time.monotonic() + self.outage_retry.give_up_after + blocks_s  # type: ignore[operator]
        if write and self.replicas:
            command, again = self._replicated(command), again and self._replicated(again)
        send = command

        def attempt() -> T:
            nonlocal send
            remaining = max(give_up_at - time.monotonic(), MIN_ATTEMPT_S)
            try:
                with translated():
                    return self._own.call(send, remaining)
            finally:
                send = again or command  # for every later try

        return self.outage_retry.run(attempt)

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
        """Append a message to the pending list, its job now pending: one script call, one round trip
        (tried again after a lost reply, it pushes nothing if the first try went through)."""
        script = self._scripts.push
        wire = commands.push_wire(keys, job_id, message, script.sha)

        def load_and_push(client: Client) -> None:  # on a Redis that does not know the script yet, or a Cluster
            script(*commands.push_script(keys, [job_id], [message], again=False), client=client)

        again = self._push_again(keys, [job_id], [message])
        self._through_outage(lambda client: evalsha(client, wire, load_and_push), write=True, again=again)

    def push_many(self, keys: QueueKeys, job_ids: Sequence[str], messages: Sequence[bytes]) -> None:
        """Append many messages at once, in one transaction."""
        push = commands.push_many_commands(keys, job_ids, messages)
        if push:
            again = self._push_again(keys, job_ids, messages)
            self._through_outage(lambda client: transaction(client, *push), write=True, again=again)

    def _push_again(
        self, keys: QueueKeys, job_ids: Sequence[str], messages: Sequence[bytes]
    ) -> Callable[[Client], None]:
        """What a push sends on its later tries (see ``commands.push_again_scripts``)."""

        def push_again(client: Client) -> None:  # its scripts built only when needed: off the common path
            for script_keys, args in commands.push_again_scripts(keys, job_ids, messages):
                self._scripts.push(script_keys, args, client=client)

        return push_again

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
        reply = self._through_outage(lambda c: self._scripts.enqueue(script_keys, args, client=c), write=True)
        return commands.read_enqueue(reply, job_id)

    def agree_shards(self, keys: QueueKeys, shards: int, who: str) -> None:
        """Record how many shards the queue has, or check that it is ``shards``: a producer and a
        worker that count differently would put and look for jobs in different places.

        Raises:
            ConfigurationError: the queue has another number of shards.
        """
        agree = commands.agree_shards_commands(keys, shards)
        recorded, _ = self._through_outage(lambda c: transaction(c, *agree))
        commands.check_shards(keys, recorded, shards, who)

    def recorded_shards(self, keys: QueueKeys) -> int:
        """How many shards the queue's producers and workers have agreed on (1 if none has said)."""
        recorded = self._through_outage(lambda c: c.get(keys.shards))
        return 1 if recorded is None else int(recorded)

    # -- reading -------------------------------------------------------------------------------

    def wait_result(self, keys: QueueKeys, job_id: str, timeout_s: float) -> bytes | None:
        """The job's result envelope, waiting for it in Redis at most ``timeout_s``; None if none came."""
        wait = commands.wait_result_command(keys, job_id, timeout_s)
        return cast(bytes | None, self._through_outage(lambda c: c.execute_command(*wait), blocks_s=timeout_s))  # type: ignore[no-untyped-call]

    def watch_lists(self, on_element: Callable[[str, bytes], None], thread: Thread | None = None) -> ListWatch:
        """Wait for many lists at once to hold something, in one blocking read per Redis node: the lists
        given to the watch's ``watch`` (jobs' results, queues' pending messages), each told to
        ``on_element`` (see ``watch.ListWatch``); its listening threads made by ``thread``."""
        from .watch import ListWatch  # (imported when used: by an executor, a worker of several queues)

        return ListWatch(self.client, on_element, thread)

    def status(self, keys: QueueKeys, job_id: str) -> tuple[str, bytes | None]:
        """Where a job is, in O(1) (see ``commands.read_status``)."""
        script_keys, args = commands.status_script(keys, job_id)
        return commands.read_status(self._through_outage(lambda c: self._scripts.status(script_keys, args, client=c)))

    def info(self, keys: QueueKeys) -> QueueInfo:
        """Counts of the queue's jobs, and its workers, in two round trips."""

        script_keys, args = commands.info_script(keys, self.fleet(keys))

        def read(client: Client) -> QueueInfo:
            reply = self._scripts.info(script_keys, args, client=client)
            lengths = commands.active_commands(keys, reply)
            return commands.read_info(keys, reply, transaction(client, *lengths) if lengths else [])

        return self._through_outage(read)

    def jobs_of(self, keys: QueueKeys, kind: FailedOrDead) -> list[Record]:
        """The records of the jobs set aside as ``kind`` that are kept, oldest first."""
        script_keys, args = commands.records_script(keys, kind)
        return commands.read_records(self._through_outage(lambda c: self._scripts.records(script_keys, args, client=c)))

    def requeue(self, keys: QueueKeys, kind: FailedOrDead, job_ids: Sequence[str]) -> int:
        """Put jobs set aside as ``kind`` back on the queue, to run from scratch; how many were found."""
        if not job_ids:
            return 0
        script_keys, args = commands.requeue_script(keys, kind, job_ids)
        return int(self._through_outage(lambda c: self._scripts.requeue(script_keys, args, client=c)))

    def purge(self, keys: QueueKeys, kind: FailedOrDead) -> int:
        """Forget every job set aside as ``kind``; how many there were."""
        purge = commands.purge_commands(keys, kind)
        count, _ = self._through_outage(lambda c: transaction(c, *purge))
        return int(count)

    def forget_jobs(self, keys: QueueKeys, kind: FailedOrDead, job_ids: Sequence[str]) -> int:
        """Forget these jobs set aside as ``kind`` (a purge of some): one ``MULTI``; how many there were."""

        if not job_ids:
            return 0
        commands_ = zip(("ZREM", "HDEL", "HDEL"), keys.keys_of(kind), strict=True)
        forget = [(command, key, *job_ids) for command, key in commands_]
        return int(self._through_outage(lambda c: transaction(c, *forget))[0])

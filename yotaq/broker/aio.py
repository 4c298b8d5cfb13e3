"""``AsyncBroker``: the producer's door to Redis for asyncio (``yotaq.AsyncQueue``).

The producer's commands only: push, enqueue, wait for a result, status, info, cancel, progress, the
failed and dead records, periodic schedules, agree on the shards. Each is the blocking ``Broker``'s
command, the same keys, arguments and Lua scripts (built by ``commands``, read from ``lua/``), sent
through a ``redis.asyncio`` client: a coroutine that waits on Redis lets the event loop run everything
else meanwhile. redis-py's errors come out as yotaq's (``connection.translated``), and every call waits
out a short outage within the producer's deadline (``OutageRetry``), as the blocking producer does.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

import redis.asyncio
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import SentinelConnectionPool
from redis.commands.core import AsyncScript

from ..exceptions import ConfigurationError, RedisUnavailable
from ..info import FailedOrDead, QueueInfo
from . import commands, flows
from .broker import MAX_BLOCK_S, MIN_ATTEMPT_S, PRODUCER_GIVE_UP_S
from .commands import Record, ScheduleRecord
from .connection import FIRST_PAUSE_S, MAX_PAUSE_S, OutageRetry, exec_replies, packed, translated
from .flows import Flow
from .keys import FleetKeys, QueueKeys
from .scripts import SOURCES

T = TypeVar("T")

AsyncClient = redis.asyncio.Redis | RedisCluster
"""What ``AsyncBroker`` talks to Redis through: ``AsyncQueue.from_url(url)`` makes either."""


def check_async_client(client: AsyncClient) -> AsyncClient:
    """Return ``client`` if yotaq can use it: a ``redis.asyncio`` client without ``decode_responses``."""
    if not isinstance(client, AsyncClient):
        raise ConfigurationError(
            "expected a redis.asyncio.Redis or redis.asyncio.RedisCluster client "
            f"(AsyncQueue.from_url(url) makes one), got {client!r}"
        )
    if client.get_connection_kwargs().get("decode_responses"):
        raise ConfigurationError("yotaq needs a Redis client without decode_responses=True: messages are bytes")
    return client


async def transaction(client: AsyncClient, *commands: commands.Command, cluster: bool = False) -> list[Any]:
    """Run ``commands`` as one ``MULTI`` ... ``EXEC``, in one round trip; their replies.

    As the blocking ``transaction``: the commands are packed by hand (hiredis) and written on one
    connection, and every reply is read back, so the connection stays in step even when Redis refuses
    one of them. That connection is the client's own on a client of one connection (a replicated
    write's, so that its ``WAIT`` follows on it), else one of the pool's, held for that round trip
    only, through ``Connection``'s public ``send_packed_command`` and ``read_response``: redis-py's
    ``pipeline(transaction=True)`` takes 1.5 to 1.7 times the CPU for an enqueue's ``MULTI`` (both measured
    side by side in one process, without hiredis: about 250 µs against 150). On a Redis Cluster (``cluster``,
    which the caller knows: ``isinstance`` against redis-py's classes costs microseconds; every command on
    one slot) redis-py's transaction is used.
    """
    if cluster:
        async with client.pipeline(transaction=True) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return list(await pipe.execute())
    single = cast(redis.asyncio.Redis, client)  # not a cluster, as the caller says
    if single.connection is not None:
        return await _exec(single.connection, commands)
    pool = single.connection_pool
    connection = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        return await _exec(connection, commands)
    finally:  # (a connection cut short mid-reply has been closed by redis-py, and reconnects when next used)
        await pool.release(connection)


async def _exec(connection: Any, commands: Sequence[commands.Command]) -> list[Any]:
    await connection.send_packed_command([packed((b"MULTI",), *commands, (b"EXEC",))], check_health=False)
    error: redis.ResponseError | None = None
    replies: Any = None
    for _ in range(len(commands) + 2):  # +OK, one +QUEUED each, then EXEC's array
        try:
            replies = await connection.read_response(timeout=math.inf)  # bounded by the caller's deadline
        except redis.ResponseError as exc:
            error = error or exc
    return exec_replies(replies, error)


async def retried(retry: OutageRetry, command: Callable[[], Awaitable[T]]) -> T:
    """``retry.run`` for a coroutine: the same deadline and backoff, each pause an ``asyncio.sleep``, so that
    the event loop goes on meanwhile."""
    give_up_at = None if retry.give_up_after is None else time.monotonic() + retry.give_up_after
    pause = FIRST_PAUSE_S
    while True:
        try:
            return await command()
        except RedisUnavailable as exc:
            if give_up_at is not None and time.monotonic() + pause > give_up_at:
                raise RedisUnavailable(f"{exc} (gave up after {retry.give_up_after:g} s)") from exc
        await asyncio.sleep(pause)
        pause = min(pause * 2, MAX_PAUSE_S)


class AsyncBroker:
    """Speaks Redis for a producer's queues on one ``redis.asyncio`` client.

    Args:
        client: a ``redis.asyncio.Redis`` or ``redis.asyncio.RedisCluster`` without ``decode_responses``.
        give_up_after: how long a call waits out an outage, in seconds.
        replicas: after each enqueue, wait until this many replicas have it (Redis's ``WAIT``).
    """

    def __init__(self, client: AsyncClient, *, give_up_after: float = PRODUCER_GIVE_UP_S, replicas: int = 0) -> None:
        self.client = check_async_client(client)
        self.outage_retry = OutageRetry(give_up_after)
        self._cluster = isinstance(client, RedisCluster)
        self.replicas = commands.check_replicas(replicas, self._cluster)
        # A wait in Redis must end before the client's socket gives up on the reply.
        socket_timeout = client.get_connection_kwargs().get("socket_timeout")
        self.max_block_s = MAX_BLOCK_S if socket_timeout is None else min(MAX_BLOCK_S, socket_timeout / 2)
        self._enqueue: AsyncScript = client.register_script(SOURCES["enqueue"])
        self._push: AsyncScript = client.register_script(SOURCES["push"])
        self._status: AsyncScript = client.register_script(SOURCES["status"])
        self._info: AsyncScript = client.register_script(SOURCES["info"])
        self._cancel: AsyncScript = client.register_script(SOURCES["cancel"])
        self._records: AsyncScript = client.register_script(SOURCES["records"])
        self._requeue: AsyncScript = client.register_script(SOURCES["requeue"])
        self._schedule: AsyncScript = client.register_script(SOURCES["schedule"])
        self._workflow: AsyncScript = client.register_script(SOURCES["workflow"])

    async def _through_outage(
        self,
        command: Callable[[AsyncClient], Awaitable[T]],
        *,
        blocks_s: float = 0.0,
        write: bool = False,
        again: Callable[[AsyncClient], Awaitable[T]] | None = None,
    ) -> T:
        """``command(client)``, tried again through an outage and given up within its give-up time (plus
        ``blocks_s``, for a command that waits in Redis). ``write``: replicated as ``replicas`` asks.
        ``again``: what a write sends on its later tries, as ``Broker._through_outage``."""
        give_up_at = time.monotonic() + cast(float, self.outage_retry.give_up_after) + blocks_s
        sends = [command] if again is None else [command, again]  # the last one for every later try
        if write and self.replicas:
            sends = [self._replicated(send) for send in sends]

        async def attempt() -> T:
            send = sends.pop(0) if len(sends) > 1 else sends[0]
            try:
                async with asyncio.timeout(max(give_up_at - time.monotonic(), MIN_ATTEMPT_S)):
                    with translated():
                        return await send(self.client)
            except TimeoutError as exc:  # asyncio's: redis-py's own timeouts are translated above
                raise RedisUnavailable(
                    "no reply from Redis in time, so the command may or may not have gone through"
                ) from exc

        return await retried(self.outage_retry, attempt)

    def _replicated(self, command: Callable[[AsyncClient], Awaitable[T]]) -> Callable[[AsyncClient], Awaitable[T]]:
        """``command`` on a connection of its own, then ``WAIT`` on it until ``replicas`` replicas have
        its writes (never on a cluster: refused at construction)."""

        async def durable(client: AsyncClient) -> T:
            own = cast(redis.asyncio.Redis, client).client()
            try:
                await own.initialize()
                result = await command(own)
                confirmed = await own.execute_command(*commands.wait_command(self.replicas))  # type: ignore[no-untyped-call]
                commands.check_replicated(int(confirmed), self.replicas)
                return result
            finally:
                await own.aclose()  # its connection goes back to the pool (or is closed, if cut mid-read)

        return durable

    async def aclose(self) -> None:
        """Close the client and its connections (to the Sentinels too, for a Sentinel-managed master)."""
        await self.client.aclose()
        pool = getattr(self.client, "connection_pool", None)
        if isinstance(pool, SentinelConnectionPool):
            for sentinel in pool.sentinel_manager.sentinels:
                await sentinel.aclose()

    # -- producing -----------------------------------------------------------------------------

    async def push(self, keys: QueueKeys, job_id: str, message: bytes) -> None:
        """Append a message to the pending list, its job now pending: one ``MULTI``, one round trip
        (tried again after a lost reply, it pushes nothing if the first try went through)."""
        await self.push_many(keys, [job_id], [message])

    async def push_many(self, keys: QueueKeys, job_ids: Sequence[str], messages: Sequence[bytes]) -> None:
        """Append many messages at once, in one transaction."""
        push = commands.push_many_commands(keys, job_ids, messages)
        if not push:
            return

        async def push_again(client: AsyncClient) -> None:  # built only when needed: off the common path
            for script_keys, args in commands.push_again_scripts(keys, job_ids, messages):
                await self._push(script_keys, args, client=client)

        await self._through_outage(
            lambda client: transaction(client, *push, cluster=self._cluster), write=True, again=push_again
        )

    async def enqueue(
        self, keys: QueueKeys, job_id: str, message: bytes, *, unique: bool, at_ms: int | None, delay_ms: int | None
    ) -> bool:
        """Enqueue a job with an id of the caller's choosing (``unique``), or to run later; False when a
        job with this unique id is still pending, scheduled or active.

        Raises:
            JobIdInUse: the id is a cancelled job's still on the queue.
        """
        script_keys, args = commands.enqueue_script(
            keys, job_id, message, unique=unique, at_ms=at_ms, delay_ms=delay_ms, token=os.urandom(8).hex()
        )
        reply = await self._through_outage(lambda c: self._enqueue(script_keys, args, client=c), write=True)
        return commands.read_enqueue(reply, job_id)

    async def agree_shards(self, keys: QueueKeys, shards: int, who: str) -> None:
        """Record how many shards the queue has, or check that it is ``shards``.

        Raises:
            ConfigurationError: the queue has another number of shards.
        """
        agree = commands.agree_shards_commands(keys, shards)
        recorded, _ = await self._through_outage(lambda client: transaction(client, *agree, cluster=self._cluster))
        commands.check_shards(keys, recorded, shards, who)

    # -- reading -------------------------------------------------------------------------------

    async def wait_result(self, keys: QueueKeys, job_id: str, timeout_s: float) -> bytes | None:
        """The job's result envelope, waiting for it in Redis at most ``timeout_s``; None if none came."""
        wait = commands.wait_result_command(keys, job_id, timeout_s)
        return cast(bytes | None, await self._through_outage(lambda c: c.execute_command(*wait), blocks_s=timeout_s))

    async def status(self, keys: QueueKeys, job_id: str) -> tuple[str, bytes | None]:
        """Where a job is, in O(1) (see ``commands.read_status``)."""
        script_keys, args = commands.status_script(keys, job_id)
        return commands.read_status(await self._through_outage(lambda c: self._status(script_keys, args, client=c)))

    async def info(self, keys: QueueKeys) -> QueueInfo:
        """Counts of the queue's jobs, and its workers, in two round trips."""
        script_keys, args = commands.info_script(keys, FleetKeys.of(keys, self._cluster))

        async def read(client: AsyncClient) -> QueueInfo:
            reply = await self._info(script_keys, args, client=client)
            lengths = commands.active_commands(keys, reply)
            return commands.read_info(
                keys, reply, await transaction(client, *lengths, cluster=self._cluster) if lengths else []
            )

        return await self._through_outage(read)

    async def jobs_of(self, keys: QueueKeys, kind: FailedOrDead) -> list[Record]:
        """The records of the jobs set aside as ``kind`` that are kept, oldest first."""
        script_keys, args = commands.records_script(keys, kind)
        return commands.read_records(await self._through_outage(lambda c: self._records(script_keys, args, client=c)))

    async def requeue(self, keys: QueueKeys, kind: FailedOrDead, job_ids: Sequence[str]) -> int:
        """Put jobs set aside as ``kind`` back on the queue, to run from scratch; how many were found."""
        if not job_ids:
            return 0
        script_keys, args = commands.requeue_script(keys, kind, job_ids)
        return int(await self._through_outage(lambda c: self._requeue(script_keys, args, client=c)))

    async def purge(self, keys: QueueKeys, kind: FailedOrDead) -> int:
        """Forget every job set aside as ``kind``; how many there were."""
        purge = commands.purge_commands(keys, kind)
        count, _ = await self._through_outage(lambda client: transaction(client, *purge, cluster=self._cluster))
        return int(count)

    # -- periodic schedules --------------------------------------------------------------------

    async def schedule(self, keys: QueueKeys, name: str, record: bytes, timing: str, first_run_ms: int) -> None:
        """Register (or replace) a periodic schedule; see ``schedule-5.lua``."""
        script_keys, args = commands.schedule_script(keys, name, record, timing, first_run_ms)
        await self._through_outage(lambda c: self._schedule(script_keys, args, client=c), write=True)

    async def unschedule(self, keys: QueueKeys, name: str) -> bool:
        """Remove a periodic schedule, and all that was noted about it; whether there was one."""
        removals = commands.unschedule_commands(keys, name)
        removed, *_ = await self._through_outage(
            lambda client: transaction(client, *removals, cluster=self._cluster), write=True
        )
        return bool(removed)

    async def schedules(self, keys: QueueKeys) -> list[ScheduleRecord]:
        """Every periodic schedule (see ``commands.read_schedules``)."""
        reads = commands.schedules_commands(keys)
        return commands.read_schedules(
            await self._through_outage(lambda c: transaction(c, *reads, cluster=self._cluster))
        )

    # -- reaching into a job -------------------------------------------------------------------

    async def cancel(self, keys: QueueKeys, job_id: str, envelope: bytes, result_ttl_ms: int) -> str | None:
        """Cancel a job and tell its dependents (see ``cancel-14+n.lua``); its state before, or None when
        it was not there."""

        async def send(dependents: list[Flow]) -> Any:
            script_keys, args = commands.cancel_script(keys, job_id, envelope, result_ttl_ms, dependents[0])
            return await self._through_outage(functools.partial(self._cancel, script_keys, args))

        return commands.read_cancel(await flows.believed_async(send, [Flow(after=True)]))

    async def enqueue_workflow(self, steps: Sequence[flows.Step]) -> None:
        """Enqueue the jobs of a workflow at once (see ``Flows.enqueue_workflow``)."""
        flows.check_one_slot(steps, self._cluster)
        script_keys, args = flows.workflow_script(steps, os.urandom(8).hex(), commands.ENQUEUE_TOKEN_TTL_MS)
        flows.read_workflow(
            await self._through_outage(lambda c: self._workflow(script_keys, args, client=c), write=True)
        )

    async def links(self, keys: QueueKeys, job_id: str) -> flows.Links:
        """What is kept of a job's parents and dependents."""
        reads = flows.links_commands(keys, job_id)
        return flows.read_links(await self._through_outage(lambda c: transaction(c, *reads, cluster=self._cluster)))

    async def progress(self, keys: QueueKeys, job_id: str) -> bytes | None:
        """What the job last reported with ``current_job().set_progress`` (JSON), or None."""
        key = keys.progress(job_id)
        return cast(bytes | None, await self._through_outage(lambda c: c.get(key)))

"""Connections to Redis (one server, a Sentinel-managed master, or a Redis Cluster), the one policy for
waiting out an outage, and redis-py's errors in yotaq's words."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

import redis
from redis.asyncio.sentinel import MasterNotFoundError as AsyncMasterNotFoundError
from redis.cluster import RedisCluster
from redis.exceptions import ClusterDownError, OutOfMemoryError, ReadOnlyError, RedisClusterException, TryAgainError
from redis.sentinel import MasterNotFoundError

from ..exceptions import BrokerError, ConfigurationError, RedisUnavailable

T = TypeVar("T")

CONNECT_TIMEOUT_S = 2.0
# Longer than any blocking wait the worker makes, so a timeout means Redis is in trouble.
SOCKET_TIMEOUT_S = 10.0
# Waiting out an outage: exponential backoff from the first pause, capped.
FIRST_PAUSE_S = 0.05
MAX_PAUSE_S = 5.0


Client = redis.Redis | RedisCluster
"""What yotaq talks to Redis through: ``yotaq.connect(url)`` makes either."""


def check_client(client: Client) -> Client:
    """Return ``client`` if yotaq can use it: messages are bytes, so no ``decode_responses``."""
    if not isinstance(client, Client):
        raise ConfigurationError(
            f"expected a redis.Redis or RedisCluster client (yotaq.connect(url) makes one), got {client!r}"
        )
    if client.get_connection_kwargs().get("decode_responses"):
        raise ConfigurationError("yotaq needs a Redis client without decode_responses=True: messages are bytes")
    return client


class ThreadClients:
    """For commands sent often from any thread: each thread's own client of ``client``'s pool, kept.

    A pooled client takes a connection from its pool for each command and gives it back after (a lock,
    redis-py's metrics, a poll of the socket): a whole ``RPUSH`` takes 28 µs that way, 17 through a client
    of its own (50 and 33 with cold caches). A thread's own client (an ``OwnClient``) holds one connection
    of the pool until its thread ends or this object goes. A forked child makes its own, and so does a
    call made while its thread's client is busy (a signal handler enqueueing in the middle of an enqueue).
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._local = threading.local()
        # Asked once: RedisCluster derives from a typing.Protocol, so isinstance against it is slow.
        self._cluster = isinstance(client, RedisCluster)

    def call(self, command: Callable[[Any], T], timeout_s: float | None = None) -> T:
        """``command(client)`` with this thread's client, within ``timeout_s`` when given (see ``OwnClient``);
        a Redis Cluster client, which keeps a pool per node and picks the node by key, as it is."""
        if self._cluster:
            return command(self._client)
        local = self._local
        pid, own = getattr(local, "own", (0, None))
        local.own = (0, None)  # busy until command returns
        if own is None or pid != os.getpid():
            pid, own = os.getpid(), OwnClient(connection_pool=cast(redis.Redis, self._client).connection_pool)
        connection: Any = own.connection  # redis-py's connections are untyped
        if connection.should_reconnect():  # Redis said it is moving (maintenance notifications)
            connection.disconnect()
        # Through connect(), which a Sentinel-managed connection overrides to ask for the master (a lazy
        # connect on sending would dial the old master after a failover). Asked first: connect() on a
        # connected connection does nothing, through redis-py's retry wrapper, at a tenth of an enqueue's CPU.
        if not connection.is_connected:
            connection.connect()
        own.deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            return command(own)
        finally:
            own.deadline = None
            local.own = (pid, own)

    def close_mine(self) -> None:
        """Give this thread's client back to the pool now (see ``Broker.thread``)."""
        _, own = getattr(self._local, "own", (0, None))
        self._local.own = (0, None)
        if own is not None:
            own.close()


def named_wait(client: Any, blocked: Callable[[int | None], None] | None, wait: Callable[[], T]) -> T:
    """``wait()``, one blocking command on ``client``, with ``blocked`` told the id of the connection that
    waits before it and None after, for another thread to end it early (``end_wait``; not on a Redis
    Cluster, whose pooled client has no one connection to name). ``blocked`` may raise, seeing a stop:
    it is told None all the same."""
    try:
        if blocked is not None and isinstance(client, OwnClient):
            blocked(client.id())
        return wait()
    finally:
        if blocked is not None:
            blocked(None)


class OwnClient(redis.Redis):
    """A client holding one connection of a shared pool, for one thread (``ThreadClients``).

    While ``deadline`` (a ``time.monotonic()``) is set, each command is sent once (``OutageRetry`` is the one
    retry policy) and its reply awaited until then at most, whatever the pool's ``socket_timeout``: a producer
    gives up on a silent Redis in time. A reply begun is read to its end, within the pool's own timeouts."""

    def __init__(self, *, connection_pool: redis.ConnectionPool) -> None:
        super().__init__(connection_pool=connection_pool, single_connection_client=True)
        self.deadline: float | None = None
        self.known_id: int | None = None
        connection: Any = self.connection
        connection.register_connect_callback(self._connected)

    def id(self) -> int:
        """This connection's id in Redis (what ``CLIENT UNBLOCK`` names), asked once per connection."""
        if self.known_id is None:
            self.known_id = int(self.client_id())
        return self.known_id

    def _connected(self, connection: Any) -> None:
        self.known_id = None  # a new connection has a new id

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if self.deadline is None:
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        connection: Any = self.connection
        connection.send_command(*args)

        def read() -> Any:
            return self.parse_response(connection, args[0], **options)  # type: ignore[no-untyped-call]

        return in_step(connection, self.deadline, read)


def in_step(connection: Any, deadline: float | None, read: Callable[[], T]) -> T:
    """``read()`` the reply to what was just written on ``connection``, given up on at ``deadline`` (a
    ``time.monotonic()``; None: as long as the connection's ``socket_timeout``). Anything but an error reply
    raised meanwhile (a signal's exception) drops the connection: its reply would be taken for the next one's."""
    try:
        if deadline is not None and not connection.can_read(timeout=max(deadline - time.monotonic(), 0.0)):
            connection.disconnect()  # the reply may come later, where the next command's is expected
            raise RedisUnavailable("no reply from Redis in time, so the command may or may not have gone through")
        return read()
    except redis.ResponseError:
        raise
    except BaseException:
        connection.disconnect()
        raise


def transaction(own: Client, *commands: tuple[Any, ...]) -> list[Any]:
    """Run ``commands`` as one ``MULTI`` ... ``EXEC`` on ``own``'s connection, in one round trip; their replies.

    redis-py's ``pipeline()`` would take another connection from the pool, at the pool's price: this writes
    on the connection an ``OwnClient`` holds and reads every reply back, so that it stays in step even when
    Redis refuses a command. Any other client (a Redis Cluster's: every command on one slot) pipelines."""
    if not isinstance(own, OwnClient):  # (not isinstance against RedisCluster: see ThreadClients)
        with own.pipeline(transaction=True) as pipe:
            for command in commands:
                pipe.execute_command(*command)
            return list(pipe.execute())
    connection: Any = own.connection
    connection.send_packed_command([packed((b"MULTI",), *commands, (b"EXEC",))], check_health=False)

    def read_all() -> tuple[Any, redis.ResponseError | None]:  # the replies come together: one wait for them all
        error: redis.ResponseError | None = None
        replies: Any = None
        for _ in range(len(commands) + 2):  # +OK, one +QUEUED each, then EXEC's array
            try:
                replies = connection.read_response()
            except redis.ResponseError as exc:
                error = error or exc
        return replies, error

    return exec_replies(*in_step(connection, own.deadline, read_all))


def evalsha(own: Client, wire: bytes, otherwise: Callable[[Client], Any]) -> Any:
    """A script's ``EVALSHA`` packed already (``wire``), written on ``own``'s connection; its reply. One reply to read
    makes a single enqueue cheaper than a ``MULTI`` (four). ``otherwise(own)`` runs the script the long way (which
    loads it) on a Redis that does not know it yet, and on any other client (a Redis Cluster's)."""
    if not isinstance(own, OwnClient):  # (not isinstance against RedisCluster: see ThreadClients)
        return otherwise(own)
    connection: Any = own.connection
    connection.send_packed_command([wire], check_health=False)
    try:
        return in_step(connection, own.deadline, connection.read_response)
    except redis.exceptions.NoScriptError:  # nothing ran
        return otherwise(own)


def exec_replies(replies: Any, error: redis.ResponseError | None) -> list[Any]:
    """``EXEC``'s replies, or the first error among them and those read before (``error``) raised:
    a ``MULTI`` read command by command, blocking or awaited, ends here."""
    for reply in replies or ():
        if isinstance(reply, redis.ResponseError):
            error = error or reply
    if error is not None:
        raise error
    return list(replies)


def pairs(reply: Any) -> list[tuple[Any, Any]]:
    """A raw ``HGETALL`` or ``ZRANGE ... WITHSCORES`` reply as pairs: a flat list in RESP2, a map or
    a list of pairs in RESP3."""
    if isinstance(reply, dict):
        return list(reply.items())
    if reply and isinstance(reply[0], (list, tuple)):
        return [tuple(pair) for pair in reply]
    return list(zip(reply[::2], reply[1::2], strict=True))


def packed(*commands: tuple[Any, ...]) -> bytes:
    """Commands (of bytes, str or int) in Redis's protocol, packed by hiredis if installed, else here: redis-py's
    ``Connection.pack_commands`` takes 11.5 µs for a ``MULTI`` of two commands without hiredis, this 4.7."""
    if _pack_command is not None:
        return b"".join(map(_pack_command, commands))
    parts = []
    for command in commands:
        parts.append(b"*%d\r\n" % len(command))
        for argument in command:
            data = argument if isinstance(argument, bytes) else str(argument).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


try:
    import hiredis  # the "hiredis" extra

    _pack_command: Callable[[tuple[Any, ...]], bytes] | None = hiredis.pack_command
except ImportError:  # pragma: no cover - without the extra
    _pack_command = None


_TRANSIENT_REPLIES = ("MISCONF", "BUSY", "LOADING", "MASTERDOWN")


def is_transient(error: redis.RedisError) -> bool:
    """Whether ``error`` is one that waiting out fixes: Redis unreachable, loading, read-only
    after a failover, out of memory, or refusing writes after a failed save; a Redis Cluster
    refusing commands while a master is down (``CLUSTERDOWN``)."""
    transient = (redis.ConnectionError, redis.TimeoutError, ReadOnlyError, OutOfMemoryError, TryAgainError)
    if isinstance(error, (*transient, ClusterDownError)):
        return True
    return isinstance(error, redis.ResponseError) and str(error).startswith(_TRANSIENT_REPLIES)


def translated() -> _Translated:
    """Raise redis-py's errors as yotaq's: ``RedisUnavailable`` for what waiting may fix, else ``BrokerError``."""
    return _TRANSLATED


class _Translated:
    """``translated``'s context manager: a class rather than ``@contextmanager``, whose generator costs
    about a microsecond a command, as much as the rest of an enqueue's own bookkeeping."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, traceback: object) -> None:
        if exc is None:
            return
        if isinstance(exc, RedisClusterException):  # not a RedisError: the cluster's layout could not be read
            raise RedisUnavailable(f"Redis Cluster is unavailable: {message(exc)}") from exc
        if isinstance(exc, redis.TimeoutError):
            raise RedisUnavailable(
                f"no reply from Redis in time, so the command may or may not have gone through: {message(exc)}"
            ) from exc
        if isinstance(exc, redis.RedisError):
            if is_transient(exc):
                raise RedisUnavailable(f"Redis is unavailable: {message(exc)}") from exc
            raise BrokerError(f"Redis refused a command: {message(exc)}") from exc


_TRANSLATED = _Translated()


_CLIENT = re.compile(r"<redis\.(?:asyncio\.)?client\.Redis\(")
_ADDRESS = re.compile(r"\bhost=([^,()<>]+),port=(\d+)")


def message(exc: BaseException) -> str:
    """``exc``'s message with each redis-py client in it named by its address: redis-py names one by
    its repr, some 600 characters of settings. A master no Sentinel named is said in one short line."""
    head, clients = _named_clients(str(exc))
    if isinstance(exc, (MasterNotFoundError, AsyncMasterNotFoundError)) and clients:
        # "No master found for 'name' : <client> - <error>, <client> - <error>...": each Sentinel's error
        # names it again, and the last tells what the others most likely met too.
        asked = ", ".join(address for address, _ in clients)
        last = clients[-1][1].removeprefix(" - ")
        failed = f"Sentinels at {asked} failed, the last" if len(clients) > 1 else f"Sentinel at {asked} failed"
        return f"{head.removesuffix(' : ')} (the {failed} with {last})"
    return head + "".join(address + rest for address, rest in clients)


def _named_clients(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``text`` up to its first redis-py client repr, then each client's address and the text after it."""
    found = _CLIENT.search(text)
    head = text if found is None else text[: found.start()]
    clients: list[tuple[str, str]] = []
    while found is not None:
        depth, end = 0, found.start()
        for end in range(found.start(), len(text)):  # to the '>' that closes it: its settings nest <...>
            depth += {"<": 1, ">": -1}.get(text[end], 0)
            if depth == 0:
                break
        address = _ADDRESS.search(text, found.start(), end)
        found = _CLIENT.search(text, end + 1)
        rest = text[end + 1 : None if found is None else found.start()]
        clients.append((f"{address[1]}:{address[2]}" if address else "a Redis client", rest))
    return head, clients


class OutageRetry:
    """The one way yotaq waits out an outage: retry with capped exponential backoff, until a deadline. A
    producer gives up after ``give_up_after`` seconds, so that its caller hears of the outage; a worker waits
    for ever (``None``), in a ``sleep`` that a stop signal interrupts."""

    def __init__(self, give_up_after: float | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.give_up_after = give_up_after
        self.sleep = sleep

    def run(self, command: Callable[[], T], on_outage: Callable[[RedisUnavailable], None] | None = None) -> T:
        """``command()``, called again while it raises ``RedisUnavailable`` (``on_outage`` told of the first),
        until the deadline: then that ``RedisUnavailable`` is raised."""
        give_up_at = None if self.give_up_after is None else time.monotonic() + self.give_up_after
        pause = FIRST_PAUSE_S
        failing = False
        while True:
            try:
                return command()
            except RedisUnavailable as exc:
                if give_up_at is not None and time.monotonic() + pause > give_up_at:
                    raise RedisUnavailable(f"{exc} (gave up after {self.give_up_after:g} s)") from exc
                if not failing and on_outage is not None:
                    on_outage(exc)
                failing = True
            self.sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_S)

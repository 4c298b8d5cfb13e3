"""A Redis client set up the way yotaq expects."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

import redis
from redis import DriverInfo
from redis.backoff import NoBackoff
from redis.exceptions import OutOfMemoryError, ReadOnlyError, TryAgainError
from redis.retry import Retry

from . import __version__
from .exceptions import ConfigurationError

T = TypeVar("T")

CONNECT_TIMEOUT_S = 2.0
# Longer than any blocking wait the worker makes, so a timeout means Redis is in trouble.
SOCKET_TIMEOUT_S = 10.0
# How yotaq's connections name themselves (CLIENT SETINFO, Redis 7.2+): "redis-py(yotaq_v0.1.0)".
# Given whole, with redis-py's version, because redis-py otherwise looks its own version up in the
# installed packages' metadata for every new connection: 2-4 ms each.
DRIVER_INFO = DriverInfo(lib_version=redis.__version__).add_upstream_driver("yotaq", __version__)


def connect(url: str) -> redis.Redis:
    """Return a Redis client for ``url`` (``redis://``, ``rediss://`` for TLS, ``:password@`` for AUTH).

    redis-py retries failed commands by itself by default, which both slows ``enqueue``'s
    fail-fast down and hides outages from the worker. yotaq does its own retrying (a deadline
    for enqueue, capped backoff forever for a worker), so this client does none. Its connections
    tell Redis they are yotaq's (``CLIENT LIST`` shows ``lib-name=redis-py(yotaq_v...)``).
    """
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 0),
        driver_info=DRIVER_INFO,
    )


class ThreadClients:
    """For commands sent often from any thread: each thread's own client of ``client``'s pool, kept.

    A pooled client takes a connection from its pool for each command and gives it back after:
    a lock, redis-py's connection metrics and a poll of the socket for stray bytes. Measured here,
    a whole ``RPUSH`` takes 28 µs that way and 17 through a client of its own (about 50 and 33
    with the caches cold, as after an idle wait). A thread's own client (redis-py's
    ``client.client()``) holds one connection of the pool, and goes back to the pool when its
    thread ends or this object goes. A forked child makes its own; so does a call made while its
    thread's client is busy (a signal handler enqueueing in the middle of an enqueue), rather than
    interleave two commands on one socket.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._local = threading.local()

    def call(self, command: Callable[[redis.Redis], T]) -> T:
        """``command(client)`` with this thread's client."""
        local = self._local
        pid, own = getattr(local, "own", (0, None))
        local.own = (0, None)  # busy until command returns
        if own is None or pid != os.getpid():
            pid, own = os.getpid(), self._client.client()
        try:
            return command(own)
        finally:
            local.own = (pid, own)


def check_client(client: redis.Redis) -> redis.Redis:
    """Return ``client`` if yotaq can use it: messages are bytes, so no ``decode_responses``."""
    if client.get_connection_kwargs().get("decode_responses"):
        raise ConfigurationError("yotaq needs a Redis client without decode_responses=True: messages are bytes")
    return client


_TRANSIENT_REPLIES = ("MISCONF", "BUSY", "LOADING", "MASTERDOWN")


def is_transient(error: redis.RedisError) -> bool:
    """Whether ``error`` is one that waiting out fixes: Redis unreachable, loading, read-only
    after a failover, out of memory, or refusing writes after a failed save."""
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError, ReadOnlyError, OutOfMemoryError, TryAgainError)):
        return True
    return isinstance(error, redis.ResponseError) and str(error).startswith(
        ("MISCONF", "BUSY", "LOADING", "MASTERDOWN")
    )

"""A Redis client set up the way yotaq expects."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.exceptions import OutOfMemoryError, ReadOnlyError, TryAgainError
from redis.retry import Retry

from .exceptions import ConfigurationError

CONNECT_TIMEOUT_S = 2.0
# Longer than any blocking wait the worker makes, so a timeout means Redis is in trouble.
SOCKET_TIMEOUT_S = 10.0


def connect(url: str) -> redis.Redis:
    """Return a Redis client for ``url`` (``redis://``, ``rediss://`` for TLS, ``:password@`` for AUTH).

    redis-py retries failed commands by itself by default, which both slows ``enqueue``'s
    fail-fast down and hides outages from the worker. yotaq does its own retrying (a deadline
    for enqueue, capped backoff forever for a worker), so this client does none.
    """
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 0),
    )


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

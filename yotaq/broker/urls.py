"""Connection URLs: one Redis, a Redis Cluster, or the master a set of Sentinels names, each from one string.

- ``redis://[user:password@]host[:port][/db][?options]``, ``rediss://`` for TLS: one server (redis-py reads it);
- ``redis+cluster://[user:password@]host:port[,host:port...][/][?options]``: a Redis Cluster, found from any
  of its nodes;
- ``redis+sentinel://[user:password@]host:port[,host:port...]/SERVICE_NAME[/DB][?options]``: the master the
  Sentinels at those addresses name for SERVICE_NAME, found again through them after a failover.

Options of the last two: ``username``, ``password``, ``ssl`` (true/false), ``ssl_ca_certs``, ``ssl_cert_reqs``,
``socket_timeout``, ``socket_connect_timeout`` (seconds); Sentinel's also ``sentinel_username`` and
``sentinel_password``, for the Sentinels themselves. IPv6 addresses go in brackets: ``[::1]:6379``.
"""

from __future__ import annotations

import importlib.metadata
import re
from typing import Any, NamedTuple, cast
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.asyncio.sentinel
from redis import DriverInfo
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry
from redis.sentinel import Sentinel

from ..exceptions import ConfigurationError, RedisUnavailable
from .connection import CONNECT_TIMEOUT_S, SOCKET_TIMEOUT_S

_OPTIONS = {"username", "password", "ssl", "ssl_ca_certs", "ssl_cert_reqs", "socket_timeout", "socket_connect_timeout"}
_SENTINEL_OPTIONS = {"sentinel_username", "sentinel_password"}
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _driver_info() -> DriverInfo:
    """How yotaq's connections name themselves (CLIENT SETINFO, Redis 7.2+): "redis-py(yotaq_v0.1.0)". Given
    whole, as redis-py otherwise looks its own version up in the packages' metadata for every new connection
    (2-4 ms each); yotaq's is looked up once per process (about 3 ms), if it is installed."""
    info = DriverInfo(lib_version=redis.__version__)
    try:
        return info.add_upstream_driver("yotaq", importlib.metadata.version("yotaq"))
    except importlib.metadata.PackageNotFoundError:
        return info


DRIVER_INFO = _driver_info()


class _Classes(NamedTuple):
    """redis-py's classes for one way of calling Redis: blocking (``connect``) or asyncio (``connect_async``)."""

    redis: Any
    cluster: Any
    node: Any
    sentinel: Any
    retry: Any


def _blocking() -> _Classes:  # looked up at each call, as the module's names are then
    return _Classes(redis.Redis, RedisCluster, ClusterNode, Sentinel, Retry)


def _asyncio() -> _Classes:
    return _Classes(
        redis.asyncio.Redis,
        redis.asyncio.cluster.RedisCluster,
        redis.asyncio.cluster.ClusterNode,
        redis.asyncio.sentinel.Sentinel,
        redis.asyncio.retry.Retry,
    )


def _settings() -> dict[str, Any]:
    """What every connection yotaq makes shares: its timeouts, no retrying of its own, its name."""
    return {
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_keepalive": True,
        "driver_info": DRIVER_INFO,
    }


def _redacted(url: str) -> str:
    url = re.sub(r"(://[^/@]*?:)[^/@]*@", r"\1***@", url)
    return re.sub(r"(password=)[^&]*", r"\1***", url)


def _address(item: str) -> tuple[str, int]:
    """``host:port`` or ``[ipv6]:port``; a ``ValueError`` saying what is wrong otherwise."""
    if item.startswith("["):
        host, bracket, rest = item[1:].partition("]")
        if not bracket:
            raise ValueError(f"unclosed '[' in {item!r}")
        port = rest.removeprefix(":") if rest.startswith(":") else ""
    elif item.count(":") > 1:
        raise ValueError(f"IPv6 address {item!r} must be in brackets, as in [::1]:6379")
    else:
        host, _, port = item.partition(":")
    if not host:
        raise ValueError(f"missing host in {item!r} (host:port)" if item else "missing host:port")
    if not port:
        raise ValueError(f"missing port in {item!r} (host:port)")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad port {port!r} in {item!r}")
    return host, int(port)


def _options(parts: SplitResult, allowed: set[str]) -> dict[str, Any]:
    """The credentials and ``?options`` of ``parts`` (a ``urlsplit`` result), checked and converted."""
    userinfo, at, _ = parts.netloc.rpartition("@")
    options: dict[str, Any] = {}
    if at:
        username, _, password = userinfo.partition(":")
        options.update({k: unquote(v) for k, v in (("username", username), ("password", password)) if v})
    try:
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ValueError(f"bad query string {parts.query!r}") from exc
    for name, value in query:
        if name not in allowed:
            raise ValueError(f"unknown option {name!r} (known: {', '.join(sorted(allowed))})")
        if name == "ssl":
            if value.lower() not in _BOOLEANS:
                raise ValueError(f"bad ssl={value!r} (true or false)")
            options[name] = _BOOLEANS[value.lower()]
        elif name.startswith("socket_"):
            try:
                seconds = float(value)
            except ValueError:
                seconds = 0.0
            if not 0 < seconds < float("inf"):
                raise ValueError(f"bad {name}={value!r} (seconds, more than 0)")
            options[name] = seconds
        else:
            options[name] = value
    if not options.get("ssl") and {"ssl_ca_certs", "ssl_cert_reqs"} & options.keys():
        raise ValueError("ssl_ca_certs and ssl_cert_reqs need ssl=true")
    return options


def _cluster(parts: SplitResult, classes: _Classes) -> Any:
    if parts.path not in ("", "/", "/0"):
        raise ValueError(f"a Redis Cluster has only database 0, not {parts.path!r}")
    hosts = parts.netloc.rpartition("@")[2]
    nodes = [classes.node(*_address(item)) for item in hosts.split(",")]
    kwargs = _settings() | _options(parts, _OPTIONS)
    try:  # (an asyncio cluster client asks for the layout at its first command)
        return classes.cluster(startup_nodes=nodes, retry=classes.retry(NoBackoff(), 0), **kwargs)
    except (RedisClusterException, redis.RedisError) as exc:
        raise RedisUnavailable(f"Redis Cluster at {hosts} cannot be reached: {exc}") from exc


def _sentinel(parts: SplitResult, classes: _Classes) -> Any:
    addresses = [_address(item) for item in parts.netloc.rpartition("@")[2].split(",")]
    service, _, db = parts.path.removeprefix("/").removesuffix("/").partition("/")
    if not service:
        raise ValueError("missing service name: redis+sentinel://host:port[,host:port...]/SERVICE_NAME[/DB]")
    if db and not db.isdigit():
        raise ValueError(f"bad db {db!r} after the service name (a number)")
    options = _options(parts, _OPTIONS | _SENTINEL_OPTIONS)
    sentinel_kwargs = _settings() | {"retry": classes.retry(NoBackoff(), 0)}
    sentinel_kwargs |= {name: value for name, value in options.items() if name.startswith("socket_")}
    for name in _SENTINEL_OPTIONS & options.keys():
        sentinel_kwargs[name.removeprefix("sentinel_")] = options.pop(name)
    sentinels = classes.sentinel(addresses, sentinel_kwargs=sentinel_kwargs)
    return sentinels.master_for(
        unquote(service), db=int(db or 0), retry=classes.retry(NoBackoff(), 0), **(_settings() | options)
    )


def connect(url: str) -> redis.Redis | RedisCluster:
    """A client for ``url``: ``redis://`` / ``rediss://``, ``redis+cluster://`` or ``redis+sentinel://``.

    Its commands are not retried by redis-py (yotaq retries, ``OutageRetry``). A cluster is asked for its
    layout at once; a Sentinel-managed master is found at the first command and again after a failover.

    Raises:
        ConfigurationError: the URL is malformed; the message says what is wrong.
        RedisUnavailable: no node of the cluster answered.
    """
    return cast(redis.Redis | RedisCluster, _client(url, _blocking()))


def connect_async(url: str) -> redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster:
    """``connect`` for asyncio (``AsyncQueue.from_url``): the same URLs and settings, a ``redis.asyncio``
    client. It connects at its first command, a cluster's layout included.

    Raises:
        ConfigurationError: the URL is malformed; the message says what is wrong.
    """
    return cast(redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster, _client(url, _asyncio()))


def _client(url: str, classes: _Classes) -> Any:
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    try:
        parts = urlsplit(url)
        if scheme in ("redis", "rediss"):
            try:
                _ = parts.port
            except ValueError as exc:
                raise ValueError(f"bad port: {exc}") from exc
            return classes.redis.from_url(url, retry=classes.retry(NoBackoff(), 0), **_settings())
        if scheme == "redis+cluster":
            return _cluster(parts, classes)
        if scheme == "redis+sentinel":
            return _sentinel(parts, classes)
        known = "redis://, rediss://, redis+cluster://, redis+sentinel://"
        raise ValueError(f"unknown scheme {scheme + '://' if scheme else '(none)'}: expected one of {known}")
    except ValueError as exc:
        raise ConfigurationError(f"invalid Redis URL {_redacted(url)!r}: {exc}") from exc

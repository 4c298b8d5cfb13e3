"""Connection URLs, read without a server: the client each form makes, and each malformed URL's one error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
import redis.cluster
from redis.connection import SSLConnection
from redis.sentinel import SentinelConnectionPool

from yotaq.broker.connection import CONNECT_TIMEOUT_S, SOCKET_TIMEOUT_S, translated
from yotaq.broker.urls import DRIVER_INFO, connect, connect_async
from yotaq.exceptions import ConfigurationError, RedisUnavailable
from yotaq.server import free_port


class Cluster(redis.cluster.RedisCluster):
    """What ``connect`` gives RedisCluster, kept: the real one asks a node for the cluster's layout at once."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def __del__(self) -> None:
        pass


@pytest.fixture
def cluster_args(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("yotaq.broker.urls.RedisCluster", Cluster)


def cluster(url: str) -> dict[str, Any]:
    client = connect(url)
    assert isinstance(client, Cluster)
    return client.kwargs


def kwargs_of(client: redis.Redis) -> dict[str, Any]:
    return dict(client.connection_pool.connection_kwargs)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://example.org:6380/2", {"host": "example.org", "port": 6380, "db": 2}),
        ("redis://:secret@localhost/0", {"host": "localhost", "password": "secret", "db": 0}),
        ("redis://u:p@[::1]:6379", {"host": "::1", "port": 6379, "username": "u", "password": "p"}),
    ],
)
def test_one_server(url: str, expected: dict[str, Any]) -> None:
    client = connect(url)
    assert isinstance(client, redis.Redis)
    kwargs = kwargs_of(client)
    assert {name: kwargs.get(name) for name in expected} == expected
    assert kwargs["socket_timeout"] == SOCKET_TIMEOUT_S
    assert kwargs["socket_connect_timeout"] == CONNECT_TIMEOUT_S
    assert kwargs["socket_keepalive"] is True
    assert kwargs["driver_info"] is DRIVER_INFO
    assert kwargs["retry"].get_retries() == 0
    assert client.connection_pool.connection_class is not SSLConnection
    client.close()


def test_tls_server() -> None:
    client = connect("rediss://cache.example.org:6380/1")
    assert isinstance(client, redis.Redis)
    assert client.connection_pool.connection_class is SSLConnection
    assert kwargs_of(client)["host"] == "cache.example.org"
    client.close()


@pytest.mark.usefixtures("cluster_args")
def test_cluster() -> None:
    kwargs = cluster("redis+cluster://10.0.0.1:7000,node-b:7001,[fd00::3]:7002")
    nodes = kwargs.pop("startup_nodes")
    assert all(isinstance(node, redis.cluster.ClusterNode) for node in nodes)
    assert [(node.host, node.port) for node in nodes] == [("10.0.0.1", 7000), ("node-b", 7001), ("fd00::3", 7002)]
    assert kwargs.pop("retry").get_retries() == 0
    assert kwargs["socket_timeout"] == SOCKET_TIMEOUT_S
    assert kwargs["socket_connect_timeout"] == CONNECT_TIMEOUT_S
    assert kwargs["driver_info"] is DRIVER_INFO
    assert kwargs["socket_keepalive"] is True
    assert len(kwargs) == 4


@pytest.mark.usefixtures("cluster_args")
def test_cluster_options() -> None:
    url = "redis+cluster://u:p%40ss@h:7000/?ssl=true&ssl_cert_reqs=none&socket_timeout=2.5&socket_connect_timeout=1"
    kwargs = cluster(url)
    assert kwargs["username"] == "u"
    assert kwargs["password"] == "p@ss"
    assert kwargs["ssl"] is True
    assert kwargs["ssl_cert_reqs"] == "none"
    assert kwargs["socket_timeout"] == 2.5
    assert kwargs["socket_connect_timeout"] == 1.0
    kwargs = cluster("redis+cluster://h:7000/0?password=secret&username=app")
    assert (kwargs["username"], kwargs["password"]) == ("app", "secret")


def test_cluster_that_does_not_answer() -> None:
    port = free_port()
    with pytest.raises(RedisUnavailable, match=rf"Redis Cluster at 127\.0\.0\.1:{port} cannot be reached"):
        connect(f"redis+cluster://127.0.0.1:{port}")


def test_sentinel() -> None:
    client = connect("redis+sentinel://s1:26379,10.0.0.2:26380,[::1]:26381/mymaster")
    assert isinstance(client, redis.Redis)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "mymaster"
    assert pool.is_master
    kwargs = kwargs_of(client)
    assert kwargs["db"] == 0
    assert kwargs["socket_timeout"] == SOCKET_TIMEOUT_S
    assert kwargs["socket_connect_timeout"] == CONNECT_TIMEOUT_S
    assert kwargs["driver_info"] is DRIVER_INFO
    assert kwargs["retry"].get_retries() == 0
    assert kwargs.get("password") is None
    sentinels = [kwargs_of(sentinel) for sentinel in pool.sentinel_manager.sentinels]
    assert [(each["host"], each["port"]) for each in sentinels] == [("s1", 26379), ("10.0.0.2", 26380), ("::1", 26381)]
    for each in sentinels:
        assert each["socket_timeout"] == SOCKET_TIMEOUT_S
        assert each["retry"].get_retries() == 0
        assert each.get("password") is None
    client.close()


def test_sentinels_that_do_not_answer_are_named_by_their_addresses_in_one_short_message() -> None:
    ports = [free_port(), free_port(), free_port()]
    url = "redis+sentinel://" + ",".join(f"127.0.0.1:{port}" for port in ports) + "/mymaster"
    client = connect(url)
    try:
        with pytest.raises(RedisUnavailable) as raised, translated():
            client.ping()
    finally:
        client.close()

    async def ping() -> None:
        client = connect_async(url)
        try:
            with translated():
                await client.ping()
        finally:
            await client.aclose()

    with pytest.raises(RedisUnavailable) as raised_async:
        asyncio.run(ping())
    asked = ", ".join(f"127.0.0.1:{port}" for port in ports)
    for message in (str(raised.value), str(raised_async.value)):
        assert message.startswith(f"Redis is unavailable: No master found for 'mymaster' (the Sentinels at {asked} ")
        assert "failed, the last with " in message and f"connecting to 127.0.0.1:{ports[-1]}" in message
        assert "<redis" not in message and len(message) < 260, message


def test_sentinel_db_and_passwords() -> None:
    client = connect(
        "redis+sentinel://h:26379/my%20master/3/?password=m&username=app&sentinel_password=s&socket_timeout=4"
    )
    assert isinstance(client, redis.Redis)
    assert client.connection_pool.service_name == "my master"  # type: ignore[attr-defined]
    kwargs = kwargs_of(client)
    assert (kwargs["db"], kwargs["username"], kwargs["password"], kwargs["socket_timeout"]) == (3, "app", "m", 4.0)
    (sentinel,) = client.connection_pool.sentinel_manager.sentinels  # type: ignore[attr-defined]
    each = kwargs_of(sentinel)
    assert (each["password"], each.get("username"), each["socket_timeout"]) == ("s", None, 4.0)
    client.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "unknown scheme (none)"),
        ("localhost:6379", "unknown scheme (none)"),
        ("http://h:1", "unknown scheme http://"),
        ("unix:///tmp/redis.sock", "unknown scheme unix://"),
        ("redis+clusters://h:1", "unknown scheme redis+clusters://"),
        ("redis://h:port", "bad port"),
        ("redis://h:99999", "bad port"),
        ("redis+cluster://", "missing host:port"),
        ("redis+cluster://h:1,", "missing host:port"),
        ("redis+cluster://h", "missing port in 'h'"),
        ("redis+cluster://:7000", "missing host in ':7000'"),
        ("redis+cluster://h:7000,h:x", "bad port 'x' in 'h:x'"),
        ("redis+cluster://h:0", "bad port '0'"),
        ("redis+cluster://h:70000", "bad port '70000'"),
        ("redis+cluster://::1:7000", "IPv6 address '::1:7000' must be in brackets"),
        ("redis+cluster://[::1]", "missing port in '[::1]'"),
        ("redis+cluster://[::1:7000", "Invalid IPv6 URL"),
        ("redis+cluster://h:1/2", "a Redis Cluster has only database 0"),
        ("redis+cluster://h:1?db=0", "unknown option 'db'"),
        ("redis+cluster://h:1?sentinel_username=x", "unknown option 'sentinel_username'"),
        ("redis+cluster://h:1?ssl=maybe", "bad ssl='maybe'"),
        ("redis+cluster://h:1?ssl_ca_certs=/ca.pem", "ssl_ca_certs and ssl_cert_reqs need ssl=true"),
        ("redis+cluster://h:1?socket_timeout=soon", "bad socket_timeout='soon'"),
        ("redis+cluster://h:1?socket_timeout=0", "bad socket_timeout='0'"),
        ("redis+cluster://h:1?socket_connect_timeout=inf", "bad socket_connect_timeout='inf'"),
        ("redis+cluster://h:1?ssl", "bad query string 'ssl'"),
        ("redis+sentinel://h:26379", "missing service name"),
        ("redis+sentinel://h:26379/", "missing service name"),
        ("redis+sentinel://h:26379/mymaster/first", "bad db 'first'"),
        ("redis+sentinel://h:26379/mymaster/-1", "bad db '-1'"),
        ("redis+sentinel://h/mymaster", "missing port in 'h'"),
        ("redis+sentinel://h:1/mymaster?sentinel=x", "unknown option 'sentinel'"),
    ],
)
def test_malformed(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        connect(url)
    assert str(raised.value).startswith(f"invalid Redis URL {url!r}: ")
    assert message in str(raised.value)


def test_errors_do_not_show_passwords() -> None:
    with pytest.raises(ConfigurationError) as raised:
        connect("redis+sentinel://u:hunter2@h:26379/?password=hunter3&sentinel_password=hunter4")
    message = str(raised.value)
    assert "missing service name" in message
    assert "u:***@h:26379" in message
    assert "hunter" not in message

"""The local Redis Cluster and Sentinel setups come up, ``connect`` works on them, and nothing outlives them."""

from __future__ import annotations

import os
import time
from pathlib import Path

import redis
import redis.cluster

from yotaq.broker.urls import connect

from .clusters import LocalCluster, LocalSentinel


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_cluster(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path)
    with cluster:
        client = connect(cluster.url)
        assert isinstance(client, redis.cluster.RedisCluster)
        try:
            by_node: dict[int, str] = {}
            for n in range(100):
                by_node.setdefault(client.get_node_from_key(f"key-{n}").port, f"key-{n}")  # type: ignore[no-untyped-call]
            assert sorted(by_node) == sorted(cluster.ports)  # keys on every node
            for port, key in by_node.items():
                assert client.set(key, f"on {port}")
                assert client.get(key) == f"on {port}".encode()
                with redis.Redis("127.0.0.1", port) as node:  # the key is where the cluster says it is
                    assert node.execute_command("GET", key) == f"on {port}".encode()
        finally:
            client.close()
        pids = cluster.pids
        assert len(pids) == 3 and all(alive(pid) for pid in pids)
    assert not any(alive(pid) for pid in pids)


def test_sentinel_failover(tmp_path: Path) -> None:
    sentinel = LocalSentinel(tmp_path)
    with sentinel:
        client = connect(sentinel.url)
        assert isinstance(client, redis.Redis)
        try:
            assert client.set("before", "1")
            assert client.wait(1, 2000) == 1  # on the replica too, so it survives the failover
            old = sentinel.kill_master()
            host, new = sentinel.wait_for_failover()
            assert new == sentinel.replica_port != old
            deadline = time.monotonic() + 10
            while True:  # the same client, without help, until the new master takes the write
                try:
                    assert client.set("after", "2")
                    break
                except (redis.ConnectionError, redis.TimeoutError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            assert client.mget("before", "after") == [b"1", b"2"]
            assert client.connection_pool.get_master_address() == (host, new)  # type: ignore[attr-defined]
        finally:
            client.close()
        pids = sentinel.pids
        assert len(pids) == 5
    assert not any(alive(pid) for pid in pids)

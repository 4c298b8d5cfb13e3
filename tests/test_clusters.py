"""The local Redis Cluster and Sentinel setups come up, ``connect`` works on them, and nothing outlives them;
a worker serving a sharded queue goes on with the shards whose master lives when one dies."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
import redis.cluster

import yotaq
from yotaq.broker.keys import QueueKeys, shard_of
from yotaq.broker.urls import connect
from yotaq.worker.loop import LIVENESS_TIMEOUT_S

from .clusters import LocalCluster, LocalSentinel, ask
from .helpers import Process, wait_for

HEALTHY_SHARD_BOUND_S = 2.0  # the longest a task on a shard whose master lives may wait, whatever the others do


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


def on_shard(shard: int, tag: str) -> str:
    """A job id of ``tag`` that lands on ``shard`` of a 3-shard queue."""
    n = 0
    while shard_of(f"{tag}-{n}", 3) != shard:
        n += 1
    return f"{tag}-{n}"


def on_three_masters(cluster: LocalCluster) -> str:
    """A queue name whose 3 shards are on 3 different masters (which depends on the name)."""
    while True:
        name = f"q-{uuid.uuid4().hex[:8]}"
        if len({cluster.master_of(keys.pending) for keys in QueueKeys.of(name, 3)}) == 3:
            return name


def test_when_one_master_of_a_sharded_queue_dies_the_other_shards_keep_being_served(
    tmp_path: Path, spawn: Callable[..., Process]
) -> None:
    # Given a cluster of its own (this test kills its nodes): 3 masters with a replica each, masters that
    # go on serving their slots while another's are not served; a 3-shard queue with a shard on each
    # master; and a worker serving the queue, which has run a task on every shard
    with LocalCluster(tmp_path / "cluster", replicas=1, node_timeout_ms=2000, full_coverage=False) as cluster:
        client = connect(cluster.url)
        name = on_three_masters(cluster)
        queue = yotaq.Queue(client, name, shards=3)
        worker = spawn("-m", "yotaq", "worker", "--queue", name, "--shards", "3", url=cluster.url)
        for shard in range(3):
            queue.options(job_id=on_shard(shard, "before")).enqueue(time.time).result(timeout=30)
        dead, healthy, rounds = 1, (0, 2), iter(range(10**6))
        waits: list[float] = []

        def run_on_healthy_shards() -> None:
            n = next(rounds)
            for shard in healthy:
                enqueued_at = time.time()
                ran_at = queue.options(job_id=on_shard(shard, f"r{n}")).enqueue(time.time).result(timeout=30)
                waits.append(ran_at - enqueued_at)
            time.sleep(0.05)  # a round every 50 ms or so, not as fast as can be

        # When shard 1's master is killed (kill -9), until its replica has taken over
        key = queue.shards[dead].pending
        killed = cluster.master_of(key)
        cluster.kill(killed)
        killed_at = first_killed_at = time.time()
        dead_shard_ran_at: list[float] = []

        def run_on_the_dead_shard() -> None:  # enqueued as soon as its new master takes it, then run
            for n in range(100):  # each try waits out the producer's outage retry (2 s)
                try:
                    job = queue.options(job_id=on_shard(dead, f"dead{n}")).enqueue(time.time)
                except yotaq.RedisUnavailable:
                    continue
                dead_shard_ran_at.append(job.result(timeout=30))
                return

        waiting = threading.Thread(target=run_on_the_dead_shard)
        waiting.start()
        while waiting.is_alive():
            run_on_healthy_shards()
        waiting.join()
        failover_waits, waits = waits, []
        # Then the tasks on the two other shards ran all along, each within the bound; the dead shard's
        # ran once a replica had taken over
        assert dead_shard_ran_at, "the dead shard's task never ran"
        assert max(failover_waits) <= HEALTHY_SHARD_BOUND_S, failover_waits
        promoted = cluster.wait_for_failover(key, killed)
        print(
            f"failover: the dead shard ran a task {dead_shard_ran_at[0] - killed_at:.2f} s after its master died; "
            f"{len(failover_waits)} tasks on the other shards meanwhile, the longest wait {max(failover_waits):.3f} s"
        )

        # When the new master of shard 1 dies too, with no replica left to take over
        cluster.kill(promoted)
        killed_at = time.time()
        while not cluster.flagged_failed(promoted) or time.time() - first_killed_at < LIVENESS_TIMEOUT_S + 1:
            run_on_healthy_shards()
        run_on_healthy_shards()
        # ... and the live masters forget their Lua scripts (as a replica that takes over knows none)
        for port, process in cluster.processes.items():
            if process.poll() is None:
                ask(port, "SCRIPT", "FLUSH")
        run_on_healthy_shards()
        # Then the other shards are still served, also once the cluster has flagged the master as failed;
        # the worker is still running, and its heartbeats there kept up all along
        assert max(waits) <= HEALTHY_SHARD_BOUND_S, waits
        assert [queue.broker.lapsed_workers(queue.shards[shard]) for shard in healthy] == [[], []]
        print(
            f"no failover: {len(waits)} tasks on the other shards in the {time.time() - killed_at:.1f} s until "
            f"flagged failed and after, the longest wait {max(waits):.3f} s"
        )
        assert worker.popen.poll() is None, worker.output()

        assert worker.stop() == 0, worker.output()
        client.close()


def test_a_cluster_that_refuses_commands_while_a_master_is_down_is_an_outage_the_worker_waits_out(
    tmp_path: Path, spawn: Callable[..., Process]
) -> None:
    # Given a cluster of its own with Redis's default: every master refuses commands (CLUSTERDOWN) while
    # a slot is not served; and a worker serving a queue on one master
    with LocalCluster(tmp_path / "cluster", node_timeout_ms=1000) as cluster:
        client = connect(cluster.url)
        queue = yotaq.Queue(client, f"q-{uuid.uuid4().hex[:8]}")
        worker = spawn("-m", "yotaq", "worker", "--queue", queue.name, url=cluster.url)
        assert queue.enqueue(divmod, 7, 2).result(timeout=30) == (3, 1)
        # When another master dies (no replica takes over) and the cluster flags it as failed
        other = next(port for port in cluster.ports if port != cluster.master_of(queue.keys.pending))
        cluster.kill(other)
        wait_for(lambda: cluster.flagged_failed(other), what=f"node {other} flagged as failed")
        # Then the producer hears of an outage (yotaq.RedisUnavailable), and the worker waits it out
        with pytest.raises(yotaq.RedisUnavailable, match="The cluster is down"):
            queue.enqueue(divmod, 9, 2)
        wait_for(
            lambda: "The cluster is down); retrying until it is back" in worker.output(),
            what="the worker to wait out CLUSTERDOWN",
        )
        assert worker.popen.poll() is None, worker.output()
        assert worker.stop() == 0, worker.output()
        client.close()


def test_a_chord_and_a_chain_on_a_sharded_queue_of_a_cluster_run_each_step_once_in_one_slot(
    tmp_path: Path, spawn: Callable[..., Process]
) -> None:
    # Given a cluster of its own, a 3-shard queue with a shard on each master, and a worker serving it
    with LocalCluster(tmp_path / "cluster") as cluster:
        client = connect(cluster.url)
        name = on_three_masters(cluster)
        queue = yotaq.Queue(client, name, shards=3)
        spawn("-m", "yotaq", "worker", "--queue", name, "--shards", "3", url=cluster.url)
        # When a chord of 30 members and a chain of three steps are enqueued on it
        chord = queue.chord([queue.call(abs, -n) for n in range(30)], queue.call(sum))
        chain = queue.chain(queue.call(abs, -7), queue.call(divmod, 2), queue.call(list))
        # Then the callback gets every member's result, in member order, and the chain's steps each the last's
        assert chord.result(timeout=60) == sum(range(30))
        assert chain.result(timeout=60) == [3, 1]
        # each workflow's jobs in one shard (one slot: each step that tells a dependent is one script there)
        members = queue.group([queue.call(abs, -n) for n in range(10)])
        assert len({queue._shard(job.id).shard for job in members.jobs}) == 1
        assert members.results(timeout=60) == list(range(10))
        # and a workflow that would span queues (two slots) is refused, nothing enqueued
        other = yotaq.Queue(client, f"{name}-other")
        with pytest.raises(yotaq.ConfigurationError):
            queue.chain(queue.call(abs, -1), other.call(abs))
        assert other.info().pending == 0
        client.close()

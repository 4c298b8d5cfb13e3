"""Past one Redis: the walkthrough, sharded queues and a failover, on a real local Redis Cluster (3 masters)
and a real Sentinel-managed master with replicas, all on 127.0.0.1."""

from __future__ import annotations

import collections
import re
import signal
import time
import uuid

import pytest

import yotaq
from yotaq import Status
from yotaq.broker.keys import QueueKeys

from . import tasks
from .clusters import LocalSentinel
from .helpers import wait_for

DONE_BY_WORKER = re.compile(r"stopped: \{'done': (\d+)")


def note_value(path, value):
    tasks.note(path, "ran", value)


def name() -> str:
    return f"dist-{uuid.uuid4().hex[:8]}"


# -- the walkthrough on each ------------------------------------------------------------------


@pytest.mark.parametrize("where", ["cluster", "sentinel"])
def test_the_walkthrough_runs_on_a_cluster_and_on_sentinel(where, request, spawn):
    url = request.getfixturevalue(where).url
    queue = yotaq.Queue(yotaq.connect(url), "tasks")
    queue.purge("failed")
    workers = [spawn("worker.py", url=url) for _ in range(3)]
    wait_for(lambda: len(queue.info().workers) == 3, what="3 workers to register")
    done_before = queue.info().done
    client = spawn("client.py", url=url, YOTAQ_DEMO_MAX_SLEEP="0.02")
    assert client.wait(60) == 0, client.output()
    wait_for(lambda: queue.info().done == done_before + 100, timeout=60, what="100 tasks done")
    assert [worker.stop() for worker in workers] == [0, 0, 0]
    assert sum(int(DONE_BY_WORKER.search(worker.output())[1]) for worker in workers) == 100
    info = queue.info()
    assert (info.pending, info.active, info.failed, info.dead, info.workers) == (0, 0, 0, 0, [])


# -- sharded queues ---------------------------------------------------------------------------


def _node_of(cluster, key: str) -> int:
    """The port of the master that holds ``key``."""
    return int(yotaq.connect(cluster.url).get_node_from_key(key).port)


def test_a_queue_of_3_shards_runs_3000_tasks_once_spread_over_several_nodes(cluster, spawn, tmp_path):
    # Given a queue sharded 3 ways over a 3-master cluster
    queue_name, journal = name(), tmp_path / "journal"
    queue = yotaq.Queue(yotaq.connect(cluster.url), queue_name, shards=3)
    assert len({_node_of(cluster, keys.pending) for keys in queue.shards}) > 1
    # When 3000 tasks are enqueued (spread over the shards by job id) and 3 workers run them
    queue.enqueue_many(note_value, [(str(journal), n) for n in range(3000)])
    sizes = [queue.broker.client.llen(keys.pending) for keys in queue.shards]
    assert sum(sizes) == 3000 and min(sizes) > 800, sizes
    command = ("-m", "yotaq", "worker", "--queue", queue_name, "--shards", "3")
    workers = [spawn(*command, url=cluster.url) for _ in range(3)]
    wait_for(lambda: queue.info().done == 3000, timeout=90, what="3000 tasks done")
    # Then each ran exactly once, and every worker took from the shards
    ran = collections.Counter(value for value, _ in tasks.events(journal, "ran"))
    assert len(ran) == 3000 and set(ran.values()) == {1}
    assert [worker.stop() for worker in workers] == [0, 0, 0]
    assert queue.info().workers == []


def test_producers_and_workers_that_count_shards_differently_are_refused(cluster):
    client = yotaq.connect(cluster.url)
    queue_name = name()
    yotaq.Queue(client, queue_name, shards=3).enqueue(print)
    with pytest.raises(yotaq.ConfigurationError, match="has 3 shard"):
        yotaq.Queue(client, queue_name, shards=2).enqueue(print)
    with pytest.raises(yotaq.ConfigurationError, match="has 3 shard"):
        yotaq.Worker(client, [queue_name], burst=True).run()


def flaky_once(path):
    tasks.note(path, "try", "x")
    if len(tasks.events(__import__("pathlib").Path(path), "try")) == 1:
        raise RuntimeError("first try fails")
    return "second try"


def test_unique_ids_delays_and_retries_hold_per_task_on_a_sharded_queue(cluster, tmp_path):
    client = yotaq.connect(cluster.url)
    queue = yotaq.Queue(client, name(), shards=3)
    first = queue.options(job_id="report").enqueue(divmod, 7, 2)
    again = queue.options(job_id="report").enqueue(divmod, 1, 1)
    later = queue.options(delay=0.3).enqueue(time.time)
    enqueued_at = time.time()
    retried = queue.options(retries=1, retry_delay=0.05).enqueue(flaky_once, str(tmp_path / "journal"))
    assert first == again and queue.info().pending == 2 and queue.info().scheduled == 1
    yotaq.Worker(client, [queue.name], shards=3, burst=True).run()
    assert first.result(timeout=5) == (3, 1)
    assert later.result(timeout=5) >= enqueued_at + 0.3
    assert retried.result(timeout=5) == "second try" and queue.info().retried == 1
    assert queue.job(first.id).status is Status.DONE  # found from its id alone


def test_a_worker_gives_back_its_unstarted_tasks_on_every_shard_when_stopped(cluster, spawn, tmp_path):
    queue = yotaq.Queue(yotaq.connect(cluster.url), name(), shards=3)
    queue.enqueue_many(tasks.slow, [(str(tmp_path / "journal"), n, 30) for n in range(6)])
    worker = spawn("-m", "yotaq", "worker", "--queue", queue.name, "--shards", "3", url=cluster.url)
    wait_for(lambda: tasks.events(tmp_path / "journal", "start"), what="a task to start")
    worker.signal(signal.SIGTERM)
    worker.signal(signal.SIGINT)  # a second signal: the running task goes back too
    assert worker.wait(20) == 0
    info = queue.info()
    assert (info.pending, info.active, info.workers) == (6, 0, [])


def test_a_worker_serves_queues_that_live_on_different_nodes(cluster):
    client = yotaq.connect(cluster.url)
    names: dict[int, str] = {}
    while len(names) < 2:
        candidate = name()
        names.setdefault(_node_of(cluster, QueueKeys(candidate).pending), candidate)
    queues = [yotaq.Queue(client, queue_name) for queue_name in names.values()]
    jobs = [queue.enqueue(divmod, 9, n + 2) for n, queue in enumerate(queues)]
    yotaq.Worker(client, [queue.name for queue in queues], burst=True).run()
    assert [job.result(timeout=5) for job in jobs] == [(4, 1), (3, 0)]


def test_the_cli_and_the_supervisor_work_on_a_cluster(cluster, spawn):
    client = yotaq.connect(cluster.url)
    queue = yotaq.Queue(client, name(), shards=2)
    jobs = queue.enqueue_many(divmod, [(n, 3) for n in range(20)])
    command = ("-m", "yotaq", "worker", "--queue", queue.name, "--shards", "2", "--processes", "2")
    supervisor = spawn(*command, url=cluster.url)
    wait_for(lambda: queue.info().done == 20, timeout=60, what="20 tasks done")
    assert supervisor.stop() == 0
    info = spawn("-m", "yotaq", "info", "--queue", queue.name, url=cluster.url)
    assert info.wait(30) == 0
    assert f"queue {queue.name}: 0 pending, 0 scheduled, 0 active, 0 failed, 0 dead (20 done" in info.output()
    job = spawn("-m", "yotaq", "job", jobs[4].id, "--queue", queue.name, url=cluster.url)
    assert job.wait(30) == 0 and "result: (1, 1)" in job.output()
    client.close()


def test_the_cli_refuses_a_queue_no_node_of_the_cluster_holds_anything_of(cluster, spawn):
    unknown = spawn("-m", "yotaq", "info", "--queue", "never-used-xyz", url=cluster.url)
    assert unknown.wait(30) == 2
    assert (
        unknown.output()
        == "yotaq: error: no queue named 'never-used-xyz' in Redis: nothing was enqueued, scheduled or run there\n"
    )


# -- Sentinel failover ------------------------------------------------------------------------


def test_a_failover_mid_run_loses_nothing_with_replicas_1_and_no_worker_restarts(tmp_path, spawn):
    # Given a master with two replicas, and 3000 tasks enqueued, each confirmed by a replica
    with LocalSentinel(tmp_path / "sentinel", replicas=2) as sentinel:
        journal = tmp_path / "journal"
        queue = yotaq.Queue(yotaq.connect(sentinel.url), name(), replicas=1)
        for start in range(0, 3000, 500):
            queue.enqueue_many(note_value, [(str(journal), n) for n in range(start, start + 500)])
        workers = [
            spawn("-m", "yotaq", "worker", "--queue", queue.name, "--replicas", "1", url=sentinel.url) for _ in range(2)
        ]
        wait_for(lambda: len(tasks.events(journal, "ran")) >= 500, timeout=60, what="500 tasks run")
        # When the master is killed mid-run
        sentinel.kill_master()
        killed_at = time.monotonic()
        sentinel.wait_for_failover()
        # Then the run completes, every task ran, and no worker was restarted
        wait_for(lambda: queue.info().done >= 3000, timeout=120, what="the run to complete after the failover")
        ran = collections.Counter(value for value, _ in tasks.events(journal, "ran"))
        lost = 3000 - len(ran)
        duplicated = sum(count - 1 for count in ran.values())
        print(f"failover: lost {lost}, ran twice {duplicated}, resumed within {time.monotonic() - killed_at:.1f} s")
        assert lost == 0
        assert all(worker.popen.poll() is None for worker in workers)
        assert [worker.stop() for worker in workers] == [0, 0]

"""Tasks that do what a worker must survive: fork, return what Redis refuses; with real worker processes."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

import yotaq

from . import tasks
from .helpers import wait_for


def _stray(pid: int) -> None:
    """Kill a forked child that went on as a worker (the code these tests guard against)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(("fn", "concurrency"), [(tasks.forks, 1), (tasks.forks_async, 1), (tasks.forks_async, 2)])
def test_a_task_that_forks_leaves_one_worker_and_one_outcome(queue, spawn, queue_name, fn, concurrency):
    # Given a worker, and a task that forks a child that returns from the task at once
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", str(concurrency))
    job = queue.enqueue(fn)
    kind, child, exited = job.result(timeout=20)
    try:
        # Then the child exited as it left the task (its parent reaped it), and the outcome is the parent's;
        # a child of the event loop may leave it by an error (asyncio does not carry on in a child)
        assert kind == "parent"
        assert exited == 0 if fn is tasks.forks else exited in (0, 1)
        # and the next task runs in the worker itself, the one worker registered
        assert queue.enqueue(tasks.pid).result(timeout=10) == worker.pid
        assert [w.id.split(".")[1] for w in queue.info().workers] == [str(worker.pid)]
        assert worker.stop() == 0
        assert "stopped: {'done': 2}" in worker.output()
    finally:
        _stray(child)


def test_a_forked_child_still_in_its_task_answers_signals_as_a_plain_process(queue, spawn, queue_name, tmp_path):
    # Given a task whose forked child goes on in the task's code
    journal = tmp_path / "journal.txt"
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name)
    job = queue.enqueue(tasks.forks_a_waiting_child, str(journal))
    [(child, _)] = wait_for(lambda: tasks.events(journal, "child"), what="the child to start")
    try:
        # When the child gets SIGTERM, it ends at once (not the worker's handler: finish the task, then stop)
        os.kill(int(child), signal.SIGTERM)
        assert job.result(timeout=20) == -signal.SIGTERM
        assert job.status is yotaq.Status.DONE and worker.popen.poll() is None
    finally:
        _stray(int(child))


def _small_big_small(queue: yotaq.Queue) -> list[yotaq.Job]:
    """A small job, one whose result is 2 MiB, another small one: leased and acknowledged together."""
    return [queue.enqueue(len, "small"), queue.enqueue(bytes, 2 * 2**20), queue.enqueue(len, "after")]


@pytest.fixture
def admin(own_redis):
    """A client of the test's own Redis, closed after."""
    client = yotaq.connect(own_redis.url)
    yield client
    client.close()


def test_a_result_over_the_server_s_limit_fails_with_the_reason_and_the_worker_goes_on(own_redis, admin, spawn):
    # Given a Redis that takes no argument over 1 MiB
    admin.config_set("proto-max-bulk-len", "1mb")
    queue = yotaq.Queue(admin, "oversize")
    small, big, after = _small_big_small(queue)
    long_failure = queue.enqueue(tasks.raises_long, 2 * 2**20)
    # When a worker runs them
    worker = spawn("-m", "yotaq", "worker", "--queue", "oversize", "--burst", url=own_redis.url)
    assert worker.wait(30) == 0
    # Then the large result fails with the reason, and the jobs around it are done
    with pytest.raises(
        yotaq.JobFailed, match=r"result of 2\.0 MB exceeds the server's limit \(proto-max-bulk-len 1\.0 MB\)"
    ):
        big.result(timeout=5)
    assert (small.result(timeout=5), after.result(timeout=5)) == (5, 5)
    # and a failure too large to store keeps its type, its message cut short
    with pytest.raises(yotaq.JobFailed, match="more characters cut") as failed:
        long_failure.result(timeout=5)
    assert failed.value.type == "RuntimeError"
    info = queue.info()
    assert (info.done, info.failed, info.active, info.pending) == (2, 2, 0, 0)


def test_a_result_refused_under_a_limit_the_worker_cannot_read_fails_alone(own_redis, admin, spawn):
    # Given a Redis that takes no argument over 1 MiB, and a worker not allowed to read its settings
    admin.config_set("proto-max-bulk-len", "1mb")
    admin.acl_setuser(
        "worker", enabled=True, passwords=["+secret"], keys=["*"], channels=["*"], commands=["+@all", "-config"]
    )
    queue = yotaq.Queue(admin, "oversize")
    small, big, after = _small_big_small(queue)
    # When it runs them
    url = own_redis.url.replace("redis://", "redis://worker:secret@")
    worker = spawn("-m", "yotaq", "worker", "--queue", "oversize", "--burst", url=url)
    assert worker.wait(30) == 0
    # Then Redis refusing the large result fails that job only
    with pytest.raises(yotaq.JobFailed, match=r"result of 2\.0 MB refused by the server"):
        big.result(timeout=5)
    assert (small.result(timeout=5), after.result(timeout=5)) == (5, 5)
    info = queue.info()
    assert (info.done, info.failed, info.active, info.pending) == (2, 1, 0, 0)

"""``yotaq.Executor``: a ``concurrent.futures.Executor`` on real workers, its futures, and what waiting
for many of them costs Redis."""

from __future__ import annotations

import concurrent.futures
import traceback
import uuid

import pytest
import redis

import yotaq
from yotaq import Status

from . import executor_tasks as work
from .helpers import FAST, wait_for


@pytest.fixture
def worker(spawn, queue_name):
    return spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST)


def test_submit_returns_a_future_of_the_tasks_result(queue, worker):
    with yotaq.Executor(queue) as executor:
        future = executor.submit(divmod, 7, 2)
        assert isinstance(future, concurrent.futures.Future)
        assert future.result(timeout=30) == (3, 1)
        assert executor.submit(work.square, x=12).result(timeout=30) == 144


def test_map_returns_the_results_in_order_whatever_the_chunksize(queue, worker):
    with yotaq.Executor(queue) as executor:
        assert list(executor.map(work.square, range(20), timeout=30)) == [x * x for x in range(20)]
        assert list(executor.map(pow, range(10), [3] * 10, chunksize=4)) == [x**3 for x in range(10)]
        with pytest.raises(ValueError, match="chunksize"):
            executor.map(work.square, range(3), chunksize=0)


def test_map_past_its_timeout_raises_timeout_error_and_cancels_the_jobs_left(queue):
    # Given no worker: nothing will finish
    executor = yotaq.Executor(queue)
    results = executor.map(work.square, range(3), timeout=0.2)
    # When the results are asked for past the timeout, then TimeoutError, and every job is cancelled
    with pytest.raises(TimeoutError):
        next(results)
    ids = [job_id.decode() for job_id in queue.redis.hkeys(queue.keys.state)]
    assert len(ids) == 3 and all(queue.job(job_id).status is Status.CANCELLED for job_id in ids)
    executor.shutdown()


def test_as_completed_and_wait_see_every_future_finish(queue, worker):
    with yotaq.Executor(queue) as executor:
        futures = [executor.submit(work.square, x) for x in range(8)]
        assert sorted(f.result() for f in concurrent.futures.as_completed(futures, timeout=30)) == [
            x * x for x in range(8)
        ]
        more = [executor.submit(work.naps, 0.01) for _ in range(4)]
        done, not_done = concurrent.futures.wait(more, timeout=30)
        assert done == set(more) and not not_done
        first = concurrent.futures.wait([executor.submit(work.square, 3)], return_when="FIRST_COMPLETED")
        assert [f.result() for f in first.done] == [9]


def test_a_task_raising_value_error_raises_value_error_with_its_remote_traceback(queue, worker):
    with yotaq.Executor(queue) as executor:
        future = executor.submit(work.fails, "not a page")
        with pytest.raises(ValueError) as raised:
            future.result(timeout=30)
    assert raised.value.args == ("not a page",)
    # The remote traceback is attached, as the cause (yotaq.JobFailed) and as a note
    cause = raised.value.__cause__
    assert isinstance(cause, yotaq.JobFailed) and cause.job_id == future.job.id
    assert "raise ValueError(message)" in cause.traceback and "in fails" in cause.traceback
    printed = "".join(traceback.format_exception(raised.value))
    assert "remote traceback of job" in printed and "raise ValueError(message)" in printed


def test_a_task_raising_an_exception_of_its_own_class_raises_that_class(queue, worker):
    with yotaq.Executor(queue) as executor, pytest.raises(work.NotAPage, match="page 3"):
        executor.submit(work.fails_with_own_error, "page 3").result(timeout=30)


def test_a_time_limit_raises_the_builtin_timeout_error(queue, worker):
    with yotaq.Executor(queue.options(timeout=0.3)) as executor:
        future = executor.submit(work.naps, 30)
        with pytest.raises(TimeoutError, match="time limit") as raised:
            future.result(timeout=30)
    assert type(raised.value) is TimeoutError  # not yotaq's ResultTimeout: the task's own outcome


def test_future_cancel_cancels_the_job_so_a_pending_job_never_runs(queue, spawn, queue_name, tmp_path):
    # Given a future of a job still pending (no worker yet)
    journal = tmp_path / "journal.txt"
    executor = yotaq.Executor(queue)
    future = executor.submit(work.noted, str(journal), "cancelled")
    # When the future is cancelled, then so is its job
    assert future.cancel() and future.cancelled() and future.done()
    assert future.job.status is Status.CANCELLED
    assert concurrent.futures.wait([future], timeout=5).done == {future}
    # And once a worker runs, the job behind it never runs, while the next does
    spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST)
    after = executor.submit(work.noted, str(journal), "after")
    assert after.result(timeout=30) == "after"
    assert journal.read_text().split()[:2] == ["ran", "after"] and "cancelled" not in journal.read_text()
    assert not after.cancel()  # done: nothing to cancel
    executor.shutdown()


def test_a_job_cancelled_anywhere_makes_its_future_cancelled(queue, worker):
    with yotaq.Executor(queue) as executor:
        future = executor.submit(work.naps, 30)
        wait_for(lambda: future.job.status is Status.ACTIVE, what="the task to start")
        assert queue.job(future.job.id).cancel()  # as another process would
        assert next(concurrent.futures.as_completed([future], timeout=30)) is future
        assert future.cancelled()
        with pytest.raises(concurrent.futures.CancelledError):
            future.result()


def test_shutdown_waits_for_every_future_and_refuses_new_ones(queue, worker):
    executor = yotaq.Executor(queue)
    futures = [executor.submit(work.naps, 0.2) for _ in range(3)]
    executor.shutdown(wait=True)
    assert all(f.done() for f in futures) and [f.result() for f in futures] == [0.2] * 3
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(work.square, 2)


def test_shutdown_with_cancel_futures_cancels_the_jobs_not_started(queue):
    executor = yotaq.Executor(queue)
    futures = [executor.submit(work.square, x) for x in range(3)]
    executor.shutdown(wait=True, cancel_futures=True)
    assert all(f.cancelled() for f in futures)
    assert all(f.job.status is Status.CANCELLED for f in futures)


def test_an_eager_queue_runs_each_future_at_submit(r, queue_name):
    with yotaq.Executor(yotaq.Queue(r, queue_name, eager=True)) as executor:
        assert executor.submit(work.square, 5).done()
        assert list(executor.map(work.square, [1, 2])) == [1, 4]
        with pytest.raises(ValueError, match="eagerly"):
            executor.submit(work.fails, "eagerly").result()


def _commands(client: redis.Redis) -> int:
    """Commands Redis has run since it started, INFO (what this counts with) left out."""
    stats = client.info("commandstats")
    return sum(entry["calls"] for name, entry in stats.items() if name != "cmdstat_info")


def test_futures_waiting_cost_redis_a_bounded_number_of_commands(redis_url, r, spawn, queue_name):
    # Given 100 futures of jobs that no worker runs yet, on a client whose socket timeout of 1 s makes
    # any wait in Redis (Job.result's) last half a second at most
    client = redis.Redis.from_url(redis_url, socket_timeout=1)
    queue = yotaq.Queue(client, queue_name)
    assert queue.broker.max_block_s <= 0.5
    executor = yotaq.Executor(queue)
    before_submit = _commands(r)
    futures = [executor.submit(work.square, x) for x in range(100)]
    submitted = _commands(r)
    # When they wait a second, then Redis runs next to no command: not one per future per poll
    waited = concurrent.futures.wait(futures, timeout=1.0)
    assert not waited.done
    while_waiting = _commands(r) - submitted
    assert while_waiting <= 5, f"{while_waiting} commands while 100 futures waited a second"
    print(f"{while_waiting} commands in the second 100 futures waited")
    # (each submit is an enqueue, a MULTI of 4, and one read to watch its result; then a few once)
    assert submitted - before_submit <= 100 * 5 + 30
    # And once a worker runs them, every future gets its result
    spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST)
    assert [f.result(timeout=30) for f in futures] == [x * x for x in range(100)]
    executor.shutdown()
    client.close()


def test_a_watch_whose_connection_dropped_finds_the_results_stored_meanwhile(queue, r, burst_worker):
    # Given a future waiting, and its watch's connections killed (as a Redis restart would)
    executor = yotaq.Executor(queue)
    future = executor.submit(work.square, 9)
    wait_for(lambda: _tracking_clients(r), what="the watch to track its reads")
    for client in _tracking_clients(r) + _invalidation_listeners(r):
        r.client_kill_filter(_id=client["id"])
    # When the job runs meanwhile, then the watch, connected again, finds its result
    burst_worker()
    assert future.result(timeout=30) == 81
    executor.shutdown()


def _tracking_clients(r: redis.Redis) -> list[dict]:
    return [client for client in r.client_list() if "t" in client["flags"]]


def _invalidation_listeners(r: redis.Redis) -> list[dict]:
    return [client for client in r.client_list() if client["sub"] == "2"]


def test_the_executor_works_on_a_redis_cluster_with_a_sharded_queue(cluster, spawn):
    client = yotaq.connect(cluster.url)
    name = f"test-{uuid.uuid4().hex[:12]}"
    queue = yotaq.Queue(client, name, shards=3)  # three slots, on three nodes
    try:
        spawn("-m", "yotaq", "worker", "--queue", name, "--shards", "3", *FAST, url=cluster.url)
        with yotaq.Executor(queue) as executor:
            assert list(executor.map(work.square, range(30), timeout=60)) == [x * x for x in range(30)]
            with pytest.raises(ValueError, match="on a cluster"):
                executor.submit(work.fails, "on a cluster").result(timeout=30)
    finally:
        client.close()


def test_a_signed_queue_s_futures_get_their_results_checked(r, queue_name, spawn):
    secret = "executor-secret"
    spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST, YOTAQ_SECRET=secret)
    with yotaq.Executor(yotaq.Queue(r, queue_name, secret=secret)) as executor:
        assert executor.submit(work.square, 7).result(timeout=30) == 49

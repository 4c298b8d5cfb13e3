"""Cancel at the edges: an id cancelled and enqueued again, a cancel racing a limit's wake-up, a cancel of a
job whose worker died, how long a cancellation is kept, and a cancel in eager mode."""

from __future__ import annotations

import signal
import socket
import threading

import pytest
import redis

import yotaq
from yotaq import Status, outcomes
from yotaq.broker import Ack
from yotaq.serializer import Task
from yotaq.worker.flight import IDLE_WAIT_S
from yotaq.worker.timelimit import TaskCancelled, TaskRunner

from . import tasks
from .helpers import FAST, wait_for


def test_a_cancelled_unique_job_id_enqueued_again_raises_job_id_in_use(queue, burst_worker):
    # Given a job under a chosen id, cancelled while pending: its message is still on the queue
    chosen = queue.options(job_id="report-2026-12")
    job = chosen.enqueue(divmod, 7, 2)
    assert job.cancel()
    # When the id is enqueued again before a worker dropped it, then it is refused, not silently dropped
    with pytest.raises(yotaq.JobIdInUse, match="report-2026-12"):
        chosen.enqueue(divmod, 9, 2)
    # And once a worker has dropped the cancelled message, the id runs anew
    burst_worker()
    assert chosen.enqueue(divmod, 9, 2).status is Status.PENDING
    burst_worker()
    assert job.result(timeout=5) == (4, 1)


@pytest.mark.parametrize("options", [{}, {"threads": 2}, {"concurrency": 2}], ids=["one", "threads", "coroutines"])
def test_a_burst_worker_whose_pending_jobs_were_all_cancelled_stops_without_an_idle_wait(r, queue, queue_name, options):
    # Given a queue whose only pending message is that of a cancelled job: a lease drops it, leasing nothing
    assert queue.enqueue(divmod, 7, 2).cancel()
    worker = yotaq.Worker(r, [queue_name], burst=True, **options)
    run = threading.Thread(target=worker.run, daemon=True)
    run.start()
    try:
        # Then the burst run ends, nothing being left, rather than waiting the idle wait out for more work
        wait_for(lambda: not run.is_alive(), timeout=IDLE_WAIT_S / 3, what="the burst run to end")
    finally:
        worker.stop()
        run.join()
    assert r.llen(queue.keys.pending) == 0


def test_cancelling_a_task_its_rate_deferred_just_as_it_was_woken_wakes_the_next_waiter(queue, r, queue_name):
    # Given three tasks under one key with a concurrency of 1 and a rate of one start a second: the first
    # runs (on a worker of our own, driven step by step); the other two wait for its slot
    limited = queue.options(limit_key="k", concurrency=1, rate_limit="1/s")
    first, woken, behind = (limited.enqueue(divmod, n, 1) for n in (1, 2, 3))
    rate_only = queue.options(limit_key="k", rate_limit="1/s").enqueue(divmod, 4, 1)
    keys, broker, worker = queue.keys, queue.broker, "w1"
    assert len(broker.ack_and_lease(keys, worker, [], 1).messages) == 1  # the first: it takes the slot
    wait_for(lambda: _server_ms(r) >= _next_start(r, keys.rates, "k"), what="the rate to allow another start")
    for _ in range(2):
        assert broker.ack_and_lease(keys, worker, [], 1).messages == []  # over the concurrency: it waits
    assert r.zcard(keys.waiting) == 2
    # A task under the same key with a rate only starts now, so the rate defers the next start by a second
    assert len(broker.ack_and_lease(keys, worker, [], 1).messages) == 1
    # When the first finishes, its slot wakes the second, which the rate then defers (scheduled) ...
    envelope = outcomes.encode_result(first.id, ("done", (1, 0)), None, queue_name, worker)[1]
    assert broker.ack_and_lease(keys, worker, [Ack(first.id, envelope, 60_000, 1)], 1).messages == []
    assert woken.status is Status.SCHEDULED and r.zcard(keys.waiting) == 1
    # ... and the second is cancelled just then
    assert woken.cancel()
    # Then the third is woken in its place, and runs: nothing waits for a slot that no one will free
    assert r.zcard(keys.waiting) == 0
    yotaq.Worker(r, [queue_name], burst=True).run()
    assert behind.result(timeout=5) == (3, 0)
    assert woken.status is Status.CANCELLED and rate_only.status is Status.ACTIVE


def _next_start(r: redis.Redis, rates: str, key: str) -> int:
    """The next start a limit key's rate allows (ms), as the rates hash keeps it."""
    return int(r.hget(rates, key).split()[0])


def _server_ms(r: redis.Redis) -> int:
    seconds, micros = r.time()
    return seconds * 1000 + micros // 1000


def test_a_job_whose_worker_was_killed_then_cancelled_leaves_no_deliveries_behind(
    spawn, queue, queue_name, tmp_path, r
):
    journal = tmp_path / "journal.txt"
    job = queue.enqueue(tasks.slow, str(journal), "t1", 30)
    doomed = spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST)
    wait_for(lambda: tasks.events(journal, "start"), what="the task to start")
    doomed.signal(signal.SIGKILL)
    doomed.wait()
    assert job.cancel()
    # Another worker reaps the dead one (a delivery counted), then drops the cancelled job when it leases it
    spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST)
    wait_for(lambda: not r.hexists(queue.keys.state, job.id), what="the cancelled job to be dropped")
    assert not r.hexists(queue.keys.deliveries, job.id)
    assert job.status is Status.CANCELLED and len(tasks.events(journal, "start")) == 1


def test_a_cancelled_job_is_kept_as_long_as_its_result_ttl(queue, r):
    scheduled = queue.options(result_ttl=5, delay=60).enqueue(divmod, 7, 2)
    pending = queue.options(result_ttl=7).enqueue(divmod, 7, 2)
    assert scheduled.cancel() and pending.cancel()
    assert 0 < r.pttl(queue.keys.result(scheduled.id)) <= 5_000
    assert 0 < r.pttl(queue.keys.result(pending.id)) <= 7_000
    # A job looked up by id is cancelled under its queue's default result_ttl
    short = yotaq.Queue(r, queue.name, result_ttl=3)
    looked_up = short.job(queue.options(delay=60).enqueue(divmod, 7, 2).id)
    assert looked_up.cancel()
    assert 0 < r.pttl(queue.keys.result(looked_up.id)) <= 3_000


def test_cancel_in_eager_mode_needs_no_redis(queue_name):
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    eager = yotaq.Queue(redis.Redis(host="127.0.0.1", port=port), queue_name, eager=True)
    job = eager.enqueue(divmod, 7, 2)
    assert job.cancel() is False  # it ran at enqueue: nothing left to cancel
    assert job.result() == (3, 1)


def test_a_job_cancelled_just_before_it_starts_on_its_worker_is_stopped_as_it_starts():
    # Given the cancel of a job its worker has leased and not started yet (it heard it on its control channel)
    ran = []
    runner = TaskRunner(None)
    runner.cancel("j1")
    # When the job starts, it is stopped there, unrun; another job runs as usual
    with pytest.raises(TaskCancelled):
        runner.call(Task("j1", ran.append, ("j1",), {}), None)
    assert runner.call(Task("j2", ran.append, ("j2",), {}), None) is None
    assert ran == ["j2"]


def test_a_cancel_made_while_a_worker_was_not_listening_still_stops_its_task(
    queue, spawn, queue_name, r, redis_url, tmp_path
):
    # Given a worker, on a Redis user of its own, running a long task
    user = f"w-{queue_name}"
    r.acl_setuser(user, enabled=True, passwords=["+pw"], keys=["*"], channels=["*"], commands=["+@all"])
    journal = tmp_path / "journal.txt"
    job = queue.enqueue(tasks.slow, str(journal), "t1", 30)
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name, url=redis_url.replace("//", f"//{user}:pw@", 1))
    wait_for(lambda: tasks.events(journal, "start"), what="the task to start")

    def listening() -> int:
        return r.pubsub_numsub(queue.keys.control)[0][1]

    wait_for(listening, what="the worker to listen for cancels")
    try:
        # When it cannot listen (its connection dropped, and it may not subscribe again for now) ...
        r.acl_setuser(user, enabled=True, reset_channels=True)
        r.client_kill_filter(_type="pubsub")
        wait_for(lambda: "listening for cancels failed" in worker.output(), what="the worker to fail to listen")
        # ... the job is cancelled, heard by no one
        assert job.cancel() and not listening()
    finally:
        r.acl_setuser(user, enabled=True, channels=["*"])
    # Then once it listens again it looks at what it holds, and stops the cancelled job
    wait_for(lambda: job.status is Status.CANCELLED and queue.info().active == 0, what="the task to stop")
    assert "was cancelled: interrupting it" in worker.output()
    assert tasks.events(journal, "done") == []
    assert worker.stop() == 0
    r.acl_deluser(user)

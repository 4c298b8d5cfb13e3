"""Results, retries, delays, time limits, the decorator, unique ids, bulk enqueue, async tasks,
eager mode and priorities, against a real Redis and real workers."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import pathlib
import pickle
import subprocess
import sys
import threading
import time

import pytest

import yotaq
from yotaq import JobFailed, ResultTimeout, Status, serializer
from yotaq.broker import Broker, QueueKeys
from yotaq.serializer import decode
from yotaq.supervisor import Supervisor
from yotaq.worker.watch import QueueWatcher

from . import tasks
from .helpers import push, wait_for


def nested_failure(value):
    def inner():
        raise ValueError(f"bad value {value}")

    inner()


# -- results -------------------------------------------------------------------------------------


def test_a_result_is_fetched_from_another_process_by_id(queue, burst_worker, redis_url, queue_name):
    job = queue.enqueue(divmod, 7, 2)
    burst_worker()
    code = "import sys, yotaq; q = yotaq.Queue(yotaq.connect(sys.argv[1]), sys.argv[2]); print(q.job(sys.argv[3]).result(5))"  # noqa: E501
    out = subprocess.run([sys.executable, "-c", code, redis_url, queue_name, job.id], capture_output=True, text=True)
    assert out.stdout.strip() == "(3, 1)", out.stderr


def test_a_waiter_blocks_in_redis_until_the_result_is_stored(queue, burst_worker, r):
    job = queue.enqueue(pow, 2, 10)
    results = []
    blocked_before = r.info("clients")["blocked_clients"]
    waiter = threading.Thread(target=lambda: results.append(job.result(timeout=10)))
    waiter.start()
    wait_for(lambda: r.info("clients")["blocked_clients"] > blocked_before, what="the waiter to block in Redis")
    assert results == []
    burst_worker()
    waiter.join(10)
    assert results == [1024]


def test_a_failed_job_raises_job_failed_with_the_remote_type_message_and_traceback(queue, burst_worker):
    job = queue.enqueue(nested_failure, 42)
    burst_worker()
    with pytest.raises(JobFailed) as failed:
        job.result(timeout=5)
    error = failed.value
    assert (error.job_id, error.type, error.message) == (job.id, "ValueError", "bad value 42")
    assert "in inner" in error.traceback and "ValueError: bad value 42" in error.traceback
    # it starts at the task: the worker's own frames that called it are left out
    package = str(pathlib.Path(yotaq.__file__).parent)
    assert "in nested_failure" in error.traceback.splitlines()[1] and package not in error.traceback
    assert job.status is Status.FAILED


def test_result_times_out(queue):
    job = queue.enqueue(print, "nobody runs me")
    started = time.monotonic()
    with pytest.raises(ResultTimeout):
        job.result(timeout=0.3)
    assert time.monotonic() - started >= 0.3


def test_results_expire_after_the_ttl_of_the_queue_or_the_task(r, queue_name, burst_worker):
    queue = yotaq.Queue(r, queue_name, result_ttl=60)
    by_queue = queue.enqueue(abs, -1)
    by_task = queue.options(result_ttl=5).enqueue(abs, -2)
    default = yotaq.Queue(r, queue_name).enqueue(abs, -3)
    burst_worker()
    assert 55_000 < r.pttl(queue.keys.result(by_queue.id)) <= 60_000
    assert 0 < r.pttl(queue.keys.result(by_task.id)) <= 5_000
    assert 86_000_000 < r.pttl(queue.keys.result(default.id)) <= 86_400_000


def test_status_follows_a_job_from_pending_to_active_to_done(queue, spawn, queue_name, tmp_path):
    job = queue.enqueue(tasks.slow, str(tmp_path / "journal"), "x", 0.5)
    assert job.status is Status.PENDING
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    wait_for(lambda: job.status is Status.ACTIVE, what="the job to be active")
    assert job.result(timeout=5) is None
    assert job.status is Status.DONE


def test_an_id_never_enqueued_is_not_found(queue):
    job = queue.job("never-enqueued")
    assert job.status is Status.NOT_FOUND
    with pytest.raises(ResultTimeout):
        job.result(timeout=0.05)


# A message from a producer on another Python (authentic: unsigned, to a worker without a secret)
OLD_PYTHON_MESSAGE = b"yq1 3.0 deadjob 0 %d - - garbage" % (time.time() + 3600)


def test_status_of_scheduled_and_dead_jobs(queue, r, burst_worker):
    later = queue.options(delay=60).enqueue(print)
    assert later.status is Status.SCHEDULED
    push(queue, OLD_PYTHON_MESSAGE)
    r.zrem(queue.keys.scheduled, later.id)
    burst_worker()
    assert queue.job("deadjob").status is Status.DEAD
    assert [job.id for job in queue.dead_jobs()] == ["deadjob"] and queue.failed_jobs() == []
    with pytest.raises(JobFailed, match=r"enqueued by Python 3\.0"):
        queue.job("deadjob").result(timeout=1)


def test_a_message_pushed_raw_is_dead_under_its_own_digest_not_the_id_in_its_header(queue, r, burst_worker):
    r.rpush(queue.keys.pending, OLD_PYTHON_MESSAGE)  # not enqueued: no job pending under its id
    burst_worker()
    assert queue.job("deadjob").status is Status.NOT_FOUND
    record_id = serializer.invalid_id(OLD_PYTHON_MESSAGE)
    assert queue.job(record_id).status is Status.DEAD
    [dead] = queue.dead_jobs()
    assert dead.id == record_id and dead.reason.startswith("its job is not pending on this queue")
    with pytest.raises(JobFailed, match="its job is not pending on this queue"):
        queue.job(record_id).result(timeout=1)


# -- retries -------------------------------------------------------------------------------------


def test_retries_back_off_with_growing_delays_and_then_succeed(queue, burst_worker, tmp_path):
    journal = tmp_path / "journal"
    job = queue.options(retries=3, retry_delay=0.2, retry_backoff=3).enqueue(tasks.flaky, str(journal), 4)
    worker = burst_worker()
    assert job.result(timeout=1) == 4
    times = [float(value) for value, _ in tasks.events(journal, "try")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # equal jitter: try n waits between half and all of 0.2 * 3 ** (n - 1) seconds
    assert 0.1 <= gaps[0] < gaps[1] < gaps[2]
    assert gaps[1] >= 0.3 and gaps[2] >= 0.9
    assert worker.counts == {"retried": 3, "done": 1}
    assert queue.info().done == 1


def test_after_the_last_try_the_task_is_failed_and_kept_with_its_traceback(queue, burst_worker, tmp_path):
    job = queue.options(retries=2, retry_delay=0.05).enqueue(tasks.flaky, str(tmp_path / "journal"), 99)
    worker = burst_worker()
    assert worker.counts == {"retried": 2, "failed": 1}
    with pytest.raises(JobFailed, match="try 3 fails"):
        job.result(timeout=1)
    assert job.status is Status.FAILED
    [failed] = queue.failed_jobs()
    assert (failed.id, failed.kind) == (job.id, "failed")
    assert "RuntimeError: try 3 fails" in failed.reason and "Traceback" in failed.reason
    assert queue.dead_jobs() == []  # failed and dead are kept apart
    info = queue.info()
    assert (info.failed, info.dead, info.retried) == (1, 0, 2)


def test_failed_and_dead_jobs_are_requeued_or_purged_by_kind(queue, burst_worker, tmp_path, r):
    failing = queue.enqueue(tasks.flaky, str(tmp_path / "journal"), 2)  # fails once, then succeeds
    push(queue, OLD_PYTHON_MESSAGE)
    burst_worker()
    assert (failing.status, queue.job("deadjob").status) == (Status.FAILED, Status.DEAD)
    assert queue.requeue("dead", [failing.id]) == 0  # not dead: left where it is
    assert queue.requeue("failed", [failing.id, "unknown"]) == 1
    assert failing.status is Status.PENDING and queue.failed_jobs() == []
    burst_worker()
    assert failing.result(timeout=1) == 2 and failing.status is Status.DONE
    assert [job.id for job in queue.dead_jobs()] == ["deadjob"]
    assert queue.purge("failed") == 0 and queue.purge("dead") == 1
    assert queue.dead_jobs() == [] and queue.info().dead == 0
    with pytest.raises(yotaq.ConfigurationError, match="kind must be 'failed' or 'dead'"):
        queue.purge("done")


def asks_for_a_retry(path):
    tasks.note(path, "try", f"{time.time():.6f}")
    if len(tasks.events(__import__("pathlib").Path(path), "try")) == 1:
        raise yotaq.Retry(delay=0.5)
    return "second time lucky"


def test_a_task_can_ask_for_a_retry_after_a_delay_of_its_choosing(queue, burst_worker, tmp_path):
    journal = tmp_path / "journal"
    job = queue.options(retries=1).enqueue(asks_for_a_retry, str(journal))
    burst_worker()
    assert job.result(timeout=1) == "second time lucky"
    first, second = (float(value) for value, _ in tasks.events(journal, "try"))
    assert second - first >= 0.5


def test_a_retry_waits_in_redis_not_in_worker_memory(queue, spawn, queue_name, tmp_path, r):
    job = queue.options(retries=1, retry_delay=3600).enqueue(tasks.flaky, str(tmp_path / "journal"), 2)
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name)
    wait_for(lambda: job.status is Status.SCHEDULED, what="the retry to be scheduled")
    assert worker.stop() == 0
    assert r.zscore(queue.keys.scheduled, job.id) is not None
    assert decode(r.hget(queue.keys.scheduled_messages, job.id), None, queue.name).attempt == 1
    assert job.status is Status.SCHEDULED


# -- delayed tasks -------------------------------------------------------------------------------


def test_a_delayed_task_does_not_start_early(queue, spawn, queue_name, tmp_path):
    journal = tmp_path / "journal"
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    wait_for(lambda: queue.info().workers, what="the worker to register")
    enqueued = time.time()
    job = queue.options(delay=0.5).enqueue(tasks.started_at, str(journal))
    assert job.status is Status.SCHEDULED
    job.result(timeout=5)
    [(started, _)] = tasks.events(journal, "start")
    assert float(started) - enqueued >= 0.5


def test_a_task_at_a_given_time_does_not_start_early(queue, burst_worker, tmp_path):
    journal = tmp_path / "journal"
    at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=0.4)
    queue.options(at=at).enqueue(tasks.started_at, str(journal))
    burst_worker()
    [(started, _)] = tasks.events(journal, "start")
    assert float(started) >= at.timestamp()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"delay": -1}, "delay"),
        ({"at": datetime.datetime(2030, 1, 1)}, "timezone-aware"),
        ({"delay": 1, "at": 1}, "not both"),
    ],
)
def test_bad_delays_are_refused_before_anything_is_sent(queue, r, options, message):
    with pytest.raises(yotaq.ConfigurationError, match=message):
        queue.options(**options).enqueue(print)
    assert r.llen(queue.keys.pending) == 0 and r.zcard(queue.keys.scheduled) == 0


def takes_keywords(**kwargs):
    return kwargs


def test_options_never_swallow_a_functions_keyword_arguments(queue, burst_worker, r):
    keywords = {"timeout": 0.001, "retries": -1, "delay": -1, "at": 1, "job_id": "not mine", "result_ttl": 5}

    @queue.task(retries=2)
    def decorated(**kwargs):
        return kwargs

    by_queue = queue.enqueue(takes_keywords, **keywords)
    by_options = queue.options(retries=1).enqueue(takes_keywords, **keywords)
    by_task = decorated.delay(**keywords)
    messages = [decode(m, None, queue.name) for m in r.lrange(queue.keys.pending, 0, -1)]
    assert [(m.id, m.kwargs, m.options) for m in messages] == [
        (by_queue.id, keywords, {}),
        (by_options.id, keywords, {"retries": 1}),
        (by_task.id, keywords, {"retries": 2}),
    ]
    assert r.zcard(queue.keys.scheduled) == 0 and "not mine" not in {by_queue.id, by_options.id, by_task.id}
    burst_worker()
    assert [job.result(1) for job in (by_queue, by_options, by_task)] == [keywords] * 3


# -- time limits ---------------------------------------------------------------------------------


def test_a_task_stuck_in_sleep_is_stopped_by_its_timeout_and_the_worker_goes_on(queue, spawn, queue_name):
    stuck = queue.options(timeout=1).enqueue(time.sleep, 3600)
    busy = queue.options(timeout=0.5, retries=1, retry_delay=0).enqueue(tasks.busy_loop)
    after = queue.enqueue(tasks.pid)
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name)
    for job in (stuck, busy):
        with pytest.raises(JobFailed) as failed:
            job.result(timeout=20)
        assert failed.value.type == "TimeoutError" and "time limit" in failed.value.message
    assert after.result(timeout=10) == worker.pid
    info = queue.info()
    assert (info.failed, info.dead, info.done, info.pending) == (2, 0, 1, 0)
    assert {job.id for job in queue.failed_jobs()} == {stuck.id, busy.id}
    assert "retrying" in worker.output()  # the busy loop had a retry left


def test_a_task_that_signals_cannot_stop_is_killed_by_the_supervisor_and_fails_at_the_first_kill(
    queue, spawn, queue_name, r
):
    # Given a task no signal stops (like C code holding the GIL) with a 0.5 s limit, under the supervisor
    stuck = queue.options(timeout=0.5).enqueue(tasks.ignores_alarm, 3600)
    after = queue.enqueue(tasks.pid)
    started = time.monotonic()
    supervisor = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--processes", "1")
    # Then it is killed 2 s past its limit and fails there and then: not given back to run into its limit
    # again (three times over, 3 x 2.5 s, before it was set aside as dead)
    with pytest.raises(JobFailed, match=r"time limit of 0\.5 s") as failed:
        stuck.result(timeout=20)
    assert failed.value.type == "TimeoutError" and time.monotonic() - started < 5
    assert after.result(timeout=10) != supervisor.pid
    assert stuck.status is Status.FAILED and queue.dead_jobs() == []
    assert r.hget(queue.keys.deliveries, stuck.id) is None
    assert supervisor.output().count("stuck past its task's time limit") == 1


async def async_add(a, b):
    await asyncio.sleep(0.01)
    return a + b


async def async_forever():
    await asyncio.sleep(3600)


def test_an_async_task_runs_on_the_workers_event_loop_and_its_timeout_cancels_it(queue, burst_worker):
    added = queue.enqueue(async_add, 2, 3)
    forever = queue.options(timeout=0.2).enqueue(async_forever)
    burst_worker()
    assert added.result(timeout=1) == 5
    with pytest.raises(JobFailed, match="TimeoutError"):
        forever.result(timeout=1)


class _Watchdog:
    """A watchdog that remembers the time limit it is armed with."""

    armed_for: float | None = None

    def arm(self, seconds: float) -> None:
        self.armed_for = seconds

    def disarm(self) -> None:
        self.armed_for = None


WATCHDOG = _Watchdog()


async def watchdog_while_running():
    await asyncio.sleep(0)
    return WATCHDOG.armed_for


def test_the_watchdog_is_armed_while_an_async_task_runs(queue, burst_worker):
    # An async task that blocks its event loop escapes asyncio's timeout: only the watchdog's kill stops it
    job = queue.options(timeout=5).enqueue(watchdog_while_running)
    burst_worker(watchdog=WATCHDOG)
    assert job.result(timeout=1) == 5 and WATCHDOG.armed_for is None


# -- the decorator, unique jobs, bulk enqueue, eager mode ----------------------------------------


def test_the_decorator_adds_delay_and_leaves_a_plain_call_local(queue, burst_worker, r):
    @queue.task(retries=3, timeout=30)
    def multiply(a, b):
        return a * b

    assert multiply(6, 7) == 42
    assert r.llen(queue.keys.pending) == 0
    default = multiply.delay(2, 3)
    overridden = multiply.options(retries=1).delay(2, 4)
    first, second = (decode(m, None, queue.name) for m in r.lrange(queue.keys.pending, 0, -1))
    assert first.options == {"retries": 3, "timeout": 30} and second.options == {"retries": 1, "timeout": 30}
    burst_worker()
    assert (default.result(1), overridden.result(1)) == (6, 8)


def test_a_duplicate_job_id_runs_once_while_the_first_is_pending(queue, burst_worker, r, tmp_path):
    journal = tmp_path / "journal"
    report = queue.options(job_id="report-2026-11")
    first = report.enqueue(tasks.note, str(journal), "done", 1)
    second = report.enqueue(tasks.note, str(journal), "done", 2)
    assert first == second and r.llen(queue.keys.pending) == 1
    burst_worker()
    assert [v for v, _ in tasks.events(journal, "done")] == ["1"]
    report.enqueue(tasks.note, str(journal), "done", 3)
    burst_worker()
    assert [v for v, _ in tasks.events(journal, "done")] == ["1", "3"]


def test_enqueue_many_sends_thousands_in_one_transaction(queue, burst_worker, r):
    jobs = queue.options(result_ttl=60).enqueue_many(divmod, [(n, 7) for n in range(2000)])
    assert r.llen(queue.keys.pending) == 2000
    assert decode(r.lindex(queue.keys.pending, 0), None, queue.name).options == {"result_ttl": 60}
    burst_worker()
    assert [job.result(1) for job in jobs[:3]] == [(0, 0), (0, 1), (0, 2)]
    assert queue.info().done == 2000


def test_enqueue_many_sends_nothing_when_one_call_cannot_travel(queue, r):
    with pytest.raises(yotaq.SerializationError, match="lock"):
        queue.enqueue_many(divmod, [(1, 2), (threading.Lock(), 2), (3, 4)])
    assert r.llen(queue.keys.pending) == 0


@pytest.mark.parametrize(
    "enqueue_option", [{"delay": 1}, {"at": datetime.datetime.now(datetime.UTC)}, {"job_id": "one-for-all"}]
)
def test_enqueue_many_refuses_a_delay_a_time_or_a_job_id(queue, r, enqueue_option):
    with pytest.raises(yotaq.ConfigurationError, match="enqueue_many takes no delay, at, job_id or depends_on"):
        queue.options(**enqueue_option).enqueue_many(divmod, [(1, 2), (3, 4)])
    assert r.llen(queue.keys.pending) == 0 and r.zcard(queue.keys.scheduled) == 0


def test_eager_mode_runs_at_once_through_the_serializer(r, queue_name):
    eager = yotaq.Queue(r, queue_name, eager=True)
    assert eager.enqueue(divmod, 9, 4).result() == (2, 1)
    with pytest.raises(JobFailed, match="ZeroDivisionError"):
        eager.enqueue(divmod, 1, 0).result()
    assert eager.options(delay=3600).enqueue(divmod, 9, 4).result(timeout=0) == (2, 1)  # at once, delay or not
    with pytest.raises(yotaq.ConfigurationError, match="delay"):
        eager.options(delay=-1).enqueue(divmod, 9, 4)
    assert r.llen(eager.keys.pending) == 0 and r.zcard(eager.keys.scheduled) == 0


def test_eager_mode_rejects_a_closure_that_could_not_travel(r, queue_name):
    eager = yotaq.Queue(r, queue_name, eager=True)
    lock = threading.Lock()

    def guarded():
        with lock:
            return 1

    assert guarded() == 1
    with pytest.raises(yotaq.SerializationError, match="lock"):
        eager.enqueue(guarded)


# -- priorities across queues --------------------------------------------------------------------


def test_a_worker_always_takes_from_the_first_non_empty_queue(r, queue_name, tmp_path):
    journal = tmp_path / "journal"
    high, low = yotaq.Queue(r, queue_name + "-high"), yotaq.Queue(r, queue_name)
    for n in range(3):
        low.enqueue(tasks.note, str(journal), "done", f"low{n}")
        high.enqueue(tasks.note, str(journal), "done", f"high{n}")
    yotaq.Worker(r, [high.name, low.name], burst=True).run()
    assert [v for v, _ in tasks.events(journal, "done")] == ["high0", "high1", "high2", "low0", "low1", "low2"]
    r.delete(*r.keys("{yotaq:" + high.name + "}:*"))


def test_an_idle_watcher_wakes_for_a_task_on_any_of_its_queues(r, queue_name):
    keys = [yotaq.Queue(r, f"{queue_name}-{n}").keys for n in range(3)]
    watcher = QueueWatcher(Broker(r), keys)
    try:
        threading.Timer(0.2, lambda: r.rpush(keys[2].pending, b"x")).start()
        started = time.monotonic()
        watcher.wait(timeout=5)
        assert time.monotonic() - started < 2.5  # woken by the push, not by the 5 s timeout
        assert r.llen(keys[2].pending) == 1  # and nothing was taken
    finally:
        watcher.close()
        r.delete(keys[2].pending)


def test_unknown_options_and_reserved_names_are_explained(queue):
    with pytest.raises(yotaq.ConfigurationError, match="unknown option"):
        yotaq.Queue(queue.redis, queue.name, retrys=3)
    with pytest.raises(yotaq.ConfigurationError, match="unknown option"):
        queue.options(retrys=3)
    with pytest.raises(yotaq.ConfigurationError, match="retries"):
        queue.options(retries=-1)
    with pytest.raises(yotaq.ConfigurationError, match="unknown option"):
        yotaq.Queue(queue.redis, queue.name, delay=1)  # a queue's defaults are Options fields only
    assert pickle.loads(pickle.dumps(JobFailed("j", "T", "m", "tb"))).traceback == "tb"


def test_one_settings_object_gives_producers_and_workers_the_same_secret_and_shards(r, queue_name, burst_worker):
    settings = yotaq.Settings(secret="s3cret", shards=2)
    queue = yotaq.Queue(r, queue_name, settings=settings)
    jobs = [queue.enqueue(divmod, n, 2) for n in range(40)]
    assert {queue._shard(job.id).shard for job in jobs} == {0, 1}  # spread over both shards
    assert serializer.decode(r.lindex(queue._shard(jobs[0].id).pending, 0), b"s3cret", queue_name).args == (0, 2)
    with pytest.raises(yotaq.InvalidMessage):  # signed with the settings' secret: no other key checks out
        serializer.decode(r.lindex(queue._shard(jobs[0].id).pending, 0), b"other", queue_name)
    worker = burst_worker(settings=settings)
    assert worker.settings is queue.settings is settings
    assert "s3cret" not in repr(settings)  # a setting may be logged: its secret is not
    with pytest.raises(TypeError):
        yotaq.Settings("s3cret")  # type: ignore[misc]  # by name only
    assert [job.result(timeout=5) for job in jobs] == [divmod(n, 2) for n in range(40)]


@pytest.mark.parametrize("separate", [{"secret": "s"}, {"shards": 2}, {"replicas": 1}])
def test_settings_and_a_separate_secret_shards_or_replicas_at_once_are_refused(r, queue_name, separate):
    settings = yotaq.Settings(secret="s")
    for make in (yotaq.Queue, yotaq.AsyncQueue):
        with pytest.raises(yotaq.ConfigurationError, match="not both"):
            make(r, queue_name, settings=settings, **separate)
    with pytest.raises(yotaq.ConfigurationError, match="not both"):
        yotaq.Worker(r, [queue_name], settings=settings, **separate)
    with pytest.raises(yotaq.ConfigurationError, match=r"must be a yotaq\.Settings"):
        yotaq.Queue(r, queue_name, settings={"secret": "s"})


@pytest.mark.parametrize("separate", [{"shards": 1}, {"replicas": 0}])
def test_settings_conflicts_equal_to_a_default_are_refused(r, redis_url, queue_name, separate):
    settings = yotaq.Settings(shards=4)  # shards=1 beside it would silently be 4 were it not refused
    for make in (yotaq.Queue, yotaq.AsyncQueue):
        with pytest.raises(yotaq.ConfigurationError, match="not both"):
            make(r, queue_name, settings=settings, **separate)
    with pytest.raises(yotaq.ConfigurationError, match="not both"):
        yotaq.Worker(r, [queue_name], settings=settings, **separate)
    for from_url in (yotaq.Queue.from_url, yotaq.AsyncQueue.from_url):
        with pytest.raises(yotaq.ConfigurationError, match="not both"):
            from_url(redis_url, queue_name, settings=settings, **separate)


def test_a_supervisor_given_settings_gives_back_from_every_shard_with_their_secret(redis_url, queue_name):
    settings = yotaq.Settings(secret="s", shards=2)  # as the command line gives them
    supervisor = Supervisor(redis_url, [queue_name], 1, settings=settings)
    assert [keys.pending for keys in supervisor._keys] == [keys.pending for keys in QueueKeys.of(queue_name, 2)]
    assert supervisor.settings is settings


def test_a_queue_from_a_url_takes_settings_too(redis_url, queue_name):
    with yotaq.Queue.from_url(redis_url, queue_name, settings=yotaq.Settings(shards=2)) as queue:
        assert queue.settings.shards == 2 and len(queue.shards) == 2
        with pytest.raises(yotaq.ConfigurationError, match="not both"):
            yotaq.Queue.from_url(redis_url, queue_name, settings=yotaq.Settings(), secret="s")

"""The job model: options in their own channel, O(1) status with NOT_FOUND, failed and dead kept apart
and bounded, and yotaq's errors at every public call; against a real Redis and real workers."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import redis

import yotaq
from yotaq import Status
from yotaq.broker import OutageRetry
from yotaq.server import free_port

from .helpers import ROOT, redis_ms, wait_for


def echo(*args, **kwargs):
    return args, kwargs


def boom():
    raise ValueError("boom")


# -- options never swallow a function's arguments ----------------------------------------------


def test_every_keyword_reaches_the_function_even_those_named_like_options(queue, burst_worker):
    kwargs = {"timeout": 5, "retries": 3, "delay": 60, "at": None, "job_id": "mine", "result_ttl": 1}
    job = queue.enqueue(echo, "url", **kwargs)
    burst_worker()
    assert job.result(timeout=5) == (("url",), kwargs)
    assert job.id != "mine" and job.status is Status.DONE


def test_options_travel_through_their_own_channel(queue, burst_worker, r):
    job = queue.options(result_ttl=30, job_id="chosen").enqueue(echo, timeout=1)
    burst_worker()
    assert job.id == "chosen" and job.result(timeout=5) == ((), {"timeout": 1})
    assert 0 < r.pttl(queue.keys.result("chosen")) <= 30_000


def test_a_decorated_task_keeps_its_options_and_passes_every_argument(queue, burst_worker, r):
    @queue.task(result_ttl=40)
    def add(a, b, retries=0):
        return a + b + retries

    plain = add.delay(1, 2, retries=10)
    overridden = add.options(result_ttl=20).delay(1, 1)
    burst_worker()
    assert (plain.result(timeout=5), overridden.result(timeout=5)) == (13, 2)
    assert 20_000 < r.pttl(queue.keys.result(plain.id)) <= 40_000
    assert 0 < r.pttl(queue.keys.result(overridden.id)) <= 20_000
    assert add(1, 2) == 3  # calling it still runs it here


@pytest.mark.parametrize(
    "options, message",
    [
        ({"retires": 3}, "unknown option"),
        ({"result_ttl": float("inf")}, "result_ttl"),
        ({"result_ttl": float("nan")}, "result_ttl"),
        ({"timeout": -1}, "timeout"),
        ({"delay": float("inf")}, "delay"),
        ({"job_id": "café"}, "job id"),
        ({"job_id": "has space"}, "job id"),
    ],
)
def test_a_bad_option_is_refused_where_it_is_given(queue, options, message):
    with pytest.raises(yotaq.ConfigurationError, match=message):
        queue.options(**options)


NAN, INF = float("nan"), float("inf")
_COUNTS = [NAN, INF, -INF, True, 2.0, 10**10, -1, "2"]
_SECONDS = [NAN, INF, -INF, True, -1, 1e30, "1"]


@pytest.mark.parametrize(
    "option, value",
    [("concurrency", value) for value in [*_COUNTS, 0, 1_000_001]]
    + [("retries", value) for value in _COUNTS]
    + [(name, value) for name in ("retry_delay", "retry_max_delay", "timeout", "result_ttl", "failure_ttl", "delay")
       for value in _SECONDS]
    + [("retry_backoff", value) for value in (NAN, INF, True, 0.5, 1e6, "2")]
    + [("rate_limit", value) for value in (50, True, NAN, "0/s", "10000000/s", "inf/s")]
    + [("limit_key", value) for value in (True, NAN, "")]
    + [("at", value) for value in (NAN, INF, True, 1e12)],
)  # fmt: skip
def test_concurrency_option_must_be_a_whole_number(queue, option, value):
    # Every option, given a value it cannot mean (nan, inf, a bool, a float for a count, out of range),
    # is refused where it is given with one typed error naming the option and the value.
    with pytest.raises(yotaq.ConfigurationError) as refused:
        queue.options(**{option: value})
    assert option in str(refused.value) and repr(value) in str(refused.value)
    with pytest.raises(yotaq.ConfigurationError):
        yotaq.Queue(queue.broker.client, queue.name, **{option: value})


def test_options_at_their_bounds_are_taken(queue, burst_worker):
    from yotaq.job import MAX_CONCURRENCY, MAX_RETRIES

    job = queue.options(concurrency=MAX_CONCURRENCY, retries=MAX_RETRIES, delay=0).enqueue(divmod, 7, 2)
    burst_worker()
    assert job.result(timeout=5) == (3, 1)


@pytest.mark.parametrize(
    "argument, value",
    [(name, value) for name in ("liveness_timeout", "heartbeat_interval") for value in (NAN, INF, True, -1, 1e30)]
    + [("max_deliveries", value) for value in (NAN, True, 2.0, 0, 10**10)]
    + [("concurrency", value) for value in (NAN, True, 2.0, 0, 10**10)],
)  # fmt: skip
def test_a_worker_refuses_numbers_it_cannot_use(r, queue_name, argument, value):
    with pytest.raises(yotaq.ConfigurationError, match=argument):
        yotaq.Worker(r, [queue_name], **{argument: value})


def test_enqueue_many_takes_task_options_but_no_delay_time_or_job_id(queue, burst_worker):
    jobs = queue.options(result_ttl=60).enqueue_many(echo, [(1,), (2,)])
    burst_worker()
    assert [job.result(timeout=5) for job in jobs] == [((1,), {}), ((2,), {})]
    with pytest.raises(yotaq.ConfigurationError, match="enqueue_many"):
        queue.options(delay=1).enqueue_many(echo, [(1,)])


# -- status ------------------------------------------------------------------------------------


def test_an_id_never_enqueued_is_not_found(queue):
    assert queue.job("never-enqueued").status is Status.NOT_FOUND


def test_status_is_one_script_call_whatever_the_workers_hold(queue, r, spawn, queue_name, tmp_path):
    # Given three workers, each running a long task
    from . import tasks

    jobs = [queue.enqueue(tasks.slow, str(tmp_path / "journal"), n, 30) for n in range(3)]
    workers = [spawn("-m", "yotaq", "worker", "--queue", queue_name) for _ in range(3)]
    wait_for(lambda: len(tasks.events(tmp_path / "journal", "start")) == 3, what="three tasks to start")
    # When a job's status is asked (once before, so that Redis has the script: the first call loads it),
    # the workers held still meanwhile so that their own upkeep is not counted
    assert jobs[0].status is Status.ACTIVE
    for worker in workers:
        worker.signal(signal.SIGSTOP)
    r.config_resetstat()
    assert jobs[0].status is Status.ACTIVE
    stats = r.info("commandstats")
    for worker in workers:
        worker.signal(signal.SIGCONT)
    # Then it took one script call, which read a hash field and nothing from any worker's list
    assert stats["cmdstat_evalsha"]["calls"] == 1
    assert "cmdstat_lrange" not in stats and "cmdstat_lindex" not in stats
    for worker in workers:  # rather than wait for their 30 s tasks
        worker.signal(signal.SIGKILL)


def test_a_finished_unique_id_enqueued_again_waits_for_its_new_run(queue, burst_worker):
    first = queue.options(job_id="report").enqueue(echo, 1)
    burst_worker()
    assert first.result(timeout=5) == ((1,), {})
    again = queue.options(job_id="report").enqueue(echo, 2)
    assert again.status is Status.PENDING
    with pytest.raises(yotaq.ResultTimeout):
        again.result(timeout=0.2)
    burst_worker()
    assert again.result(timeout=5) == ((2,), {})


# -- failed and dead: apart, and bounded -------------------------------------------------------


def test_a_failed_result_honours_a_shorter_result_ttl_and_its_record_the_failure_ttl(queue, burst_worker, r):
    job = queue.options(result_ttl=5, failure_ttl=600).enqueue(boom)
    burst_worker()
    assert 0 < r.pttl(queue.keys.result(job.id)) <= 5_000
    [failed] = queue.failed_jobs()
    assert failed.id == job.id and failed.kind == "failed" and "ValueError: boom" in failed.reason
    assert 590_000 < failed.expires_at_ms - failed.at_ms <= 600_000
    assert queue.dead_jobs() == []


def test_a_failed_job_still_reads_failed_after_its_result_expires(queue, burst_worker, r):
    job = queue.options(result_ttl=0.2, failure_ttl=600).enqueue(boom)
    burst_worker()
    wait_for(lambda: not r.exists(queue.keys.result(job.id)), timeout=5, what="the failed result to expire")
    assert job.status is Status.FAILED


def test_failed_and_dead_are_kept_apart_and_requeued_or_purged_apart(queue, burst_worker, r):
    failed = queue.enqueue(boom)
    r.rpush(queue.keys.pending, b"not a yotaq message")
    burst_worker()
    [dead] = queue.dead_jobs()
    assert [job.id for job in queue.failed_jobs()] == [failed.id] and dead.kind == "dead"
    info = queue.info()
    assert (info.failed, info.dead, info.invalid) == (1, 1, 1)
    assert failed.status is Status.FAILED and queue.job(dead.id).status is Status.DEAD
    assert queue.requeue("failed") == 1 and failed.status is Status.PENDING
    assert queue.purge("dead") == 1
    assert queue.dead_jobs() == [] and queue.info().dead == 0 and queue.info().pending == 1


def test_after_failures_expire_the_keys_left_return_to_a_small_fixed_set(queue, burst_worker, r, queue_name):
    # Given many tasks, a third of them failing, each kept about a second
    quick = queue.options(result_ttl=1, failure_ttl=1)
    quick.enqueue_many(echo, [(n,) for n in range(200)])
    quick.enqueue_many(boom, [() for _ in range(100)])
    burst_worker()
    assert int(r.hget(queue.keys.stats, "failed")) == 100  # (their records may be expiring already)
    # When their time has passed and the records are trimmed (as a worker does now and then)
    kept_until_ms = r.zrange(queue.keys.jobs_of("failed"), -1, -1, withscores=True)[0][1]
    wait_for(lambda: redis_ms(r) > kept_until_ms, what="the records' time to pass")
    wait_for(lambda: not any(r.scan_iter(match=f"{{yotaq:{queue_name}}}:result:*")), what="the results to expire")
    queue.broker.trim(queue.keys)
    # Then only the counters, the last hour's series (at most 3600 fields) and the number of shards are left
    left = sorted(r.scan_iter(match=f"{{yotaq:{queue_name}}}:*"))
    assert left == [f"{{yotaq:{queue_name}}}:{name}".encode() for name in ("series", "shards", "stats")]
    assert 1 <= r.hlen(queue.keys.series) <= 3
    assert queue.info().failed == 0 and queue.failed_jobs() == []


def test_setting_a_job_aside_trims_the_expired_records_on_its_way(queue, burst_worker, r):
    old = queue.options(failure_ttl=0.1).enqueue(boom)
    burst_worker()
    kept_until_ms = r.zscore(queue.keys.jobs_of("failed"), old.id)
    wait_for(lambda: redis_ms(r) > kept_until_ms, what="the record's time to pass")
    queue.enqueue(boom)
    burst_worker()
    assert r.zscore(queue.keys.jobs_of("failed"), old.id) is None
    assert not r.hexists(queue.keys.messages_of("failed"), old.id)


def test_info_counts_scheduled_jobs(queue):
    queue.options(delay=3600).enqueue(echo)
    info = queue.info()
    assert (info.pending, info.scheduled) == (0, 1)


# -- yotaq's errors, never redis-py's ----------------------------------------------------------


def test_every_public_call_raises_yotaq_errors_when_redis_is_down():
    queue = yotaq.Queue(yotaq.connect(f"redis://127.0.0.1:{free_port()}/0"), "nowhere")
    queue.broker.outage_retry = OutageRetry(0.1)  # each call waits out the outage this long, then raises
    job = queue.job("some-id")
    calls = [
        lambda: queue.enqueue(echo),
        lambda: queue.enqueue_many(echo, [(1,)]),
        lambda: queue.options(delay=1).enqueue(echo),
        lambda: job.result(timeout=1),
        lambda: job.status,
        queue.info,
        queue.failed_jobs,
        queue.dead_jobs,
        lambda: queue.requeue("dead"),
        lambda: queue.purge("failed"),
    ]
    for call in calls:
        with pytest.raises(yotaq.RedisUnavailable) as raised:
            call()
        assert not isinstance(raised.value, redis.RedisError)


def test_a_command_redis_refuses_raises_broker_error(queue, r):
    r.set(queue.keys.pending, "not a list")
    with pytest.raises(yotaq.BrokerError, match="WRONGTYPE"):
        queue.enqueue(echo)


def test_client_py_without_redis_ends_with_one_short_error():
    env = {"PATH": "/usr/bin:/bin", "YOTAQ_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    done = subprocess.run([sys.executable, "client.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if not line.startswith("INFO:")]
    assert len(errors) == 1 and errors[0].startswith("client.py: Redis is unavailable"), done.stderr

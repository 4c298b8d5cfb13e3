"""What users reach for next: periodic tasks, cancelling, concurrency and rate limits, progress; against a
real Redis and real worker processes."""

from __future__ import annotations

import asyncio
import collections
import json
import time

import pytest

import yotaq
from yotaq import Status

from . import tasks
from .helpers import wait_for


def journal_tick(path):
    job = yotaq.current_job()
    tasks.note(path, "tick", job.id)


def count_running(url, key, seconds):
    """Count the tasks running at once, in Redis, from inside them."""
    import redis

    client = redis.Redis.from_url(url)
    client.rpush(f"{key}:peaks", client.incr(f"{key}:running"))
    time.sleep(seconds)
    client.decr(f"{key}:running")


def note_start(path):
    tasks.note(path, "start", f"{time.time():.6f}")


def reports_progress(seconds):
    job = yotaq.current_job()
    job.set_progress({"step": 1, "of": 2})
    time.sleep(seconds)
    job.set_progress(1.0)
    return job.attempt


async def sleeps_async(seconds):
    yotaq.current_job().set_progress(0.5)
    await asyncio.sleep(seconds)


# -- periodic tasks ---------------------------------------------------------------------------


def test_four_workers_run_a_1s_schedule_9_to_11_times_in_10s_never_twice_a_tick(queue, spawn, queue_name, tmp_path):
    # Given a 1 s schedule and four workers
    journal = tmp_path / "journal"
    queue.periodic(every=1, name="heartbeat")(lambda: journal_tick(str(journal)))
    workers = [spawn("-m", "yotaq", "worker", "--queue", queue_name) for _ in range(4)]
    wait_for(lambda: len(queue.info().workers) == 4, what="4 workers to register")
    # When 10 s pass (counted from the first tick, so worker start-up does not count)
    first = wait_for(lambda: tasks.events(journal, "tick"), what="the first tick")[0]
    time.sleep(9.5)  # the schedule's own time: what is measured
    for worker in workers:
        worker.signal(15)
    # Then it ran 9 to 11 times, each tick once
    ticks = [value for value, _ in tasks.events(journal, "tick")]
    assert 9 <= len(ticks) <= 11, ticks
    assert len(set(ticks)) == len(ticks) and first[0] in ticks
    assert len({pid for _, pid in tasks.events(journal, "tick")}) >= 1


def test_a_worker_back_after_missing_5_ticks_runs_one_catch_up(queue, spawn, queue_name, tmp_path, r):
    # Given a 1 s schedule whose last 5 ticks no worker was there to run
    journal = tmp_path / "journal"
    queue.periodic(every=1, name="catch-up")(lambda: journal_tick(str(journal)))
    missed_since_ms = int(time.time() * 1000) - 5_500
    r.zadd(queue.keys.schedule_next, {"catch-up": missed_since_ms})
    # When a worker comes back
    started_ms = time.time() * 1000
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name)
    wait_for(lambda: len(tasks.events(journal, "tick")) >= 2, what="the catch-up and the next regular tick")
    # Then the missed ticks ran once between them, and the schedule went on from now, on its grid
    due = [int(job_id.split("@")[1]) for job_id, _ in tasks.events(journal, "tick")]
    assert [at for at in due if at < started_ms] == [missed_since_ms]
    assert all((at - missed_since_ms) % 1000 == 0 for at in due)
    assert worker.stop() == 0


def test_registering_a_name_again_replaces_it_and_it_can_be_removed(queue, r):
    queue.periodic(every=60, name="report")(print)
    queue.periodic(cron="*/5 * * * *", tz="Europe/Paris", name="report")(print)
    [schedule] = queue.periodics()
    assert (schedule.name, schedule.cron, schedule.tz, schedule.every) == (
        "report",
        "*/5 * * * *",
        "Europe/Paris",
        None,
    )
    assert schedule.next_run_ms % 60_000 == 0 and schedule.next_run_ms > time.time() * 1000
    assert queue.remove_periodic("report") and not queue.remove_periodic("report")
    assert queue.periodics() == []


@pytest.mark.parametrize(
    "kwargs, message",
    [({}, "every="), ({"every": 1, "cron": "* * * * *"}, "every="), ({"cron": "61 * * * *"}, "cron"),
     ({"every": 0}, "every"), ({"every": 1, "tz": "Mars/Olympus"}, "time zone")],
)  # fmt: skip
def test_a_bad_schedule_is_refused(queue, kwargs, message):
    with pytest.raises(yotaq.ConfigurationError, match=message):
        queue.periodic(**kwargs)


def test_python_m_yotaq_periodic_lists_the_schedules(queue, spawn, queue_name):
    queue.periodic(every=30, name="cleanup")(print)
    listing = spawn("-m", "yotaq", "periodic", "--queue", queue_name)
    assert listing.wait(30) == 0
    assert "cleanup  every 30 s  next 20" in listing.output()


# -- cancel -----------------------------------------------------------------------------------


def test_a_pending_or_scheduled_job_cancelled_never_runs(queue, burst_worker, tmp_path):
    journal = str(tmp_path / "journal")
    pending = queue.enqueue(note_start, journal)
    scheduled = queue.options(delay=0.2).enqueue(note_start, journal)
    kept = queue.enqueue(divmod, 7, 2)
    assert pending.cancel() and scheduled.cancel()
    assert pending.status is Status.CANCELLED and scheduled.status is Status.CANCELLED
    burst_worker()
    assert tasks.events(tmp_path / "journal", "start") == [] and kept.result(timeout=1) == (3, 1)
    with pytest.raises(yotaq.JobCancelled):
        pending.result(timeout=1)
    assert not pending.cancel() and not kept.cancel()  # nothing left to cancel


@pytest.mark.parametrize("fn", [time.sleep, sleeps_async], ids=["sync", "async"])
def test_a_running_job_cancelled_stops_within_2s_and_the_worker_runs_the_next(queue, spawn, queue_name, fn):
    running = queue.enqueue(fn, 60)
    after = queue.enqueue(divmod, 7, 2)
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    wait_for(lambda: running.status is Status.ACTIVE, what="the task to start")
    cancelled_at = time.monotonic()
    assert running.cancel()
    with pytest.raises(yotaq.JobCancelled):
        running.result(timeout=5)
    wait_for(lambda: running.status is Status.CANCELLED and queue.info().active == 0, what="the task to stop")
    assert time.monotonic() - cancelled_at < 2
    assert after.result(timeout=5) == (3, 1) and queue.info().cancelled == 1


def test_python_m_yotaq_cancel(queue, spawn, queue_name):
    job = queue.enqueue(print)
    cancel = spawn("-m", "yotaq", "cancel", job.id, "--queue", queue_name)
    assert cancel.wait(30) == 0 and f"cancelled job {job.id}" in cancel.output()
    assert job.status is Status.CANCELLED
    again = spawn("-m", "yotaq", "cancel", job.id, "--queue", queue_name)
    assert again.wait(30) == 2 and "nothing to cancel" in again.output()


# -- limits -----------------------------------------------------------------------------------


def test_concurrency_2_across_4_workers_never_has_more_than_2_running(queue, spawn, queue_name, r, redis_url):
    key = f"{queue_name}:count"
    limited = queue.options(concurrency=2)
    jobs = [limited.enqueue(count_running, redis_url, key, 0.2) for _ in range(12)]
    for _ in range(4):
        spawn("-m", "yotaq", "worker", "--queue", queue_name)
    for job in jobs:
        job.result(timeout=30)
    peaks = [int(value) for value in r.lrange(f"{key}:peaks", 0, -1)]
    assert len(peaks) == 12 and max(peaks) == 2
    assert r.zcard(queue.keys.holders) == 0 and r.zcard(queue.keys.waiting) == 0
    r.delete(f"{key}:peaks", f"{key}:running")


def test_a_rate_limit_of_20_per_s_over_5s_starts_100_plus_or_minus_10(queue, spawn, queue_name, tmp_path):
    journal = tmp_path / "journal"
    rated = queue.options(rate_limit="20/s")
    rated.enqueue_many(note_start, [(str(journal),) for _ in range(300)])
    for _ in range(2):
        spawn("-m", "yotaq", "worker", "--queue", queue_name)
    first = float(wait_for(lambda: tasks.events(journal, "start"), what="the first start")[0][0])
    time.sleep(5.2)  # the window measured
    starts = [float(value) for value, _ in tasks.events(journal, "start")]
    in_window = [start for start in starts if first <= start < first + 5]
    assert 90 <= len(in_window) <= 110, len(in_window)


def test_a_limited_task_does_not_delay_an_unlimited_one_behind_it(queue, spawn, queue_name, redis_url):
    limited = queue.options(concurrency=1, limit_key="one-at-a-time")
    sleeps = [limited.enqueue(time.sleep, 2) for _ in range(5)]
    free = queue.enqueue(divmod, 7, 2)
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    started = time.monotonic()
    assert free.result(timeout=10) == (3, 1)
    assert time.monotonic() - started < 3  # not after the 10 s of limited work queued ahead of it
    waiting = queue.broker.client.zcard(queue.keys.waiting)
    assert waiting >= 2  # the others wait in Redis, not in a worker
    for sleep in sleeps:  # done with them: the workers stop at teardown without finishing a sleep
        sleep.cancel()


def stuck_the_first_time(path):
    tasks.note(path, "start", "x")
    if len(tasks.events(__import__("pathlib").Path(path), "start")) == 1:
        time.sleep(60)


def test_a_dead_worker_s_slot_frees_itself_when_its_liveness_lapses(queue, spawn, queue_name, r, tmp_path):
    # Given a worker that dies (kill -9) holding the one slot of a limit, with a task waiting for it
    limited = queue.options(concurrency=1, limit_key="solo")
    stuck = limited.enqueue(stuck_the_first_time, str(tmp_path / "journal"))
    after = limited.enqueue(divmod, 7, 2)
    doomed = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--liveness-timeout", "2")
    wait_for(lambda: tasks.events(tmp_path / "journal", "start"), what="the first task to start, holding the slot")
    assert r.zcard(queue.keys.holders) == 1
    doomed.signal(9)
    # When another worker reaps it, the slot is given back: both tasks run
    spawn("-m", "yotaq", "worker", "--queue", queue_name, "--liveness-timeout", "2")
    assert after.result(timeout=20) == (3, 1) and stuck.result(timeout=5) is None
    assert r.zcard(queue.keys.holders) == 0 and r.zcard(queue.keys.waiting) == 0


def test_unbounded_records_the_rates_of_2000_limit_keys_are_forgotten_once_they_have_lapsed(
    queue, burst_worker, spawn, queue_name, r
):
    # Given 2,000 tasks run, each with a limit key of its own and a rate, and one key whose rate is spent
    for n in range(2000):
        queue.options(limit_key=f"key-{n}", rate_limit="1000000/s").enqueue(divmod, n, 2)
    slow = queue.options(limit_key="slow", rate_limit="1/h")
    slow.enqueue_many(divmod, [(n, 2) for n in range(2)])
    burst_worker()
    assert r.hlen(queue.keys.rates) == 2001
    # When the records are trimmed (as a worker does now and then), past the 1 µs spacing of those rates
    queue.broker.trim(queue.keys)
    # Then only the key whose next start is still ahead is kept, and its limit still holds
    assert r.hkeys(queue.keys.rates) == [b"slow"]
    late = slow.enqueue(divmod, 7, 2)
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    wait_for(lambda: late.status is Status.SCHEDULED, what="the task over its rate to wait for its next start")


@pytest.mark.parametrize(
    "options, message",
    [({"concurrency": 0}, "concurrency"), ({"rate_limit": "50/day"}, "rate_limit"), ({"rate_limit": 50}, "rate_limit"),
     ({"limit_key": "a,b"}, "limit_key"), ({"limit_key": "has space"}, "limit_key")],
)  # fmt: skip
def test_bad_limits_are_refused(queue, options, message):
    with pytest.raises(yotaq.ConfigurationError, match=message):
        queue.options(**options)


# -- progress ---------------------------------------------------------------------------------


def test_a_task_reports_progress_that_any_process_reads(queue, spawn, queue_name):
    job = queue.enqueue(reports_progress, 1.0)
    assert job.progress is None
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    assert wait_for(lambda: job.progress, what="the first report") == {"step": 1, "of": 2}
    assert job.result(timeout=10) == 0  # its attempt, read from current_job()
    assert job.progress == 1.0


def test_current_job_outside_a_task_and_bad_progress_say_so(queue, burst_worker):
    with pytest.raises(yotaq.YotaqError, match="only available inside a task"):
        yotaq.current_job()

    def bad_progress():
        yotaq.current_job().set_progress({"not": {1, 2}})

    job = queue.enqueue(bad_progress)
    burst_worker()
    with pytest.raises(yotaq.JobFailed, match="JSON-able"):
        job.result(timeout=5)


def test_the_counts_of_a_queue_with_limits_and_schedules_come_back_to_zero(queue, burst_worker, r):
    limited = queue.options(concurrency=1, rate_limit="1000/s")
    jobs = limited.enqueue_many(divmod, [(n, 2) for n in range(20)])
    burst_worker()
    assert collections.Counter(job.status for job in jobs) == {Status.DONE: 20}
    assert r.zcard(queue.keys.holders) == 0 and r.zcard(queue.keys.waiting) == 0 and r.hlen(queue.keys.state) == 0


def waits_to_be_cancelled_then_raises(url, queue_name, path):
    import redis

    from yotaq.broker.keys import QueueKeys

    tasks.note(path, "start", "x")
    client, job = redis.Redis.from_url(url), yotaq.current_job()
    while client.hget(QueueKeys(queue_name).state, job.id) != b"cancelling":
        time.sleep(0.005)
    raise RuntimeError("raised before its worker could interrupt it")


def test_a_cancelled_task_that_raises_on_its_own_is_not_retried(queue, spawn, queue_name, redis_url, tmp_path):
    journal = str(tmp_path / "journal")
    job = queue.options(retries=3, retry_delay=0.01).enqueue(
        waits_to_be_cancelled_then_raises, redis_url, queue_name, journal
    )
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    wait_for(lambda: tasks.events(tmp_path / "journal", "start"), what="the task to start")
    assert job.cancel()
    with pytest.raises(yotaq.JobCancelled):
        job.result(timeout=5)
    wait_for(lambda: job.status is Status.CANCELLED and queue.info().active == 0, what="the job to end cancelled")
    # The one worker runs the next job once it is through with this one, a retry included, were there one
    assert queue.enqueue(divmod, 7, 2).result(timeout=10) == (3, 1)
    info = queue.info()  # one snapshot: a retry would be scheduled, pending or active here, or have started
    assert (info.scheduled, info.pending, info.active) == (0, 0, 0)
    assert len(tasks.events(tmp_path / "journal", "start")) == 1 and job.status is Status.CANCELLED


def test_cancelling_a_task_waiting_for_a_slot_lets_the_next_one_run(queue, spawn, queue_name, tmp_path):
    limited = queue.options(concurrency=1, limit_key="one")
    first = limited.enqueue(time.sleep, 1)
    waiting = limited.enqueue(divmod, 1, 1)
    behind = limited.enqueue(divmod, 7, 2)
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    wait_for(lambda: queue.broker.client.zcard(queue.keys.waiting) == 2, what="two tasks to wait for the slot")
    assert waiting.cancel()
    assert behind.result(timeout=10) == (3, 1) and first.result(timeout=5) is None
    assert waiting.status is Status.CANCELLED


def test_a_periodic_task_keeps_its_limits(queue, r):
    queue.options(concurrency=1).periodic(every=60, name="exclusive")(print)
    [(_, record, *_)] = queue.broker.schedules(queue.keys)
    timing, _ = yotaq.outcomes.decode_schedule("exclusive", record, None, queue.name)
    assert json.loads(timing)["limit"] == "builtins.print,1,-"

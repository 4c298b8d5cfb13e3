"""Numbers the docs promise, checked at those very numbers (the other tests mostly use smaller ones, to be quick)."""

from __future__ import annotations

import pytest
import redis

import yotaq
from yotaq.current import CurrentJob

DAY_MS = 86_400_000


def _server_ms(r: redis.Redis) -> int:
    seconds, micros = r.time()
    return seconds * 1000 + micros // 1000


def test_results_are_kept_a_day_and_failures_seven_days_by_default(queue, r, burst_worker):
    done = queue.enqueue(divmod, 7, 2)
    failed = queue.enqueue(int, "not a number")
    burst_worker()
    now = _server_ms(r)
    assert DAY_MS - 60_000 < r.pttl(queue.keys.result(done.id)) <= DAY_MS
    assert abs(r.zscore(queue.keys.jobs_of("failed"), failed.id) - (now + 7 * DAY_MS)) < 60_000
    assert DAY_MS - 60_000 < r.pttl(queue.keys.result(failed.id)) <= DAY_MS  # the shorter of the two


def test_a_unique_or_delayed_enqueue_keeps_its_token_60_s(queue, r):
    job = queue.options(job_id="report").enqueue(divmod, 7, 2)
    assert 59_000 < r.pttl(queue.keys.enqueued(job.id)) <= 60_000


def test_progress_of_4096_bytes_is_taken_and_one_byte_more_refused():
    reported = []
    job = CurrentJob("j", "q", 0, reported.append)
    job.set_progress({"s": "x" * 4087})  # 4,096 bytes as JSON
    assert len(reported[0]) == 4096
    with pytest.raises(yotaq.ConfigurationError, match="4097 bytes"):
        job.set_progress({"s": "x" * 4088})


def test_every_takes_0_1_s_to_366_days_and_nothing_outside(queue):
    for seconds in (0.1, 366 * 86_400):
        queue.periodic(every=seconds, name=f"every-{seconds}")(print)
    for seconds in (0.099, 366 * 86_400 + 1):
        with pytest.raises(yotaq.ConfigurationError, match="every"):
            queue.periodic(every=seconds, name="refused")(print)


def test_a_worker_takes_a_concurrency_of_10_000_and_not_10_001(r, queue_name):
    assert yotaq.Worker(r, [queue_name], concurrency=10_000).concurrency == 10_000
    with pytest.raises(yotaq.ConfigurationError, match="10,000"):
        yotaq.Worker(r, [queue_name], concurrency=10_001)

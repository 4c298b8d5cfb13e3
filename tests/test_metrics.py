"""Prometheus metrics read from Redis at each scrape: the exporter alone (`python -m yotaq metrics`) and
``/metrics`` on the dashboard, checked value by value."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

import yotaq
from yotaq.broker import Broker
from yotaq.dashboard.app import create_app
from yotaq.metrics import duration_buckets, exposition
from yotaq.monitor import Second

from . import dashboard_tasks as tasks
from .helpers import Process, wait_for
from .web import free_port, request, served


def samples(text: str, queue: str) -> dict[str, float]:
    """Sample name (with ``le`` or ``worker`` when it has one) -> value, for ``queue`` and the unlabelled."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("queue", queue) != queue:
                continue
            extra = {name: value for name, value in sample.labels.items() if name != "queue"}
            key = sample.name + "".join(f"[{value}]" for _, value in sorted(extra.items()))
            found[key] = sample.value
    return found


def scrape(url: str) -> str:
    status, body, headers = request(url)
    assert status == 200 and headers["content-type"].startswith("text/plain")
    return body


def test_the_exporter_and_the_dashboard_report_what_redis_holds(
    r: redis.Redis,
    queue: yotaq.Queue,
    burst_worker: Callable[..., yotaq.Worker],
    spawn: Callable[..., Process],
    tmp_path: Path,
) -> None:
    # Given 3 tasks done, one failed for good, one retried once and then done
    queue.enqueue_many(tasks.nap, [(0,)] * 3)
    queue.options(retries=0).enqueue(tasks.fail, "no")
    queue.options(retries=1, retry_delay=0).enqueue(tasks.fail_first, str(tmp_path / "flag"))
    burst_worker()
    # and then 2 tasks pending, 1 scheduled, and no worker
    queue.enqueue_many(tasks.nap, [(0,)] * 2)
    queue.options(delay=3600).enqueue(tasks.nap, 0)
    # and a last hour of 10 seconds of 2 tasks of 30 ms, and 10 seconds of 1 task of 2 s
    now_s = int(r.time()[0])
    r.delete(queue.keys.series)
    series = {(now_s - n) % 3600: f"{now_s - n} 2 60" for n in range(1, 11)}
    series |= {(now_s - n) % 3600: f"{now_s - n} 1 2000" for n in range(11, 21)}
    r.hset(queue.keys.series, mapping=series)  # type: ignore[arg-type]

    # When the exporter alone is scraped
    port = free_port()
    spawn("-m", "yotaq", "metrics", "--port", str(port), "--queue", queue.name)
    url = f"http://127.0.0.1:{port}/metrics"

    def scraped() -> str:
        try:
            return scrape(url)
        except OSError:
            return ""

    values = samples(wait_for(scraped, timeout=20, what="the exporter"), queue.name)

    # Then every gauge and counter is Redis's
    assert values["yotaq_up"] == 1
    expected = {"pending": 2, "scheduled": 1, "active": 0, "failed": 1, "dead": 0}
    assert {name: values[f"yotaq_{name}_jobs"] for name in expected} == expected
    assert values["yotaq_tasks_done_total"] == 4
    assert values["yotaq_tasks_failed_total"] == 1
    assert values["yotaq_tasks_retried_total"] == 1
    assert values["yotaq_tasks_redelivered_total"] == 0
    assert values["yotaq_messages_invalid_total"] == 0
    assert values["yotaq_tasks_cancelled_total"] == 0
    assert values["yotaq_workers"] == 0
    # and the duration histogram is the series' last hour
    assert values["yotaq_task_duration_seconds_gcount"] == 30
    assert math.isclose(values["yotaq_task_duration_seconds_gsum"], 10 * 0.06 + 10 * 2.0)
    assert values["yotaq_task_duration_seconds_bucket[0.025]"] == 0
    assert values["yotaq_task_duration_seconds_bucket[0.05]"] == 20
    assert values["yotaq_task_duration_seconds_bucket[1.0]"] == 20
    assert values["yotaq_task_duration_seconds_bucket[2.5]"] == 30
    assert values["yotaq_task_duration_seconds_bucket[+Inf]"] == 30

    # When a worker runs the pending tasks, and the dashboard's /metrics is scraped
    spawn("-m", "yotaq", "worker", "--queue", queue.name)
    wait_for(lambda: queue.info().done == 6 and queue.info().workers, timeout=20, what="the pending tasks")
    with served(create_app(r, queues=[queue.name])) as dashboard:
        values = samples(scrape(dashboard + "/metrics"), queue.name)

    # Then it reports the worker with a fresh heartbeat, and the new counts
    assert (values["yotaq_workers"], values["yotaq_pending_jobs"], values["yotaq_tasks_done_total"]) == (1, 0, 6)
    (worker,) = queue.info().workers
    assert 0 <= values[f"yotaq_worker_heartbeat_age_seconds[{worker.id}]"] < 5


def test_a_scrape_when_redis_does_not_answer_says_so() -> None:
    client = yotaq.connect("redis://127.0.0.1:1/0")
    try:
        body, _ = exposition(Broker(client, give_up_after=0.1), ["somewhere"])
    finally:
        client.close()
    assert samples(body.decode(), "somewhere") == {"yotaq_up": 0}


@pytest.mark.parametrize(
    ("seconds", "counts", "total_s"),
    [
        ([], [0] * 15, 0),
        ([Second(1, 4, 40)], [0, 4] + [4] * 13, 0.04),  # a mean of 10 ms: in the 0.01 bucket
        ([Second(1, 1, 600_000)], [0] * 14 + [1], 600),  # 10 minutes: beyond the last bound
    ],
)
def test_the_duration_buckets_are_cumulative(seconds: list[Second], counts: list[int], total_s: float) -> None:
    buckets, total = duration_buckets(seconds)
    assert [count for _, count in buckets] == counts and buckets[-1][0] == "+Inf"
    assert math.isclose(total, total_s)

"""Scheduled work wakes workers through a marker its script writes, not a poll: a job scheduled while every
worker waits starts on time, and one whose wake-up was lost still starts, within a worker's longest wait."""

from __future__ import annotations

import asyncio
import time

import yotaq
from yotaq.worker.maintenance import LOOK_ANYWAY_S, MAX_WAIT_S

from . import tasks
from .helpers import wait_for


def _started_at(journal) -> float:
    [(at, _)] = wait_for(lambda: tasks.events(journal, "start"), timeout=30, what="the task to start")
    return float(at)


def test_a_job_scheduled_while_every_worker_waits_starts_on_time(queue, spawn, queue_name, tmp_path):
    # Given two idle workers, each blocked in its waits (nothing is due: each would look again only
    # after MAX_WAIT_S)
    for _ in range(2):
        spawn("-m", "yotaq", "worker", "--queue", queue_name)
    assert queue.enqueue(divmod, 7, 2).result(timeout=10) == (3, 1)  # both up and idle
    # When a job is scheduled to run shortly
    journal = tmp_path / "journal.txt"
    enqueued_at = time.time()
    queue.options(delay=0.3).enqueue(tasks.started_at, str(journal))
    # Then it starts on time: woken by the marker its enqueue wrote, well before any worker's next look
    late_s = _started_at(journal) - (enqueued_at + 0.3)
    assert -0.05 < late_s < MAX_WAIT_S / 5, late_s


def test_a_retry_and_a_periodic_tick_wake_an_idle_worker_too(queue, spawn, queue_name, tmp_path):
    journal = str(tmp_path / "journal.txt")
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    assert queue.enqueue(divmod, 7, 2).result(timeout=10) == (3, 1)
    # A task that fails once, tried again 0.3 s later: the retry script writes the marker
    job = queue.options(retries=1, retry_delay=0.3, retry_backoff=1).enqueue(tasks.flaky, journal, 2)
    assert job.result(timeout=MAX_WAIT_S / 2) == 2
    # A schedule registered while the worker waits: its registration writes the marker, and each tick
    # comes due at the time the worker asked the promote script for
    registered_at = time.time()
    queue.periodic(every=0.5, name="twice-a-second")(lambda: tasks.started_at(journal))
    wait_for(lambda: len(tasks.events(tmp_path / "journal.txt", "start")) >= 3, timeout=30, what="three ticks")
    first, _, third = (float(at) for at, _ in tasks.events(tmp_path / "journal.txt", "start")[:3])
    assert first - registered_at < MAX_WAIT_S / 5 and third - first < 1.5, (registered_at, first, third)


def test_a_wake_up_lost_with_a_worker_that_died_is_made_up_when_that_worker_is_found_dead(
    queue, spawn, queue_name, tmp_path, monkeypatch
):
    # Given an idle worker (1 s liveness), and a job scheduled whose marker a worker took, then died
    # holding nothing: a worker of the queue whose deadline has just passed
    spawn("-m", "yotaq", "worker", "--queue", queue_name, "--liveness-timeout", "1", "--heartbeat-interval", "0.2")
    assert queue.enqueue(divmod, 7, 2).result(timeout=10) == (3, 1)
    journal = tmp_path / "journal.txt"
    fleet, dead = queue.broker.fleet(queue.keys), "host.1.dead"
    queue.broker.register(fleet, dead, [queue.keys], 1000)
    queue.broker.heartbeat(fleet, dead, queue.broker.clock(fleet) + 300, lapsed_before_ms=None)
    enqueue = queue.broker._scripts.enqueue

    def enqueue_and_lose_the_marker(keys, args, client):  # (in one transaction: no waiting worker sees it)
        with queue.redis.pipeline(transaction=True) as pipe:
            enqueue(keys, args, client=pipe)
            return pipe.delete(queue.keys.marker).execute()[0]

    monkeypatch.setattr(queue.broker._scripts, "enqueue", enqueue_and_lose_the_marker)
    job = queue.options(delay=1.5).enqueue(tasks.started_at, str(journal))
    scheduled_at = time.time()
    # Then the worker finds it dead at its next beat, and looks at the queue then: the job starts about
    # on time, not at the next look it would make anyway (LOOK_ANYWAY_S)
    late_s = _started_at(journal) - (scheduled_at + 1.5)
    assert late_s < 0.5 < LOOK_ANYWAY_S, late_s
    assert job.result(timeout=5) is None


async def naps(seconds):
    await asyncio.sleep(seconds)


async def notes_its_start(path):
    tasks.started_at(path)


def _commands(client) -> int:
    return sum(stats["calls"] for name, stats in client.info("commandstats").items() if name != "cmdstat_info")


def test_a_worker_running_coroutines_with_slots_free_waits_for_work_rather_than_asking(
    spawn, own_redis, queue_name, tmp_path
):
    # Given a worker of 4 coroutines busy with one, a Redis of this test's own
    client = yotaq.connect(own_redis.url)
    queue = yotaq.Queue(client, queue_name)
    first = queue.enqueue(naps, 5)
    spawn("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", "4", url=own_redis.url)
    wait_for(lambda: first.status is yotaq.Status.ACTIVE, timeout=10, what="the first coroutine")
    # Then, while it runs, the worker sends Redis no more than an idle one does (it asked for work
    # every 5 ms: 350 commands a second)
    before, started = _commands(client), time.monotonic()
    time.sleep(1.5)
    rate = (_commands(client) - before) / (time.monotonic() - started)
    assert rate < 20, rate
    # and work that comes for a free slot starts at once, beside the running one
    journal = tmp_path / "journal.txt"
    enqueued_at = time.time()
    queue.enqueue(notes_its_start, str(journal))
    assert _started_at(journal) - enqueued_at < 0.5
    assert first.status is yotaq.Status.ACTIVE
    client.close()

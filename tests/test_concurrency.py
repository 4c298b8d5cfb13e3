"""A worker that runs many coroutines at once (concurrency=N), against a real Redis and real worker processes."""

from __future__ import annotations

import asyncio
import collections
import signal
import time

import yotaq
from yotaq import Status

from . import tasks
from .helpers import wait_for


async def nap(path, value, seconds):
    tasks.note(path, "start", value)
    await asyncio.sleep(seconds)
    tasks.note(path, "done", value)
    return yotaq.current_job().id


def test_500_coroutines_of_1s_on_one_worker_at_concurrency_100_finish_well_under_15s(
    queue, spawn, queue_name, tmp_path
):
    journal = str(tmp_path / "journal")
    jobs = queue.enqueue_many(nap, [(journal, n, 1) for n in range(500)])
    spawn("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", "100")
    started = time.monotonic()
    ids = [job.result(timeout=30) for job in jobs]
    assert time.monotonic() - started < 15
    assert ids == [job.id for job in jobs]  # each ran as its own job (current_job() per coroutine)
    assert queue.info().done == 500


def test_each_coroutine_has_its_own_time_limit_and_cancel_and_a_function_still_runs(queue, spawn, queue_name, tmp_path):
    journal = str(tmp_path / "journal")
    limited = queue.options(timeout=0.5).enqueue(nap, journal, "limited", 30)
    cancelled = queue.enqueue(nap, journal, "cancelled", 30)
    fine = queue.enqueue(nap, journal, "fine", 1)
    plain = queue.enqueue(divmod, 7, 2)
    spawn("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", "10")
    wait_for(lambda: cancelled.status is Status.ACTIVE, what="the coroutines to start")
    cancelled.cancel()
    assert fine.result(timeout=10) == fine.id and plain.result(timeout=10) == (3, 1)
    try:
        limited.result(timeout=10)
    except yotaq.JobFailed as failed:
        assert failed.type == "TimeoutError"
    wait_for(lambda: cancelled.status is Status.CANCELLED, timeout=5, what="the cancelled coroutine to stop")


def test_a_worker_killed_with_100_coroutines_in_flight_loses_none(queue, spawn, queue_name, tmp_path):
    # Given 300 coroutines, 100 at a time, on a worker killed (kill -9) while they run
    journal = tmp_path / "journal"
    jobs = queue.enqueue_many(nap, [(str(journal), n, 1) for n in range(300)])
    command = ("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", "100", "--liveness-timeout", "2")
    doomed = spawn(*command)
    wait_for(lambda: len(tasks.events(journal, "start")) >= 150, what="coroutines in flight")
    doomed.signal(signal.SIGKILL)
    # When another worker takes over
    spawn(*command)
    # Then every task ran to its end
    for job in jobs:
        job.result(timeout=60)
    done = collections.Counter(value for value, _ in tasks.events(journal, "done"))
    assert len(done) == 300


def test_sigterm_lets_the_running_coroutines_finish_and_gives_back_the_rest(queue, spawn, queue_name, tmp_path):
    journal = tmp_path / "journal"
    queue.enqueue_many(nap, [(str(journal), n, 1) for n in range(30)])
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", "10")
    wait_for(lambda: len(tasks.events(journal, "start")) >= 10, what="10 coroutines in flight")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    started, finished = tasks.events(journal, "start"), tasks.events(journal, "done")
    assert len(finished) == len(started)  # every one started ran to its end
    info = queue.info()
    assert info.pending == 30 - len(finished) and info.active == 0 and info.workers == []


def in_flight_at_most(journal) -> int:
    """The most coroutines that had started and not yet finished at any one moment, by the journal's order."""
    most = running = 0
    for line in journal.read_text().splitlines():
        running += 1 if line.startswith("start ") else -1
        most = max(most, running)
    return most


def test_10_000_coroutines_at_once_run_10_200_tasks_leased_in_chunks(queue, spawn, queue_name, tmp_path):
    # Given more pending tasks than the worker's 10,000 slots (a lease this big once crashed the
    # lease script: Lua's unpack holds about 8,000 values)
    journal = tmp_path / "journal"
    jobs = queue.enqueue_many(nap, [(str(journal), n, 0.5) for n in range(10_200)])
    # When one worker runs them, 10,000 at a time
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", "10000")
    # Then every one runs, each once, never more than 10,000 at once
    wait_for(lambda: queue.info().done == 10_200 or worker.popen.poll() is not None, timeout=60, what="10,200 done")
    assert worker.popen.poll() is None, worker.output()[-2000:]
    assert jobs[-1].result(timeout=1) == jobs[-1].id
    assert len(tasks.events(journal, "done")) == 10_200
    assert 1_000 < in_flight_at_most(journal) <= 10_000
    assert "Traceback" not in worker.output()

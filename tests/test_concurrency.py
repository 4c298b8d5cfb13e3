"""A worker that runs many coroutines at once (concurrency=N), against a real Redis and real worker processes."""

from __future__ import annotations

import asyncio
import collections
import signal
import time

import pytest

import yotaq
from yotaq import Status
from yotaq.worker.timelimit import EXIT_STUCK

from . import tasks
from .helpers import in_flight_at_most, wait_for


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


def test_10_000_coroutines_at_once_run_10_200_tasks_leased_in_chunks(queue, spawn, queue_name, tmp_path):
    # Given more pending tasks than the worker's 10,000 slots (a lease this big once crashed the
    # lease script: Lua's unpack holds about 8,000 values), each waiting until 10,000 have started,
    # then finishing in a shuffled order (acknowledgements not at the head of the active list once
    # took the acknowledgement script seconds each, blocking Redis)
    journal = tmp_path / "journal"
    calls = [(str(journal), n, queue_name, 10_000, (n * 7_919 % 10_200) / 20_000) for n in range(10_200)]
    jobs = queue.enqueue_many(tasks.gathered, calls)
    # When one worker runs them, 10,000 at a time
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", "10000")
    # Then every one runs, each once, 10,000 at once and never more
    wait_for(lambda: queue.info().done == 10_200 or worker.popen.poll() is not None, timeout=60, what="10,200 done")
    assert worker.popen.poll() is None, worker.output()[-2000:]
    assert jobs[-1].result(timeout=1) is None
    assert len(tasks.events(journal, "done")) == 10_200
    assert in_flight_at_most(journal) == 10_000
    assert "Traceback" not in worker.output()


async def swallows_its_interruption_then_returns(path, value):
    tasks.note(path, "start", value)
    try:  # noqa: SIM105 - spelled out: a coroutine that swallows its cancellation
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        pass
    return "as if nothing happened"


async def swallows_every_interruption(path):
    tasks.note(path, "start", "swallower")
    while True:
        try:  # noqa: SIM105 - spelled out: a coroutine that swallows every cancellation
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            pass


@pytest.mark.parametrize("concurrency", ["1", "4"])
def test_a_coroutine_that_swallows_its_time_limit_or_its_cancel_and_returns_is_not_done(
    queue, spawn, queue_name, tmp_path, concurrency
):
    journal = tmp_path / "journal"
    limited = queue.options(timeout=0.3).enqueue(swallows_its_interruption_then_returns, str(journal), "limited")
    cancelled = queue.enqueue(swallows_its_interruption_then_returns, str(journal), "cancelled")
    spawn("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", concurrency)
    with pytest.raises(yotaq.JobFailed, match=r"time limit of 0\.3 s"):
        limited.result(timeout=10)
    wait_for(lambda: "cancelled" in [value for value, _ in tasks.events(journal, "start")], what="it to start")
    cancelled.cancel()
    wait_for(lambda: queue.info().active == 0, timeout=5, what="the cancelled coroutine to stop")
    assert cancelled.status is Status.CANCELLED and limited.status is Status.FAILED
    assert queue.info().done == 0


@pytest.mark.parametrize(("concurrency", "interruption"), [("1", "time limit"), ("4", "cancel")])
def test_a_coroutine_that_will_not_stop_ends_its_worker_and_counts_a_delivery(
    queue, spawn, queue_name, tmp_path, r, concurrency, interruption
):
    # Given a coroutine that swallows every cancellation, past its time limit or cancelled
    journal = tmp_path / "journal"
    options = {"timeout": 0.3} if interruption == "time limit" else {}
    job = queue.options(**options).enqueue(swallows_every_interruption, str(journal))
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", concurrency)
    if interruption == "cancel":
        wait_for(lambda: tasks.events(journal, "start"), what="the coroutine to start")
        job.cancel()
    # Then, after the grace period, its worker exits, still holding the task: a reaper gives it
    # back and counts a delivery, as for any task that takes its worker down
    assert worker.wait(timeout=15) == EXIT_STUCK
    assert f"a coroutine has ignored its {interruption}" in worker.output()
    [registered] = queue.info().workers
    assert r.llen(queue.keys.active(registered.id)) == 1
    reaped = yotaq.worker.reap(queue.broker, queue.keys, registered.id, 3, None, force=True)
    assert reaped == (1, 0) and int(r.hget(queue.keys.deliveries, job.id)) == 1
    assert job.status is not Status.DONE


async def blocks_its_loop(seconds):
    time.sleep(seconds)


def test_under_the_supervisor_a_coroutine_that_blocks_the_loop_past_its_time_limit_is_killed(
    queue, spawn, queue_name, r
):
    # Given a coroutine that blocks its worker's event loop (no asyncio timer can fire), with
    # concurrency: the watchdog holds the earliest deadline in flight while the loop runs
    job = queue.options(timeout=1).enqueue(blocks_its_loop, 30)
    supervisor = spawn(
        "-m", "yotaq", "worker", "--queue", queue_name, "--processes", "1", "--concurrency", "4"
    )  # fmt: skip
    # Then the supervisor kills its worker 2 s past the limit, and the task fails there and then by its limit,
    # not given back to block the next worker's loop in turn
    with pytest.raises(yotaq.JobFailed, match=r"time limit of 1 s"):
        job.result(timeout=10)
    assert supervisor.output().count("stuck past its task's time limit") == 1
    assert r.hget(queue.keys.deliveries, job.id) is None
    supervisor.signal(signal.SIGTERM)
    assert supervisor.wait(timeout=10) == 0


async def naps(seconds):
    await asyncio.sleep(seconds)
    return "napped"


def test_under_the_supervisor_the_coroutine_past_its_limit_fails_not_the_one_started_last(queue, spawn, queue_name, r):
    # Given a coroutine that blocks the loop past its 1 s limit, and one started after it, with a long limit
    blocking = queue.options(timeout=1).enqueue(blocks_its_loop, 30)
    beside = queue.options(timeout=30).enqueue(naps, 0.1)
    supervisor = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--processes", "1", "--concurrency", "4")
    # Then the one past its limit fails by it, and the other is given back and runs in the next process
    with pytest.raises(yotaq.JobFailed, match=r"time limit of 1 s"):
        blocking.result(timeout=10)
    assert beside.result(timeout=10) == "napped"
    assert supervisor.output().count("stuck past") == 1


async def raises_cancelled_error():
    raise asyncio.CancelledError


def test_a_coroutine_that_raises_cancelled_error_itself_fails_and_the_worker_goes_on(queue, spawn, queue_name):
    raised = queue.enqueue(raises_cancelled_error)
    after = queue.enqueue(tasks.pid)
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", "4")
    assert after.result(timeout=10) == worker.pid
    with pytest.raises(yotaq.JobFailed, match="CancelledError"):
        raised.result(timeout=1)

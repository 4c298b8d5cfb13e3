"""A worker that runs plain functions in threads (threads=N), against a real Redis and real worker processes."""

from __future__ import annotations

import time

import pytest

import yotaq
from yotaq import ConfigurationError, JobFailed, Status

from . import tasks
from .helpers import wait_for


def in_flight_at_most(journal) -> int:
    """The most calls that had started and not yet finished at any one moment, by the journal's order."""
    most = running = 0
    for line in journal.read_text().splitlines():
        running += 1 if line.startswith("start ") else -1
        most = max(most, running)
    return most


def worker(*options: str) -> tuple[str, ...]:
    return ("-m", "yotaq", "worker", *options)


@pytest.mark.parametrize("threads", [1, 0, 1001, 2.0, "8", True])
def test_threads_must_be_a_whole_number_from_1_to_1000(r, threads):
    if threads == 1 and not isinstance(threads, bool):
        assert yotaq.Worker(r, ["q"], threads=threads).threads == 1
        return
    with pytest.raises(ConfigurationError, match="threads must be a whole number from 1 to 1,000"):
        yotaq.Worker(r, ["q"], threads=threads)


def test_the_cli_refuses_a_bad_thread_count_in_one_line(spawn, queue_name):
    refused = spawn(*worker("--queue", queue_name, "--threads", "0"))
    assert refused.wait() == 2
    assert refused.output().strip().splitlines() == [
        "yotaq: error: threads must be a whole number from 1 to 1,000, got 0"
    ]


def test_8_threads_run_8_functions_at_once_never_more_each_as_its_own_job(queue, spawn, queue_name, tmp_path):
    # Given 40 functions, each waiting until 8 have started in its worker process
    journal = tmp_path / "journal"
    jobs = queue.enqueue_many(tasks.gathered_in_threads, [(str(journal), n, "g", 8, 0.05) for n in range(40)])
    # When one worker runs them in 8 threads
    spawn(*worker("--queue", queue_name, "--threads", "8"))
    # Then 8 ran at once and never more, each with current_job() its own
    assert [job.result(timeout=20) for job in jobs] == [job.id for job in jobs]
    assert in_flight_at_most(journal) == 8
    assert len(tasks.events(journal, "done")) == 40 and queue.info().done == 40


def test_a_python_task_past_its_limit_in_a_thread_fails_and_its_siblings_run_once(queue, spawn, queue_name, tmp_path):
    # Given a busy loop with a 0.5 s limit and 8 sleepers of 1 s beside it
    journal = tmp_path / "journal"
    busy = queue.options(timeout=0.5).enqueue(tasks.busy_loop)
    siblings = queue.enqueue_many(tasks.slow, [(str(journal), n, 1) for n in range(8)])
    after = queue.enqueue(tasks.pid)
    started = time.monotonic()
    runner = spawn(*worker("--queue", queue_name, "--threads", "4"))
    # Then the busy loop is stopped by its limit in its thread, and the worker goes on
    with pytest.raises(JobFailed, match=r"time limit of 0\.5 s") as failed:
        busy.result(timeout=10)
    assert failed.value.type == "TimeoutError" and time.monotonic() - started < 3
    assert [job.result(timeout=10) for job in siblings] == [None] * 8
    assert after.result(timeout=5) == runner.pid
    assert sorted(int(value) for value, _ in tasks.events(journal, "done")) == list(range(8))  # each once
    assert sorted(int(value) for value, _ in tasks.events(journal, "start")) == list(range(8))


def swallows_its_time_limit(path):
    tasks.note(path, "start", "swallower")
    try:
        while True:
            pass
    except BaseException:
        pass
    return "as if nothing happened"


def test_a_task_that_swallows_its_time_limit_in_a_thread_and_returns_fails(queue, spawn, queue_name, tmp_path):
    job = queue.options(timeout=0.3).enqueue(swallows_its_time_limit, str(tmp_path / "journal"))
    spawn(*worker("--queue", queue_name, "--threads", "2"))
    with pytest.raises(JobFailed, match=r"time limit of 0\.3 s"):
        job.result(timeout=10)


def test_a_thread_stuck_in_c_past_its_limit_fails_it_at_once_and_its_siblings_rerun_once(
    queue, spawn, queue_name, tmp_path, r
):
    # Given a task stuck in time.sleep (a C call no exception reaches) with a 1 s limit, and 3 siblings
    # in the other threads of its supervised worker process, each waiting for a gate
    journal, gate = tmp_path / "journal", tmp_path / "gate"
    stuck = queue.options(timeout=1).enqueue(time.sleep, 3600)
    supervisor = spawn(*worker("--queue", queue_name, "--threads", "4", "--processes", "1"))
    wait_for(lambda: stuck.status is Status.ACTIVE, what="the stuck task to start")
    started = time.monotonic()
    siblings = queue.enqueue_many(tasks.gated, [(str(journal), n, str(gate)) for n in range(3)])
    wait_for(lambda: len(tasks.events(journal, "start")) == 3, what="the siblings to start")
    # Then 2 s past its limit its process is replaced: the stuck task fails there and then, not given back
    # to run into its limit again, and its siblings are given back at once
    with pytest.raises(JobFailed, match=r"time limit of 1 s") as failed:
        stuck.result(timeout=10)
    assert failed.value.type == "TimeoutError" and time.monotonic() - started < 5
    assert supervisor.output().count("is still running 2 s after its time limit") == 1
    assert r.hget(queue.keys.deliveries, stuck.id) is None  # failed, not given back as a lost one
    # and they run again in the fresh process, to their end, once each
    wait_for(lambda: len(tasks.events(journal, "start")) == 6, what="the siblings to start again")
    first, again = {pid for _, pid in tasks.events(journal, "start")[:3]}, tasks.events(journal, "start")[3:]
    assert len(first) == 1 and {pid for _, pid in again} != first
    gate.touch()
    assert [job.result(timeout=10) for job in siblings] == [None] * 3
    assert sorted(int(value) for value, _ in tasks.events(journal, "done")) == [0, 1, 2]
    info = queue.info()
    assert (info.failed, info.done, info.dead, info.pending, info.active) == (1, 3, 0, 0, 0)


def test_a_stuck_task_s_retries_apply_as_for_any_failure(queue, spawn, queue_name):
    # Given a task stuck in C with a 0.5 s limit and one retry
    stuck = queue.options(timeout=0.5, retries=1, retry_delay=0).enqueue(time.sleep, 3600)
    supervisor = spawn(*worker("--queue", queue_name, "--threads", "2", "--processes", "1"))
    # Then each try ends its process once, and the second fails for good
    with pytest.raises(JobFailed, match=r"time limit of 0\.5 s"):
        stuck.result(timeout=15)
    assert supervisor.output().count("is still running 2 s after its time limit") == 2
    assert "retrying" in supervisor.output()

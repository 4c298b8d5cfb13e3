"""A worker that runs plain functions in threads (threads=N), against a real Redis and real worker processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

import yotaq
from yotaq import ConfigurationError, JobFailed, Status
from yotaq.broker import QueueKeys
from yotaq.current import CurrentJob
from yotaq.job import Options
from yotaq.serializer import Task
from yotaq.worker.flight import IDLE_WAIT_S, Flight
from yotaq.worker.task import ReadyTask
from yotaq.worker.threads import ThreadPool
from yotaq.worker.timelimit import TaskRunner

from . import tasks
from .helpers import in_flight_at_most, wait_for


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


def test_a_worker_with_no_supervisor_replaces_its_process_by_itself_when_a_thread_is_stuck_in_c(
    queue, spawn, queue_name, tmp_path
):
    # Given a task stuck in time.sleep with a 1 s limit, and a sibling, in a worker that no supervisor runs
    journal, gate = tmp_path / "journal", tmp_path / "gate"
    stuck = queue.options(timeout=1).enqueue(time.sleep, 3600)
    runner = spawn(*worker("--queue", queue_name, "--threads", "2"))
    wait_for(lambda: stuck.status is Status.ACTIVE, what="the stuck task to start")
    sibling = queue.enqueue(tasks.gated, str(journal), 0, str(gate))
    wait_for(lambda: len(tasks.events(journal, "start")) == 1, what="the sibling to start")
    # Then the stuck task fails 2 s past its limit, and the process runs again in its own place (the same
    # pid, fresh), rather than exit for something else to start one: it runs the sibling again, to its end
    with pytest.raises(JobFailed, match=r"time limit of 1 s"):
        stuck.result(timeout=10)
    wait_for(lambda: len(tasks.events(journal, "start")) == 2, what="the sibling to start again")
    assert {pid for _, pid in tasks.events(journal, "start")} == {runner.popen.pid}
    assert "this worker runs again in a fresh process" in runner.output()
    gate.touch()
    assert sibling.result(timeout=10) is None
    assert queue.enqueue(divmod, 7, 2).result(timeout=10) == (3, 1)
    assert runner.popen.poll() is None


def test_a_stuck_task_s_retries_apply_as_for_any_failure(queue, spawn, queue_name):
    # Given a task stuck in C with a 0.5 s limit and one retry
    stuck = queue.options(timeout=0.5, retries=1, retry_delay=0).enqueue(time.sleep, 3600)
    supervisor = spawn(*worker("--queue", queue_name, "--threads", "2", "--processes", "1"))
    # Then each try ends its process once, and the second fails for good
    with pytest.raises(JobFailed, match=r"time limit of 0\.5 s"):
        stuck.result(timeout=15)
    assert supervisor.output().count("is still running 2 s after its time limit") == 2
    assert "retrying" in supervisor.output()


def test_cancel_reaches_a_function_running_in_a_thread_within_200_ms(queue, spawn, queue_name, tmp_path):
    # Given 4 functions running in 4 threads (Python code: a wait on a gate that never opens)
    journal, gate = tmp_path / "journal", tmp_path / "gate"
    jobs = queue.enqueue_many(tasks.gated, [(str(journal), n, str(gate)) for n in range(4)])
    spawn(*worker("--queue", queue_name, "--threads", "4"))
    wait_for(lambda: len(tasks.events(journal, "start")) == 4, what="4 functions in flight")
    # When one is cancelled
    asked = time.monotonic()
    jobs[1].cancel()
    # Then it stops within the cancel deadline, and the others run on to their end
    wait_for(lambda: jobs[1].status is Status.CANCELLED, timeout=2, what="the cancelled function to stop")
    assert time.monotonic() - asked < 0.2
    gate.touch()
    assert [jobs[n].result(timeout=10) for n in (0, 2, 3)] == [None] * 3
    assert sorted(value for value, _ in tasks.events(journal, "done")) == ["0", "2", "3"]


def test_sigterm_lets_the_n_functions_in_flight_finish_and_gives_back_the_rest(queue, spawn, queue_name, tmp_path):
    journal = tmp_path / "journal"
    queue.enqueue_many(tasks.slow, [(str(journal), n, 1) for n in range(30)])
    runner = spawn(*worker("--queue", queue_name, "--threads", "8"))
    wait_for(lambda: len(tasks.events(journal, "start")) >= 8, what="8 functions in flight")
    runner.signal(signal.SIGTERM)
    assert runner.wait(timeout=10) == 0
    started, finished = tasks.events(journal, "start"), tasks.events(journal, "done")
    assert len(started) == 8 and len(finished) == 8  # every one started ran to its end
    info = queue.info()
    assert (info.done, info.pending, info.active, info.workers) == (8, 22, 0, [])


def test_a_second_signal_gives_back_the_functions_in_flight(queue, spawn, queue_name, tmp_path):
    journal, gate = tmp_path / "journal", tmp_path / "gate"
    queue.enqueue_many(tasks.gated, [(str(journal), n, str(gate)) for n in range(6)])
    runner = spawn(*worker("--queue", queue_name, "--threads", "4"))
    wait_for(lambda: len(tasks.events(journal, "start")) == 4, what="4 functions in flight")
    runner.signal(signal.SIGTERM)
    wait_for(lambda: "SIGTERM: finishing" in runner.output(), what="the first signal to be handled")
    runner.signal(signal.SIGINT)
    assert runner.wait(timeout=10) == 0
    info = queue.info()
    assert (info.done, info.pending, info.active, info.workers) == (0, 6, 0, [])
    assert tasks.events(journal, "done") == []  # interrupted in their threads, not left to run on


def test_a_worker_killed_with_8_functions_in_flight_has_them_all_rerun(queue, spawn, queue_name, tmp_path):
    # Given 8 functions in flight in the 8 threads of a worker killed with kill -9
    journal, gate = tmp_path / "journal", tmp_path / "gate"
    jobs = queue.enqueue_many(tasks.gated, [(str(journal), n, str(gate)) for n in range(8)])
    command = worker("--queue", queue_name, "--threads", "8", "--liveness-timeout", "1")
    doomed = spawn(*command)
    wait_for(lambda: len(tasks.events(journal, "start")) == 8, what="8 functions in flight")
    doomed.signal(signal.SIGKILL)
    # When another worker takes over
    gate.touch()
    spawn(*command)
    # Then every one of them runs again, to its end
    assert [job.result(timeout=20) for job in jobs] == [None] * 8
    done = tasks.events(journal, "done")
    assert sorted(int(value) for value, _ in done) == list(range(8)) and doomed.pid not in {pid for _, pid in done}


def test_a_concurrency_limit_holds_across_threads_and_processes(queue, spawn, queue_name, tmp_path):
    # Given 16 tasks limited to 2 at once, and 2 worker processes of 4 threads each
    journal = tmp_path / "journal"
    for _ in range(2):
        spawn(*worker("--queue", queue_name, "--threads", "4"))
    wait_for(lambda: len(queue.info().workers) == 2, what="both workers to wait for work")
    limited = queue.options(concurrency=2, limit_key="two")
    jobs = limited.enqueue_many(tasks.slow, [(str(journal), n, 0.1) for n in range(16)])
    # Then all run, never more than 2 at once
    assert [job.result(timeout=20) for job in jobs] == [None] * 16
    assert in_flight_at_most(journal) == 2


def test_a_rate_limit_holds_across_threads(queue, spawn, queue_name, tmp_path):
    journal = tmp_path / "journal"
    jobs = queue.options(rate_limit="20/s").enqueue_many(tasks.started_at, [(str(journal),)] * 10)
    spawn(*worker("--queue", queue_name, "--threads", "8"))
    assert [job.result(timeout=10) for job in jobs] == [None] * 10
    starts = sorted(float(value) for value, _ in tasks.events(journal, "start"))
    assert starts[-1] - starts[0] >= 0.3  # one start each 50 ms (one may make up for a late one), not 8 at once


async def nap(path, value, seconds):
    import asyncio

    tasks.note(path, "start", f"c{value}")
    await asyncio.sleep(seconds)
    tasks.note(path, "done", f"c{value}")
    return yotaq.current_job().id


def reports(value):
    yotaq.current_job().set_progress({"mine": value})
    time.sleep(0.2)
    return value


def test_threads_with_concurrency_run_coroutines_on_the_loop_beside_functions_in_threads(
    queue, spawn, queue_name, tmp_path
):
    journal = tmp_path / "journal"
    coroutines = queue.enqueue_many(nap, [(str(journal), n, 0.5) for n in range(12)])
    functions = queue.enqueue_many(tasks.slow, [(str(journal), n, 0.5) for n in range(8)])
    spawn(*worker("--queue", queue_name, "--threads", "4", "--concurrency", "20"))
    assert [job.result(timeout=20) for job in coroutines] == [job.id for job in coroutines]
    assert [job.result(timeout=20) for job in functions] == [None] * 8
    lines = journal.read_text().splitlines()
    running_functions = most = 0
    for line in lines:
        if line.split()[1].isdigit():
            running_functions += 1 if line.startswith("start") else -1
            most = max(most, running_functions)
    assert most <= 4 and in_flight_at_most(journal) > 4  # coroutines beside the threads


def test_an_async_task_runs_in_a_thread_too_and_progress_is_per_task(queue, spawn, queue_name, tmp_path):
    coroutine = queue.enqueue(nap, str(tmp_path / "journal"), 0, 0.1)
    reporting = queue.enqueue_many(reports, [(n,) for n in range(6)])
    spawn(*worker("--queue", queue_name, "--threads", "6"))
    assert coroutine.result(timeout=10) == coroutine.id
    assert [job.result(timeout=10) for job in reporting] == list(range(6))
    assert [job.progress for job in reporting] == [{"mine": n} for n in range(6)]


class Recorder(yotaq.Hook):
    def __init__(self):
        self.before, self.after = [], []

    def before_task(self, job):
        self.before.append(job.id)

    def after_task(self, job, outcome, error, seconds):
        self.after.append((job.id, outcome, type(error).__name__ if error else None))


def test_hooks_are_told_of_each_task_run_in_threads_once(queue, burst_worker):
    recorder = Recorder()
    fine = queue.enqueue_many(time.sleep, [(0.05,)] * 8)
    failing = queue.enqueue(divmod, 1, 0)
    burst_worker(threads=4, hooks=[recorder])
    assert sorted(recorder.before) == sorted(job.id for job in [*fine, failing])
    assert sorted(recorder.after) == sorted(
        [(job.id, "done", None) for job in fine] + [(failing.id, "failed", "ZeroDivisionError")]
    )


def test_a_task_that_raises_system_exit_in_a_thread_fails_alone(queue, spawn, queue_name):
    exits = queue.enqueue(sys.exit, 3)
    after = queue.enqueue_many(tasks.pid, [()] * 4)
    runner = spawn(*worker("--queue", queue_name, "--threads", "2"))
    with pytest.raises(JobFailed) as failed:
        exits.result(timeout=10)
    assert failed.value.type == "SystemExit"
    assert [job.result(timeout=10) for job in after] == [runner.pid] * 4


def test_a_stop_just_as_the_last_task_of_a_worker_with_threads_ends_is_not_an_idle_wait():
    # Given a worker's threads with nothing in flight, as when a stop (a SIGTERM) comes while the worker leases:
    # the loop leases no more and waits for its tasks to end, with IDLE_WAIT_S for timeout
    pool = ThreadPool(2, TaskRunner(None), None, lambda: None, _thread)
    waited = threading.Thread(target=pool.wait, args=(IDLE_WAIT_S,), kwargs={"for_work": False}, daemon=True)
    try:
        waited.start()
        # Then that wait is over at once: nothing can end it, and the stop would wait it out (as the async pool's)
        wait_for(lambda: not waited.is_alive(), timeout=IDLE_WAIT_S / 3, what="the wait with nothing in flight")
    finally:
        pool.close()


PROFILED_WORKER = """
import cProfile, sys, yotaq
def spin():
    while True:
        x = 1
def nap():
    import time
    time.sleep(0.01)
redis = yotaq.connect(sys.argv[1])
queue = yotaq.Queue(redis, sys.argv[2])
queue.options(timeout=0.05).enqueue_many(spin, [()] * 20)
queue.enqueue_many(nap, [()] * 200)
profile = cProfile.Profile()
profile.enable()
yotaq.Worker(redis, [sys.argv[2]], threads=8, burst=True).run()
profile.disable()
print(queue.info().failed, queue.info().done)
"""


def test_a_worker_with_threads_runs_time_limited_tasks_under_a_profiler(redis_url, queue_name):
    # An interruption cleared with PyThreadState_SetAsyncExc(NULL) left CPython's flag for it set, and a
    # profiled thread of CPython 3.11 then looped for ever at its next call: the worker hung
    done = subprocess.run(
        [sys.executable, "-c", PROFILED_WORKER, redis_url, queue_name], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["20", "200"], done.stderr[-2000:]


class CountingCondition(threading.Condition):
    """A condition that counts the wake-ups asked of it."""

    def __init__(self, lock: Any) -> None:
        super().__init__(lock)
        self.wakeups = 0

    def notify(self, n: int = 1) -> None:  # notify_all() calls it too
        self.wakeups += 1
        super().notify(n)


def pool_of(threads: int) -> tuple[ThreadPool, CountingCondition]:
    pool = ThreadPool(threads, TaskRunner(None), None, lambda: None, _thread)
    pool._outcome_ready = counting = CountingCondition(pool._lock)
    return pool, counting


def ready_to(fn: Any, n: int) -> ReadyTask:
    task = Task(f"job-{n}", fn, (), {})
    return ReadyTask(QueueKeys.of("q", 1)[0], b"", task, Options(), CurrentJob(task.id, "q", 0, lambda _: None), 0.0)


def test_a_task_handed_over_but_not_started_is_not_started_once_the_pool_is_closed():
    # Given an idle thread that has just taken a task handed over, and waits for the pool's lock to start it
    pool, _ = pool_of(1)
    ran: list[str] = []
    with pool._lock:
        pool.start(ready_to(lambda: ran.append("ran"), 1))
        wait_for(lambda: pool._inbox.empty(), what="the thread to take the task")
        # When the pool closes then (a second stop signal: the worker gives the task back), as close() does first
        pool._closed = True
    pool.close()
    # Then the task never ran here (it runs again elsewhere, once), and every thread of the pool is done
    assert ran == []
    assert not any(thread.is_alive() for thread in pool._threads)


def test_functions_that_end_while_the_main_thread_is_busy_do_not_wake_it():
    # Given 8 threads, each running a function that waits for the same event
    pool, counting = pool_of(8)
    go = threading.Event()
    try:
        for n in range(8):
            pool.start(ready_to(go.wait, n))
        # When they all end while the main thread is not waiting
        go.set()
        wait_for(lambda: len(pool._outcomes) == 8, timeout=10, what="8 outcomes")
        # Then none of them woke it, and its next wait finds them all at once
        assert counting.wakeups == 0
        pool.wait(30, for_work=False)
        assert len(pool.take()) == 8 and counting.wakeups == 0
    finally:
        pool.close()


def test_the_main_thread_gathers_outcomes_until_enough_have_ended_and_is_woken_once_for_them():
    # Given 12 threads: 8 functions that end together, 4 that run on
    pool, counting = pool_of(12)
    go, later = threading.Event(), threading.Event()
    try:
        for n in range(12):
            pool.start(ready_to(go.wait if n < 8 else later.wait, n))
        # When the main thread waits for one to end, then gathers up to 30 s for 8
        gather = {"for_work": False, "gather_s": 30, "enough": 8}
        waiting = threading.Thread(target=pool.wait, args=(30,), kwargs=gather)
        waiting.start()
        go.set()
        # Then it is back as soon as the 8 have ended, not when the 4 others end (or its 30 s pass)
        waiting.join(timeout=10)
        assert not waiting.is_alive()
        assert len(pool.take()) == 8 and counting.wakeups <= 2  # the first outcome, the eighth
    finally:
        later.set()
        pool.close()


class OutcomeRecorder:
    """Stands in for the TaskHandler that records the outcomes ``Flight`` takes from its threads."""

    def __init__(self) -> None:
        self.ended: list[str] = []

    def end(self, ready: ReadyTask, value: Any, raised: BaseException | None) -> None:
        self.ended.append(ready.task.id)


def test_the_outcomes_of_40_threads_that_ended_together_are_recorded_for_one_lease():
    # Given 40 threads whose functions end together (tasks of one length started together)
    recorder = OutcomeRecorder()
    flight = Flight(recorder, TaskRunner(None), 1, 40, None, _thread)  # type: ignore[arg-type]
    assert flight.threads is not None
    go = threading.Event()
    try:
        for n in range(40):
            flight.threads.start(ready_to(go.wait, n))
        go.set()
        wait_for(lambda: len(flight.threads._outcomes) == 40, timeout=10, what="40 outcomes")
        # When the main thread looks
        flight.wait(30, for_work=False)
        # Then it records them all, for the next lease to acknowledge them and lease for all 40 threads
        assert len(recorder.ended) == 40 and flight.free() == 40
    finally:
        flight.close()


def _thread(target: object, *args: object, name: str) -> threading.Thread:
    """How a pool makes its threads, without a broker to give a connection back to."""
    return threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]

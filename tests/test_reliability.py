"""The promise, tested with real worker processes: nothing lost when workers die, stop or lose Redis."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

import yotaq

from . import tasks
from .helpers import FAST, freeze_first_child, pending_signals, wait_for


@pytest.fixture
def worker(spawn, queue_name):
    def start(*args: str, url: str | None = None):
        return spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST, *args, url=url)

    return start


def test_a_task_whose_worker_is_killed_mid_run_runs_again_on_another_worker(worker, queue, journal):
    # Given a worker in the middle of a task
    doomed = worker()
    queue.enqueue(tasks.slow, str(journal), "t1", 1.0)
    wait_for(lambda: tasks.events(journal, "start"), what="the task to start")
    # When it is killed with SIGKILL and another worker is around
    doomed.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    survivor = worker()
    # Then the survivor runs the task to the end, and nothing is left behind
    [(_, pid)] = wait_for(lambda: tasks.events(journal, "done"), what="the task to run again")
    assert pid == survivor.pid
    assert time.monotonic() - killed_at < 10
    wait_for(lambda: queue.info().done == 1, what="the ack")
    info = queue.info()
    assert (info.pending, info.active, info.redelivered, info.dead) == (0, 0, 1, 0)
    assert [w.id.split(".")[1] for w in info.workers] == [str(survivor.pid)]
    assert "missed its heartbeat: 1 task(s) requeued" in survivor.output()


def test_a_task_that_kills_its_worker_every_time_is_set_aside_after_max_deliveries(worker, queue, journal):
    # Given a poison task among 20 good ones, and workers that are restarted when they die
    poison = queue.enqueue(tasks.kill_own_worker)
    for n in range(20):
        queue.enqueue(tasks.note, str(journal), "done", n)
    workers = [worker(), worker()]
    deadline = time.monotonic() + 60
    # When the workers keep dying on it
    while not (queue.info().dead == 1 and queue.info().done == 20):
        assert time.monotonic() < deadline, "the poison task was not set aside in time"
        workers = [w if w.popen.poll() is None else worker() for w in workers]
        time.sleep(0.05)
    # Then it is on the dead-letter list with the reason (not among the failed), and every other task ran
    [dead] = queue.dead_jobs()
    assert (dead.id, dead.kind) == (poison.id, "dead")
    assert dead.reason == "its worker died while running it 3 times"
    assert queue.failed_jobs() == [] and poison.status is yotaq.Status.DEAD
    assert sorted(int(v) for v, _ in tasks.events(journal, "done")) == list(range(20))
    assert queue.info().pending == 0


def test_sigterm_lets_the_running_task_finish_exits_0_and_loses_nothing(worker, queue, journal):
    # Given a worker busy with the first of five tasks
    for n in range(5):
        queue.enqueue(tasks.slow, str(journal), n, 0.5)
    first = worker()
    wait_for(lambda: tasks.events(journal, "start"), what="the first task to start")
    # When it gets SIGTERM
    first.signal(signal.SIGTERM)
    # Then it finishes that task, exits 0 and holds nothing
    assert first.wait() == 0
    assert [v for v, _ in tasks.events(journal, "done")] == ["0"]
    info = queue.info()
    assert (info.pending, info.active, info.workers) == (4, 0, [])
    # and another worker runs the rest
    second = worker("--burst")
    assert second.wait(30) == 0
    assert sorted(v for v, _ in tasks.events(journal, "done")) == ["0", "1", "2", "3", "4"]


def test_a_second_signal_gives_the_running_task_back_at_the_head_and_exits(worker, queue, journal):
    queue.enqueue(tasks.slow, str(journal), "long", 30)
    queue.enqueue(tasks.slow, str(journal), "next", 0)
    stuck = worker()
    wait_for(lambda: tasks.events(journal, "start"), what="the long task to start")
    stuck.signal(signal.SIGTERM)
    wait_for(lambda: "SIGTERM: finishing the running task" in stuck.output(), what="the first signal to be handled")
    stuck.signal(signal.SIGINT)
    assert stuck.wait(5) == 0
    assert "stopped during job" in stuck.output()
    info = queue.info()
    assert (info.pending, info.active, info.workers) == (2, 0, [])
    [head, _] = [yotaq.serializer.decode(m, None, queue.name) for m in queue.redis.lrange(queue.keys.pending, 0, -1)]
    assert head.args[1] == "long"


def test_sigterm_while_idle_exits_at_once(worker, queue):
    idle = worker()
    wait_for(lambda: queue.info().workers, what="the worker to register")
    started = time.monotonic()
    idle.signal(signal.SIGTERM)
    assert idle.wait(5) == 0
    assert time.monotonic() - started < 0.9  # sooner than one blocking wait (IDLE_WAIT_S)
    assert queue.info().workers == []


def _stopped(pid: int) -> bool:
    """Whether every thread of process ``pid`` is stopped (by SIGSTOP)."""
    threads = list(Path(f"/proc/{pid}/task").iterdir())
    return all((thread / "stat").read_text().rpartition(")")[2].split()[0] == "T" for thread in threads)


def _back_from_the_dead(worker, queue, journal):
    """A worker frozen mid-task long enough to be presumed dead, thawed once another worker has run
    and acknowledged the task, then stopped once it has finished its own copy, tried to acknowledge
    it and beaten again; returns the frozen worker and the other one."""
    frozen = worker()
    gate = journal.with_name("gate")
    queue.enqueue(tasks.gated, str(journal), "t", str(gate))
    wait_for(lambda: tasks.events(journal, "start"), what="the task to start")
    frozen.signal(signal.SIGSTOP)
    wait_for(lambda: _stopped(frozen.pid), what="the worker to be frozen")
    gate.touch()  # the task can end now, in the frozen worker only once it is thawed
    other = worker()
    wait_for(lambda: len(tasks.events(journal, "done")) == 1, what="the other worker to run it")
    wait_for(lambda: queue.info().done == 1, what="the other's ack")
    frozen.signal(signal.SIGCONT)
    wait_for(lambda: len(tasks.events(journal, "done")) == 2, what="the thawed worker to finish its copy")
    # Its next heartbeat, from a thread of its own, and its acknowledgement say what happened to it
    wait_for(
        lambda: "missed its heartbeat deadline" in frozen.output() and "its lease was gone" in frozen.output(),
        what="the thawed worker to beat again and try to acknowledge",
    )
    assert frozen.stop() == 0
    return frozen, other


def test_a_worker_back_from_the_dead_cannot_acknowledge(worker, queue, queue_name, journal):
    frozen, other = _back_from_the_dead(worker, queue, journal)
    # Only one completion counts
    assert f"missed its heartbeat deadline on {queue_name!r} and was presumed dead" in frozen.output()
    assert [pid for _, pid in tasks.events(journal, "done")] == [other.pid, frozen.pid]
    assert (queue.info().done, queue.info().active) == (1, 0)


def test_a_worker_back_from_the_dead_says_its_lease_was_gone(worker, queue, journal):
    frozen, _ = _back_from_the_dead(worker, queue, journal)
    assert "its lease was gone" in frozen.output()


def test_workers_ride_out_a_redis_restart_without_losing_or_repeating_finished_work(
    spawn, own_redis, journal, queue_name
):
    # Given a worker halfway through 20 tasks
    queue = yotaq.Queue(yotaq.connect(own_redis.url), queue_name)
    for n in range(20):
        queue.enqueue(tasks.slow, str(journal), n, 0.1)
    running = spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST, url=own_redis.url)
    wait_for(lambda: len(tasks.events(journal, "done")) >= 5, what="some tasks done")
    # When Redis goes away for a second and comes back
    own_redis.stop()
    with pytest.raises(yotaq.RedisUnavailable):
        queue.enqueue(print, "nowhere")
    time.sleep(1)
    own_redis.start()
    # Then the worker resumes by itself; every task ran exactly once
    wait_for(lambda: queue.info().done == 20, timeout=30, what="all tasks done after the restart")
    done = Counter(v for v, _ in tasks.events(journal, "done"))
    assert sorted(done, key=int) == [str(n) for n in range(20)] and set(done.values()) == {1}
    log = running.output()
    assert log.count("Redis unreachable") == 1 and log.count("Redis is reachable again") == 1
    assert running.stop() == 0
    queue.redis.close()


def test_with_default_settings_a_killed_workers_task_runs_again_within_10_seconds(spawn, queue, queue_name, journal):
    # Given two workers with the default liveness settings, one of them running a task
    workers = {w.pid: w for w in (spawn("-m", "yotaq", "worker", "--queue", queue_name) for _ in range(2))}
    wait_for(lambda: len(queue.info().workers) == 2, what="both workers to register")
    queue.enqueue(tasks.slow, str(journal), "t1", 0.5)
    [(_, pid)] = wait_for(lambda: tasks.events(journal, "start"), what="the task to start")
    # When that one is killed
    workers[pid].signal(signal.SIGKILL)
    killed_at = time.monotonic()
    # Then the other runs the task within 10 s
    [(_, survivor)] = wait_for(lambda: tasks.events(journal, "done"), timeout=10, what="the task to run again")
    assert survivor != pid and time.monotonic() - killed_at < 10


def trained(worker, queue, journal, count=200):
    """A worker that has just run ``count`` very short tasks, so it leases in batches."""
    queue.enqueue_many(tasks.note, [(str(journal), "warm", n) for n in range(count)])
    wait_for(lambda: queue.info().done >= count, what="the warm-up tasks")
    return worker


def test_a_long_task_gives_back_the_batch_waiting_behind_it(worker, queue, journal):
    # Given a worker leasing in batches, and a batch of a long task followed by short ones
    busy = trained(worker(), queue, journal)
    # (the first, short, task is taken alone by the idle worker; the rest then come as one batch)
    batch = [("gate", 0), ("long", 2)] + [(f"short{n}", 0) for n in range(10)]
    _, long, *_ = queue.enqueue_many(tasks.slow, [(str(journal), name, seconds) for name, seconds in batch])
    [(_, pid)] = wait_for(lambda: [e for e in tasks.events(journal, "start") if e[0] == "long"], what="the long task")
    assert pid == busy.pid
    # When another worker is free
    helper = worker()
    # Then it runs the short ones while the long one is still running
    wait_for(lambda: len([e for e in tasks.events(journal, "done") if e[0].startswith("short")]) == 10)
    assert not [e for e in tasks.events(journal, "done") if e[0] == "long"]
    assert {pid for value, pid in tasks.events(journal, "done") if value.startswith("short")} == {helper.pid}
    wait_for(lambda: "is taking long: gave 10 task(s) back" in busy.output(), what="the give-back log")
    long.cancel()  # done with it: the worker stops at teardown without finishing it


def test_a_long_task_does_not_hold_back_the_results_of_the_short_ones_before_it(worker, queue, journal):
    # Given a worker leasing in batches, and a batch of a short task followed by a long one
    trained(worker(), queue, journal)
    batch = [("gate", 0), ("short", 0), ("long", 3)]
    _, short, long = queue.enqueue_many(tasks.slow, [(str(journal), name, seconds) for name, seconds in batch])
    wait_for(lambda: [e for e in tasks.events(journal, "start") if e[0] == "long"], what="the long task")
    # Then the short one's result is there while the long one still runs
    wait_for(lambda: short.status is yotaq.Status.DONE, timeout=2, what="the short task's result")
    assert long.status is yotaq.Status.ACTIVE
    long.cancel()  # done with it: the worker stops at teardown without finishing it


def test_sigterm_gives_back_the_unstarted_rest_of_a_batch(worker, queue, journal):
    # Given a worker leasing in batches, busy with the first task of a batch
    busy = trained(worker(), queue, journal)
    batch = [("gate", 0), ("first", 1)] + [(f"rest{n}", 0) for n in range(20)]
    queue.enqueue_many(tasks.slow, [(str(journal), name, seconds) for name, seconds in batch])
    wait_for(lambda: [e for e in tasks.events(journal, "start") if e[0] == "first"], what="the first task")
    # When it gets SIGTERM, it finishes that task, gives the rest back and exits 0
    busy.signal(signal.SIGTERM)
    assert busy.wait() == 0
    assert [v for v, _ in tasks.events(journal, "done") if not v.isdigit()] == ["gate", "first"]
    assert (queue.info().pending, queue.info().active) == (20, 0)
    # and every one of them runs later
    assert worker("--burst").wait(30) == 0
    assert len([v for v, _ in tasks.events(journal, "done") if v.startswith("rest")]) == 20


def test_the_supervisor_replaces_a_killed_worker_and_its_task_runs_again_at_once(spawn, queue, queue_name, journal):
    # Given a supervisor with two worker processes (default liveness: 7 s), one busy with a task
    supervisor = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--processes", "2")
    wait_for(lambda: len(queue.info().workers) == 2, what="two workers to register")
    queue.enqueue(tasks.slow, str(journal), "t1", 1.0)
    [(_, pid)] = wait_for(lambda: tasks.events(journal, "start"), what="the task to start")
    # When that worker process is killed
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    # Then the task starts again well before the heartbeat would lapse, and the dead process is replaced
    wait_for(lambda: len(tasks.events(journal, "start")) == 2, timeout=10, what="the task to start again")
    assert time.monotonic() - killed_at < 3
    wait_for(lambda: len(queue.info().workers) == 2 and str(pid) not in str(queue.info().workers))
    wait_for(lambda: tasks.events(journal, "done"), what="the task to finish")
    assert "died (exit code -9): restarting it" in supervisor.output()
    assert (queue.info().redelivered, queue.info().done) == (1, 1)
    # and SIGTERM stops them all cleanly
    assert supervisor.stop() == 0
    assert queue.info().workers == []


def test_a_stop_signal_sent_while_a_worker_process_starts_stops_it(spawn, queue_name):
    # Given a supervisor whose worker process is held the moment it is forked, before its own
    # signal handlers are in place
    supervisor = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--processes", "1")
    child = freeze_first_child(supervisor.pid)
    # When the supervisor is told to stop, and has passed the signal on to that process
    supervisor.signal(signal.SIGTERM)
    wait_for(lambda: signal.SIGTERM in pending_signals(child), timeout=5, what="the signal passed on")
    os.kill(child, signal.SIGCONT)
    # Then the worker process stops on it, and so does the supervisor, without killing anything
    assert supervisor.wait(timeout=10) == 0
    assert "did not stop in time" not in supervisor.output()


def test_the_supervisor_enforces_time_limits_while_it_stops(spawn, queue, queue_name, r):
    # Given a supervised worker in a task that no signal stops, past a 1 s time limit
    job = queue.options(timeout=1).enqueue(tasks.ignores_alarm, 3600)
    supervisor = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--processes", "1")
    wait_for(lambda: queue.info().active == 1, timeout=10, what="the task to start")
    # When the supervisor is told to stop (its worker would finish the task first)
    supervisor.signal(signal.SIGTERM)
    # Then it kills the worker 2 s past the limit, not 30 s after the signal, and the task fails by its limit
    assert supervisor.wait(timeout=10) == 0
    assert "stuck past its task's time limit" in supervisor.output()
    assert job.status is yotaq.Status.FAILED and r.hget(queue.keys.deliveries, job.id) is None
    assert queue.info().pending == 0


def test_sigterm_stops_a_worker_that_is_waiting_for_redis_to_come_back(spawn, own_redis, queue_name):
    queue = yotaq.Queue(yotaq.connect(own_redis.url), queue_name)
    waiting = spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST, url=own_redis.url)
    wait_for(lambda: queue.info().workers, what="the worker to register")
    queue.redis.close()
    own_redis.stop()
    wait_for(lambda: "Redis unreachable" in waiting.output(), what="the worker to notice the outage")
    waiting.signal(signal.SIGTERM)
    assert waiting.wait(5) == 0
    assert "could not give tasks back" in waiting.output()


@pytest.mark.parametrize("stage", ["pickling", "unpickling"])
def test_a_second_signal_while_a_result_is_pickled_or_an_argument_unpickled_gives_the_task_back(
    worker, queue, journal, stage
):
    # Given a worker in the middle of pickling a task's result (or unpickling its argument)
    if stage == "pickling":
        job = queue.enqueue(tasks.returns_slow_to_pickle, str(journal), 30)
    else:
        job = queue.enqueue(tasks.takes, tasks.SlowToUnpickle(str(journal), 30))
    busy = worker()
    wait_for(lambda: tasks.events(journal, stage), what=f"the {stage} to begin")
    # When it gets two stop signals, the second once the first is taken in
    busy.signal(signal.SIGTERM)
    wait_for(lambda: "finishing the running task" in busy.output(), what="the first signal to be taken in")
    busy.signal(signal.SIGTERM)
    # Then it exits at once and the job is given back, neither failed nor set aside
    assert busy.wait(5) == 0
    assert job.status is yotaq.Status.PENDING
    info = queue.info()
    assert (info.pending, info.active, info.failed, info.dead, info.workers) == (1, 0, 0, 0, [])


def _name_of(queue, pid):
    [name] = wait_for(lambda: [w.id for w in queue.info().workers if f".{pid}." in w.id], what="the worker to register")
    return name


def test_a_dead_worker_is_found_by_a_worker_of_another_queue_and_its_task_given_back_by_one_of_its_own(
    spawn, queue, queue_name, journal, r
):
    # Given a worker alone on its queue, in a task, and a worker of another queue on the same Redis
    doomed = spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST)
    queue.enqueue(tasks.slow, str(journal), "t1", 30)
    wait_for(lambda: tasks.events(journal, "start"), what="the task to start")
    name = _name_of(queue, doomed.pid)
    finder = spawn("-m", "yotaq", "worker", "--queue", f"{queue_name}-other", *FAST)
    # When the first is killed
    doomed.signal(signal.SIGKILL)
    # Then the other queue's worker finds it dead with its own beat, and forgets it, once for the fleet
    wait_for(lambda: f"worker {name} missed its heartbeat: told the 1 queue" in finder.output(), what="the finding")
    assert r.zscore(queue.broker.fleet(queue.keys).alive, name) is None
    # and a worker that comes to its queue later (no one was there to hear it named) gives back its task,
    # which runs again
    again = spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST)
    wait_for(lambda: len(tasks.events(journal, "start")) == 2, what="the task to run again")
    assert [pid for _, pid in tasks.events(journal, "start")] == [doomed.pid, again.pid]
    assert queue.info().redelivered == 1
    again.signal(signal.SIGTERM)  # (and a second signal: it gives back the task it runs, and stops)
    again.signal(signal.SIGINT)
    assert again.wait() == 0


def test_a_dead_worker_s_task_is_given_back_by_a_worker_of_its_queue_that_hears_it_named(
    spawn, queue, queue_name, journal
):
    # Given two workers of a queue, one in a task
    doomed = spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST)
    queue.enqueue(tasks.slow, str(journal), "t1", 30)
    wait_for(lambda: tasks.events(journal, "start"), what="the task to start")
    name = _name_of(queue, doomed.pid)
    other = spawn("-m", "yotaq", "worker", "--queue", queue_name, *FAST)
    wait_for(lambda: len(queue.info().workers) == 2, what="the second worker to register")
    # When the busy one is killed
    doomed.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    # Then, once its 1 s liveness lapses, the other runs its task again within a beat or so (0.2 s)
    wait_for(lambda: len(tasks.events(journal, "start")) == 2, timeout=10, what="the task to run again")
    assert time.monotonic() - killed_at < 1 + 2 * 0.2 + 0.5
    assert f"worker {name} on {queue_name!r} missed its heartbeat: 1 task(s) requeued" in other.output()
    other.signal(signal.SIGTERM)  # (and a second signal: it gives back the task it runs, and stops)
    other.signal(signal.SIGINT)
    assert other.wait() == 0

"""Scheduled work wakes workers through a marker its script writes, not a poll: a job scheduled while every
worker waits starts on time, and one whose wake-up was lost still starts, within a worker's longest wait."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

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
    first.cancel()  # done with it: the worker stops at teardown without napping the rest of its 5 s
    client.close()


def _calls(client, command: str) -> int:
    return int(client.info("commandstats").get(command, {"calls": 0})["calls"])


def _blocked_clients(client) -> list[str]:
    return [entry["cmd"] for entry in client.client_list() if "b" in entry["flags"]]


def test_an_idle_worker_of_three_queues_costs_redis_under_a_command_a_second(spawn, own_redis, queue_name):
    # Given a worker of three queues on a Redis of this test's own, idle: its queue watcher listens for a
    # change to their pending lists (no command), and its time thread waits in Redis on their markers
    client = yotaq.connect(own_redis.url)
    queues = [f"{queue_name}-{n}" for n in range(3)]
    names = (arg for name in queues for arg in ("--queue", name))
    # (the beat of the defaults, with the look at each queue's workers that ends a start 3.5 s in, not 7)
    liveness = ("--liveness-timeout", "3.5", "--heartbeat-interval", "3")
    spawn("-m", "yotaq", "worker", *names, *liveness, url=own_redis.url)
    wait_for(lambda: _blocked_clients(client) == ["bzpopmin"], timeout=15, what="the time thread's wait in Redis")
    # and done with its start: its first trim (one HSCAN a queue, the next a minute away), then its look at
    # each queue's workers once its beats have been answered for a liveness timeout (lapsed-2.lua: one
    # ZSCORE a queue, as the worker is the only one)
    wait_for(lambda: _calls(client, "cmdstat_zscore") == 3, timeout=15, what="the end of the worker's start")
    # Then over the next 8.5 s (longer than a wait lasted: 8 s) none of those waits ends and begins again,
    # and all the worker sends is its heartbeat: under one command a second
    before = dict(client.info("commandstats"))
    started = time.monotonic()
    time.sleep(8.5)  # the window measured
    after, seconds = dict(client.info("commandstats")), time.monotonic() - started
    sent = {name: stats["calls"] - before.get(name, {"calls": 0})["calls"] for name, stats in after.items()}
    harness = ("cmdstat_info", "cmdstat_client")  # this test's own commands
    sent = {name: calls for name, calls in sent.items() if calls and not name.startswith(harness)}
    assert not {"cmdstat_blmove", "cmdstat_bzpopmin"} & set(sent), sent
    assert sum(sent.values()) / seconds < 1.0, " ".join(f"{name[8:]}={calls}" for name, calls in sorted(sent.items()))
    client.close()


def test_a_stopped_worker_leaves_no_wait_in_redis_behind(own_redis, queue_name):
    import threading

    # Given an idle worker in-process, its main thread and its time thread waiting in Redis
    client = yotaq.connect(own_redis.url)
    worker = yotaq.Worker(client, [queue_name])
    runner = threading.Thread(target=worker.run)
    runner.start()
    wait_for(lambda: sorted(_blocked_clients(client)) == ["blmove", "bzpopmin"], what="the worker's waits")
    # When it is stopped
    worker.stop()
    runner.join(timeout=30)
    # Then no wait of its own is left in Redis (one on the marker would take a wake-up meant for the
    # workers still running, for no one: up to MAX_WAIT_S), and its time thread is done
    assert not runner.is_alive()
    assert _blocked_clients(client) == []
    assert f"yotaq-time-{worker.name}" not in [thread.name for thread in threading.enumerate()]
    client.close()


def test_a_stopped_worker_with_threads_and_two_queues_leaves_no_thread_of_its_own_behind(own_redis, queue_name):
    import threading

    # Given a worker with threads, of two queues (so with queue watchers), that ran a task after a Redis restart
    client = yotaq.connect(own_redis.url)
    queue = yotaq.Queue(client, queue_name)
    worker = yotaq.Worker(client, [queue_name, f"{queue_name}-2"], threads=2)
    runner = threading.Thread(target=worker.run)
    runner.start()
    assert queue.enqueue(divmod, 7, 2).result(timeout=10) == (3, 1)
    own_redis.stop()
    own_redis.start()
    assert queue.enqueue(divmod, 9, 2).result(timeout=10) == (4, 1)
    # When it is stopped
    worker.stop()
    runner.join(timeout=30)
    # Then none of its threads is left: one that ends as the interpreter exits can hang the exit (it can be
    # frozen holding the lock of the redis-py pool its client goes back to, which the exit then waits on)
    assert not runner.is_alive()
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("yotaq-")] == []
    assert _blocked_clients(client) == []
    client.close()


def test_a_job_due_that_only_a_stopping_worker_knew_of_starts_on_time_on_another(own_redis, queue_name, tmp_path):
    import threading

    # Given two idle workers, the first waiting on the queue's marker before the second (Redis serves the
    # longest waiting first)
    client = yotaq.connect(own_redis.url)
    queue = yotaq.Queue(client, queue_name)
    first, second = yotaq.Worker(client, [queue_name]), yotaq.Worker(client, [queue_name])
    runners = [threading.Thread(target=worker.run) for worker in (first, second)]
    for count, runner in enumerate(runners, 1):
        runner.start()
        wait_for(lambda: _blocked_clients(client).count("bzpopmin") == count, what="the time threads' waits")  # noqa: B023
    # When a job is scheduled, whose marker the first one takes (it alone knows the job is due soon),
    # and the first worker stops
    journal = tmp_path / "journal.txt"
    scheduled_at = time.time()
    queue.options(delay=1.5).enqueue(tasks.started_at, str(journal))
    wait_for(lambda: client.zcard(queue.keys.marker) == 0, what="the first worker to take the marker")
    first.stop()
    runners[0].join(timeout=30)
    # Then the second one starts it on time: the first handed over what it knew as it stopped (else the
    # second would have looked only at its next look anyway, LOOK_ANYWAY_S)
    late_s = _started_at(journal) - (scheduled_at + 1.5)
    assert late_s < 0.5 < LOOK_ANYWAY_S, late_s
    second.stop()
    runners[1].join(timeout=30)
    client.close()


class _StopSeen(Exception):
    """What a worker's ``blocked`` callback raises when it sees a stop as its wait is about to begin."""


@pytest.mark.parametrize("wait", ["for work", "for scheduled jobs"])
def test_a_wait_a_stop_kept_from_beginning_leaves_nothing_for_end_wait_to_end(queue, wait):
    # Given a wait in Redis whose ``blocked`` callback sees a stop just as it is told the waiting connection
    named: list[int | None] = []

    def blocked(connection_id: int | None) -> None:
        named.append(connection_id)
        if connection_id is not None:
            raise _StopSeen

    broker = queue.broker
    with pytest.raises(_StopSeen):
        if wait == "for work":
            broker.lease_blocking(queue.keys, "w1", MAX_WAIT_S, blocked)
        else:
            broker.wait_due([queue.keys], MAX_WAIT_S, blocked)
    # Then the callback is told that no connection waits any longer: else the stop's end_wait would try to
    # end, for a second (END_TRIES_S), a wait that never began
    assert len(named) == 2 and named[0] is not None and named[-1] is None


def test_a_queue_watcher_closed_as_it_begins_listening_leaves_no_thread_behind(own_redis, queue_name):
    import threading

    from yotaq.broker import Broker, QueueKeys
    from yotaq.worker.watch import QueueWatcher

    # Given a queue watcher of two queues whose listening thread is connecting (armed just now)
    client = yotaq.connect(own_redis.url)
    watcher = QueueWatcher(Broker(client), [QueueKeys(queue_name), QueueKeys(f"{queue_name}-2")])
    watcher.arm()
    # When the worker stops and closes it at once
    watcher.close()
    # Then its thread is done (a wake-up sent before it subscribed is not waited for) and nothing waits in Redis
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("yotaq-")] == []
    assert _blocked_clients(client) == []
    client.close()


def test_an_idle_worker_of_ten_queues_keeps_one_wait_in_redis_not_one_a_queue(spawn, own_redis, queue_name):
    # Given a worker of ten queues, idle: its time thread waits on the queues' markers
    client = yotaq.connect(own_redis.url)
    queues = [f"{queue_name}-{n}" for n in range(10)]
    spawn("-m", "yotaq", "worker", *(arg for name in queues for arg in ("--queue", name)), url=own_redis.url)
    wait_for(lambda: "bzpopmin" in _blocked_clients(client), timeout=15, what="the time thread's wait")
    # and its queues are watched: a task on the last one runs
    assert yotaq.Queue(client, queues[-1]).enqueue(divmod, 7, 2).result(timeout=10) == (3, 1)
    # Then, idle again, it waits in Redis once, whatever its number of queues: no wait for each queue,
    # which would end and begin again every 30 s (ten queues: a third of a command a second)
    wait_for(lambda: "bzpopmin" in _blocked_clients(client), timeout=15, what="the time thread's wait again")
    assert _blocked_clients(client) == ["bzpopmin"]
    client.close()


def test_a_round_armed_as_work_wakes_the_last_one_is_woken_too(own_redis, queue_name):
    import threading

    from yotaq.broker import Broker, QueueKeys
    from yotaq.worker.watch import QueueWatcher

    # Given a queue watcher of three queues, armed, whose worker arms the next round just as work on one
    # of them wakes this one (a worker with threads arms as soon as it has a free slot again): here, in
    # the midst of the wake-up, as it stops watching the other queues
    client = yotaq.connect(own_redis.url)
    queues = [QueueKeys(f"{queue_name}-{n}") for n in range(3)]
    watcher = QueueWatcher(Broker(client), queues)
    forget, rounds = watcher._watch.forget, []

    def forget_while_the_next_round_is_armed(key):
        forget(key)
        if not rounds:  # the worker, woken, has leased the work and has a slot free again
            client.lpop(queues[1].pending)
            rounds.append(watcher.arm())

    watcher._watch.forget = forget_while_the_next_round_is_armed
    woken = threading.Event()
    watcher.on_work = woken.set
    first = watcher.arm()
    # When work comes
    client.rpush(queues[1].pending, b"x")
    assert woken.wait(5)
    # Then the round armed meanwhile is woken too: its watch of the queues may have been undone (else it
    # would wait, some queues unwatched, until its wait timed out)
    assert rounds and rounds[0] > first and watcher._woken_round >= rounds[0]
    watcher.close()
    client.close()


@contextlib.contextmanager
def _idle_worker_of_three_queues(own_redis, queue_name):
    """An in-process worker of three queues, idle once it ran a task and its queue watcher's reads are
    tracked: (its client, the queues, the tracked reader's CLIENT LIST entry). Stopped at the end."""
    import threading

    client = yotaq.connect(own_redis.url)
    queues = [yotaq.Queue(client, f"{queue_name}-{n}") for n in range(3)]
    worker = yotaq.Worker(client, [queue.name for queue in queues])
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        assert queues[2].enqueue(divmod, 7, 2).result(timeout=10) == (3, 1)
        [reader] = wait_for(lambda: [c for c in client.client_list() if "t" in c["flags"]], what="the tracked reader")
        yield client, queues, reader
    finally:
        worker.stop()
        runner.join(timeout=30)
        client.close()


@pytest.mark.parametrize("end", ["killed", "timed out by Redis"])
def test_a_worker_of_three_queues_whose_reader_connection_ended_still_sees_work(
    own_redis, queue_name, monkeypatch, end
):
    from yotaq.broker import watch

    # (30 s: the test would wait that long for the keepalive; longer than Redis's timeout below, which it would
    # otherwise keep from closing the reader)
    monkeypatch.setattr(watch, "KEEPALIVE_S", 2.0)
    # Given an idle worker of three queues, its queue watcher's tracked reads done
    with _idle_worker_of_three_queues(own_redis, queue_name) as (client, queues, reader):
        # When the connection its reads are tracked on ends, which tells its listener nothing: killed, or
        # closed by Redis as idle (a reader sends nothing while its lists wait; the listener, subscribed, is
        # never closed so)
        if end == "killed":
            client.client_kill_filter(_id=reader["id"])
        else:
            client.config_set("timeout", 1)
        try:
            wait_for(lambda: reader["id"] not in [c["id"] for c in client.client_list()], what="the reader's end")
            # Then a task on each queue still runs (no tracking left: nothing would ever wake the worker)
            for queue in queues:
                assert queue.enqueue(divmod, 9, 2).result(timeout=5) == (4, 1)
        finally:
            client.config_set("timeout", 0)


def test_an_idle_worker_of_three_queues_on_a_redis_evicting_tracked_keys_does_not_read_them_in_a_loop(
    own_redis, queue_name
):
    # Given an idle worker of three queues, its queue watcher's reads tracked
    with _idle_worker_of_three_queues(own_redis, queue_name) as (client, queues, _):
        # When Redis tracks fewer keys than it watches: each read of one evicts another from the table,
        # which Redis tells the listener of as a change of it (tracking-table-max-keys)
        client.config_set("tracking-table-max-keys", 1)
        try:
            before, started = _calls(client, "cmdstat_lindex"), time.monotonic()
            time.sleep(3)  # the window measured
            rate = (_calls(client, "cmdstat_lindex") - before) / (time.monotonic() - started)
            # Then it does not read them again in a loop as fast as Redis answers (10,000 reads a second)
            assert rate < 10, rate
            # and a task on each queue still runs
            for queue in queues:
                assert queue.enqueue(divmod, 9, 2).result(timeout=20) == (4, 1)
        finally:
            client.config_set("tracking-table-max-keys", 0)

"""A reply lost on the way back from Redis, after Redis applied the command: the client's retry must not
run a task twice, and a worker must not lose the tasks a lease it never heard back from took."""

from __future__ import annotations

import asyncio

import pytest
import redis

import yotaq
from yotaq.broker import commands
from yotaq.broker.scripts import SOURCES

from . import tasks
from .helpers import wait_for
from .proxy import reply_dropper


@pytest.fixture
def proxy(redis_url):
    with reply_dropper(redis_url) as started:
        yield started


@pytest.fixture
def proxied_queue(proxy, queue_name):
    client = yotaq.connect(proxy.url)
    yield yotaq.Queue(client, queue_name)
    client.close()


def _pending(r, queue_name):
    return r.llen(f"{{yotaq:{queue_name}}}:pending")


def test_an_enqueue_retried_after_a_lost_reply_enqueues_once(
    proxy, proxied_queue, r, queue_name, burst_worker, tmp_path
):
    journal = tmp_path / "journal.txt"
    # Given a connection that loses the reply to the enqueue (its push script's, which Redis knows), after
    # Redis applied it
    r.script_load(SOURCES["push"])
    proxy.drop_next_reply_to(b"EVALSHA")
    # When the producer's enqueue tries again and succeeds
    job = proxied_queue.enqueue(tasks.note, str(journal), "ran", 1)
    # Then the job is on the queue once, and runs once
    assert proxy.dropped.is_set()
    assert _pending(r, queue_name) == 1
    assert r.hget(proxied_queue.keys.stats, "pushed_again") == b"1"  # the try again found the first's trace
    assert job.status == yotaq.Status.PENDING
    burst_worker()
    assert [value for value, _ in tasks.events(journal, "ran")] == ["1"]
    assert job.result(timeout=5) is None


@pytest.mark.parametrize("enqueue_option", [{"job_id": "chosen"}, {"delay": 0.01}])
def test_an_enqueue_with_options_retried_after_a_lost_reply_enqueues_once(
    proxy, proxied_queue, r, queue_name, burst_worker, tmp_path, enqueue_option
):
    journal = tmp_path / "journal.txt"
    proxy.drop_next_reply_to(b"EVALSHA")
    job = proxied_queue.options(**enqueue_option).enqueue(tasks.note, str(journal), "ran", 1)
    assert proxy.dropped.is_set()
    burst_worker()  # it waits for a scheduled job's time, and runs it
    assert job.status == yotaq.Status.DONE
    assert [value for value, _ in tasks.events(journal, "ran")] == ["1"]


def test_a_bulk_enqueue_retried_after_a_lost_reply_enqueues_each_once(proxy, proxied_queue, r, queue_name):
    proxy.drop_next_reply_to(b"RPUSH")
    jobs = proxied_queue.enqueue_many(tasks.pid, [()] * 50)
    assert proxy.dropped.is_set()
    assert _pending(r, queue_name) == 50
    assert {job.status for job in jobs} == {yotaq.Status.PENDING}


def test_a_push_tried_again_after_its_job_already_ran_pushes_nothing(queue, r, queue_name, tmp_path):
    # Given a job whose first push went through and which a worker ran before the producer's next try
    journal = tmp_path / "journal.txt"
    job = queue.enqueue(tasks.note, str(journal), "ran", 1)
    message = r.lindex(f"{{yotaq:{queue_name}}}:pending", 0)
    yotaq.Worker(r, [queue_name], burst=True).run()
    assert job.result(timeout=5) is None
    # When the producer's next try (what it sends after a lost reply) comes now
    for script_keys, args in commands.push_again_scripts(queue._shard(job.id), [job.id], [message]):
        assert queue.broker._scripts.push(script_keys, args) == 0
    # Then nothing is pushed, and the job keeps its outcome
    assert _pending(r, queue_name) == 0
    assert job.status == yotaq.Status.DONE


def test_an_async_enqueue_retried_after_a_lost_reply_enqueues_once(proxy, r, queue_name):
    async def scenario() -> None:
        queue = yotaq.AsyncQueue.from_url(proxy.url, queue_name)
        try:
            proxy.drop_next_reply_to(b"RPUSH")
            job = await queue.enqueue(tasks.pid)
            assert proxy.dropped.is_set()
            assert await job.status() == yotaq.Status.PENDING
        finally:
            await queue.aclose()

    asyncio.run(scenario())
    assert _pending(r, queue_name) == 1


async def sleeps_then_notes(path: str, value: str, seconds: float) -> None:
    tasks.note(path, "start", value)
    await asyncio.sleep(seconds)
    tasks.note(path, "done", value)


def test_a_lease_whose_reply_is_lost_under_concurrency_runs_every_task(proxy, spawn, queue, queue_name, tmp_path):
    journal = tmp_path / "journal.txt"
    # Given a worker running coroutines at once, busy with a long one
    long = queue.enqueue(sleeps_then_notes, str(journal), "long", 3)
    spawn("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", "4", url=proxy.url)
    wait_for(lambda: tasks.events(journal, "start"), what="the long task to start")
    # When the reply to the lease that takes the next tasks is lost (Redis moved them to the worker's
    # active list; the worker never hears of them)
    proxy.drop_next_reply_with(b"lost-lease-")
    short = [queue.options(job_id=f"lost-lease-{n}").enqueue(tasks.note, str(journal), "short", n) for n in range(3)]
    wait_for(proxy.dropped.is_set, what="the lease's reply to be lost")
    # Then the worker notices, and every task runs while it lives
    assert [job.result(timeout=10) for job in short] == [None] * 3
    assert sorted(value for value, _ in tasks.events(journal, "short")) == ["0", "1", "2"]
    assert long.result(timeout=10) is None


def test_a_push_tried_again_while_its_job_runs_leaves_it_active(queue, r, queue_name):
    job = queue.enqueue(tasks.pid)
    message = r.lindex(f"{{yotaq:{queue_name}}}:pending", 0)
    assert len(queue.broker.ack_and_lease(queue.keys, "w1", [], 1).messages) == 1  # a worker runs it now
    for script_keys, args in commands.push_again_scripts(queue.keys, [job.id], [message]):
        assert queue.broker._scripts.push(script_keys, args) == 0
    assert job.status is yotaq.Status.ACTIVE and _pending(r, queue_name) == 0


@pytest.fixture
def refused_once(queue, monkeypatch):
    """The queue's next enqueue script call fails before it reaches Redis (as a refused connection does),
    and the producer tries again; how many calls were made."""
    script, calls = queue.broker._scripts.enqueue, []

    def enqueue(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise redis.ConnectionError("Connection refused")
        return script(*args, **kwargs)

    monkeypatch.setattr(queue.broker._scripts, "enqueue", enqueue)
    return calls


def test_a_unique_enqueue_whose_first_try_never_reached_redis_is_enqueued_by_the_next(queue, r, refused_once):
    # Given an id whose earlier run's outcome is still kept
    chosen = queue.options(job_id="daily")
    refused_once.append(1)  # this first enqueue goes through at once
    earlier = chosen.enqueue(divmod, 1, 1)
    yotaq.Worker(r, [queue.name], burst=True).run()
    assert earlier.result(timeout=5) == (1, 0)
    # When the next enqueue under it is refused on its first try, then tried again
    refused_once.clear()
    again = chosen.enqueue(divmod, 7, 2)
    # Then the try again enqueues it: the earlier run's outcome is no proof that the first try went through
    assert len(refused_once) == 2 and again.status is yotaq.Status.PENDING
    yotaq.Worker(r, [queue.name], burst=True).run()
    assert again.result(timeout=5) == (3, 1)


def test_a_cancelled_id_enqueued_again_raises_job_id_in_use_on_a_try_again_too(queue, refused_once):
    refused_once.append(1)
    cancelled = queue.options(job_id="report").enqueue(divmod, 1, 1)
    assert cancelled.cancel()
    refused_once.clear()
    with pytest.raises(yotaq.JobIdInUse):
        queue.options(job_id="report").enqueue(divmod, 7, 2)
    assert len(refused_once) == 2

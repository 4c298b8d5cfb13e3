"""``yotaq.AsyncQueue``: the asyncio producer, against a real Redis and real worker processes.

Each test runs its coroutine with ``asyncio.run``; the workers are ``python -m yotaq worker`` children.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib.util
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio

import yotaq
from yotaq.broker.broker import PRODUCER_GIVE_UP_S
from yotaq.serializer import decode
from yotaq.server import free_port

from . import tasks
from .clusters import LocalCluster, LocalSentinel
from .helpers import ROOT, Process, wait_for

SECRET = "s3cret"
run = asyncio.run


async def add(a: int, b: int) -> int:
    await asyncio.sleep(0.01)
    return a + b


async def sleep_for(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "slept"


async def running_loop_id() -> int:
    return id(asyncio.get_running_loop())


def fail(message: str) -> None:
    raise ValueError(message)


async def reports_progress(seconds: float) -> str:
    yotaq.current_job().set_progress({"step": 1, "of": 2})
    await asyncio.sleep(seconds)
    yotaq.current_job().set_progress(1.0)
    return "reported"


# A message from a producer on another Python (authentic: unsigned, to a worker without a secret)
OLD_PYTHON_MESSAGE = b"yq1 3.0 deadjob 0 %d - - garbage" % (time.time() + 3600)


@pytest.fixture
def async_queue(redis_url: str, queue_name: str) -> Iterator[Callable[..., yotaq.AsyncQueue]]:
    """Make an ``AsyncQueue`` on this test's queue, on a client of its own (closed by the coroutine that
    made it, or by ``asyncio.run``'s end: redis.asyncio clients belong to one event loop)."""

    def make(**options: Any) -> yotaq.AsyncQueue:
        return yotaq.AsyncQueue.from_url(redis_url, queue_name, **options)

    yield make


def start_worker(spawn: Callable[..., Process], queue: yotaq.Queue, *args: str, **env: str) -> Process:
    worker: Process = spawn("-m", "yotaq", "worker", "--queue", queue.name, *args, **env)
    wait_for(lambda: queue.info().workers, what="the worker to register")
    return worker


def test_enqueue_result_status_and_info_with_a_real_worker(async_queue, queue, spawn) -> None:
    start_worker(spawn, queue)

    async def scenario() -> None:
        async with async_queue() as aq:
            job = await aq.enqueue(add, 2, 3)
            assert job.queue == queue.name and job == aq.job(job.id)
            assert await job.result(timeout=30) == 5
            assert await job.status() is yotaq.Status.DONE
            assert await aq.job(job.id).result(timeout=1) == 5

            plain = await aq.enqueue(divmod, 7, 2)  # a plain function, too
            assert await plain.result(timeout=30) == (3, 1)

            failing = await aq.options(retries=1, retry_delay=0).enqueue(fail, "boom")
            with pytest.raises(yotaq.JobFailed, match="ValueError: boom"):
                await failing.result(timeout=30)
            assert await failing.status() is yotaq.Status.FAILED

            info = await aq.info()
            assert (info.queue, info.pending, info.done, info.retried, info.failed) == (queue.name, 0, 2, 1, 1)
            assert [worker.id for worker in info.workers] == [worker.id for worker in queue.info().workers]

            unknown = aq.job("never-enqueued")
            assert await unknown.status() is yotaq.Status.NOT_FOUND
            with pytest.raises(yotaq.ResultTimeout):
                await unknown.result(timeout=0.2)

    run(scenario())


def test_many_coroutines_enqueue_and_wait_at_once(async_queue, queue, spawn) -> None:
    start_worker(spawn, queue)

    async def scenario() -> None:
        async with async_queue() as aq:
            jobs = await asyncio.gather(*(aq.enqueue(add, n, n) for n in range(100)))
            bulk = await aq.enqueue_many(add, [(n, 1) for n in range(100)])
            results = await asyncio.gather(*(job.result(timeout=60) for job in [*jobs, *bulk]))
            assert results == [2 * n for n in range(100)] + [n + 1 for n in range(100)]
            assert len({job.id for job in [*jobs, *bulk]}) == 200

    run(scenario())


def test_options_delay_at_and_job_id(async_queue, queue) -> None:
    async def scenario() -> None:
        async with async_queue(retries=2) as aq:
            later = await aq.options(delay=60).enqueue(add, 1, 2)
            assert await later.status() is yotaq.Status.SCHEDULED
            at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
            assert await (await aq.options(at=at).enqueue(add, 1, 2)).status() is yotaq.Status.SCHEDULED

            # A job id of the caller's choosing is unique while the job is unfinished, whoever enqueues it.
            first = await aq.options(job_id="report-42").enqueue(add, 1, 2)
            again = await aq.options(job_id="report-42").enqueue(add, 3, 4)
            assert first == again and first.id == "report-42"
            assert queue.options(job_id="report-42").enqueue(divmod, 1, 2).id == "report-42"
            assert (await aq.info()).pending == 1

            # Options travel in the message, as Queue's do.
            task = decode(queue.redis.lindex(queue.keys.pending, 0), None, queue.name)
            assert task.options == {"retries": 2} and task.args == (1, 2)

            with pytest.raises(yotaq.ConfigurationError, match="unknown option"):
                aq.options(retrys=1)
            with pytest.raises(yotaq.ConfigurationError, match="delay or at"):
                aq.options(delay=1, at=at)
            with pytest.raises(yotaq.ConfigurationError, match="enqueue_many takes no delay"):
                await aq.options(delay=1).enqueue_many(add, [(1, 2)])
            # Every keyword goes to the function, even one named like an option.
            timeout_kw = await aq.enqueue(dict, timeout=5)
            assert decode(queue.redis.lindex(queue.keys.pending, -1), None, queue.name).kwargs == {"timeout": 5}
            assert timeout_kw.id

    run(scenario())


def test_cancel_pending_scheduled_and_running(async_queue, queue, spawn) -> None:
    async def scenario() -> None:
        async with async_queue() as aq:
            # Given a pending and a scheduled job, and no worker yet
            pending = await aq.enqueue(add, 1, 1)
            scheduled = await aq.options(delay=60).enqueue(add, 2, 2)
            # When they are cancelled, then they never run and their results say so
            assert await pending.cancel() is True
            assert await scheduled.cancel() is True
            assert await scheduled.cancel() is False  # nothing left to cancel
            for job in (pending, scheduled):
                assert await job.status() is yotaq.Status.CANCELLED
                with pytest.raises(yotaq.JobCancelled):
                    await job.result(timeout=1)

            # Given a running job, when it is cancelled, then its worker interrupts it
            start_worker(spawn, queue)
            running = await aq.enqueue(sleep_for, 60)
            while await running.status() is not yotaq.Status.ACTIVE:
                await asyncio.sleep(0.05)
            assert await running.cancel() is True
            started = time.monotonic()
            with pytest.raises(yotaq.JobCancelled):
                await running.result(timeout=30)
            while (await aq.info()).active:
                await asyncio.sleep(0.05)
            assert time.monotonic() - started < 10
            assert (await aq.info()).cancelled == 1

    run(scenario())


def test_an_async_queue_and_a_queue_read_each_others_jobs(r, queue_name, async_queue, spawn) -> None:
    # Given a signed queue, a worker with the secret, and both kinds of producer
    queue = yotaq.Queue(r, queue_name, secret=SECRET)
    start_worker(spawn, queue, YOTAQ_SECRET=SECRET)

    async def scenario() -> None:
        async with async_queue(secret=SECRET) as aq:
            # When the async producer enqueues, then the blocking one reads the job, and the other way round
            from_async = await aq.enqueue(add, 20, 22)
            assert queue.job(from_async.id).result(timeout=30) == 42
            assert queue.job(from_async.id).status is yotaq.Status.DONE
            from_sync = queue.enqueue(divmod, 9, 4)
            assert await aq.job(from_sync.id).result(timeout=30) == (2, 1)
            assert await aq.job(from_sync.id).status() is yotaq.Status.DONE

            # Cancelling crosses over too
            later = queue.options(delay=60).enqueue(divmod, 1, 1)
            assert await aq.job(later.id).cancel() is True
            assert later.status is yotaq.Status.CANCELLED

            # And the messages are the same: signed for this queue, refused by another secret
            paused = await aq.options(delay=60).enqueue(add, 1, 2)
            message = r.hget(queue.keys.scheduled_messages, paused.id)
            assert decode(message, SECRET.encode(), queue_name).args == (1, 2)
            with pytest.raises(yotaq.InvalidMessage, match="bad signature"):
                decode(message, b"another secret", queue_name)

        # A reader with another secret refuses the results of either
        async with async_queue(secret="another secret") as other:
            for job_id in (from_async.id, from_sync.id):
                with pytest.raises(yotaq.InvalidMessage, match="bad signature"):
                    await other.job(job_id).result(timeout=1)

    run(scenario())


def test_a_sharded_async_queue_spreads_and_the_shards_must_agree(r, queue_name, async_queue, spawn) -> None:
    queue = yotaq.Queue(r, queue_name, shards=3)

    async def scenario() -> None:
        async with async_queue(shards=3) as aq:
            jobs = await aq.enqueue_many(add, [(n, 0) for n in range(30)])
            jobs.append(await aq.enqueue(add, 30, 0))
            assert (await aq.info()).pending == 31 == queue.info().pending
            per_shard = [r.llen(keys.pending) for keys in queue.shards]
            assert sum(per_shard) == 31 and all(per_shard)
            async with async_queue(shards=2) as other:
                with pytest.raises(yotaq.ConfigurationError, match="3 shard"):
                    await other.enqueue(add, 1, 1)
            start_worker(spawn, queue, "--shards", "3")
            assert await asyncio.gather(*(job.result(timeout=60) for job in jobs)) == list(range(31))

    run(scenario())


def test_eager_runs_coroutines_on_the_callers_loop(queue_name) -> None:
    async def scenario() -> None:
        aq = yotaq.AsyncQueue(redis.asyncio.Redis(), queue_name, eager=True)  # never connects
        assert await (await aq.enqueue(running_loop_id)).result() == id(asyncio.get_running_loop())
        assert await (await aq.enqueue(divmod, 7, 2)).status() is yotaq.Status.DONE
        with pytest.raises(yotaq.JobFailed, match="ValueError: eager"):
            await (await aq.enqueue(fail, "eager")).result()
        assert [await job.result() for job in await aq.enqueue_many(divmod, [(5, 2), (9, 3)])] == [(2, 1), (3, 0)]
        with pytest.raises(yotaq.SerializationError, match="lock"):
            await aq.enqueue(print, threading.Lock())
        await aq.redis.aclose()

    run(scenario())


def test_a_decorated_task_delays_with_its_options_and_reports_progress(async_queue, queue, spawn) -> None:
    async def scenario() -> None:
        async with async_queue() as aq:
            # Given a function decorated by the async queue, and no worker yet
            decorated = aq.task(retries=2)(reports_progress)
            assert isinstance(decorated, yotaq.AsyncTaskFunction) and decorated.__name__ == "reports_progress"
            later = await decorated.options(delay=60, retries=0).delay(0)
            assert await later.status() is yotaq.Status.SCHEDULED
            # When it is delayed, then its message carries the decorator's options, as Queue.task's does
            job = await decorated.delay(1.0)
            assert isinstance(job, yotaq.AsyncJob) and await job.status() is yotaq.Status.PENDING
            task = decode(queue.redis.lindex(queue.keys.pending, 0), None, queue.name)
            assert (task.options, task.args, task.fn.__name__) == ({"retries": 2}, (1.0,), "reports_progress")
            assert await job.progress() is None  # nothing reported yet

            # And a worker runs it: its progress is read awaited, while it runs and after
            start_worker(spawn, queue)
            while (reported := await job.progress()) is None:
                await asyncio.sleep(0.02)
            assert reported == {"step": 1, "of": 2}
            assert await job.result(timeout=30) == "reported"
            assert await job.progress() == 1.0 == queue.job(job.id).progress
            assert await aq.job("never-enqueued").progress() is None

            # Called, a decorated function still runs here
            assert await aq.task(retries=1)(add)(2, 3) == 5

    run(scenario())


def test_periodic_schedules_are_registered_listed_and_removed_from_either_queue(
    r, queue_name, async_queue, spawn
) -> None:
    queue = yotaq.Queue(r, queue_name, shards=3)  # the blocking twin, on the same sharded queue

    async def scenario() -> None:
        async with async_queue(shards=3) as aq:
            # Given schedules registered by the async queue, one with options, one under its default name
            assert await aq.periodic(every=60, name="report")(add) is add
            decorated = aq.task()(divmod)
            assert (
                await aq.options(retries=3).periodic(cron="*/5 * * * *", tz="Europe/Paris", name="cleanup")(decorated)
                is decorated
            )
            await aq.periodic(every=30)(sleep_for)
            # Then either queue lists them, from every shard
            listed = await aq.periodics()
            assert [schedule.name for schedule in listed] == ["cleanup", "report", "tests.test_aio.sleep_for"]
            assert listed == queue.periodics()
            cleanup = listed[0]
            assert (cleanup.cron, cleanup.tz, cleanup.every) == ("*/5 * * * *", "Europe/Paris", None)
            assert cleanup.next_run_ms % 60_000 == 0 and cleanup.next_run_ms > time.time() * 1000

            # A bad schedule is refused before anything is sent
            with pytest.raises(yotaq.ConfigurationError, match="every="):
                aq.periodic()
            with pytest.raises(yotaq.ConfigurationError, match="takes no delay"):
                aq.options(delay=1).periodic(every=1)
            with pytest.raises(yotaq.ConfigurationError, match="periodic schedule name"):
                await aq.periodic(every=1, name="not a name")(add)

            # When they are removed, by either queue, then they are gone
            assert await aq.remove_periodic("report") is True and await aq.remove_periodic("report") is False
            assert queue.remove_periodic("cleanup")
            assert await aq.remove_periodic("tests.test_aio.sleep_for")
            assert await aq.periodics() == [] == queue.periodics()

            # And a schedule registered here is run by the workers, each tick once
            await aq.periodic(every=0.5, name="often")(running_loop_id)
            start_worker(spawn, queue, "--shards", "3")
            while (await aq.info()).done < 2:
                await asyncio.sleep(0.05)
            assert (await aq.info()).failed == 0

    run(scenario())


def test_failed_and_dead_jobs_are_listed_requeued_and_purged(r, queue_name, async_queue, burst_worker, tmp_path):
    queue = yotaq.Queue(r, queue_name, shards=2)

    # Given a job that fails once and a dead one, on a queue of two shards
    async def given() -> str:
        async with async_queue(shards=2) as aq:
            return (await aq.enqueue(tasks.flaky, str(tmp_path / "journal"), 2)).id

    failing_id = run(given())
    queue.broker.push(queue._shard("deadjob"), "deadjob", OLD_PYTHON_MESSAGE)
    burst_worker(shards=2)

    # When the async queue lists and requeues them
    async def when() -> None:
        async with async_queue(shards=2) as aq:
            [failed] = await aq.failed_jobs()
            assert (failed.id, failed.kind) == (failing_id, "failed") and "RuntimeError: try 1 fails" in failed.reason
            [dead] = await aq.dead_jobs()
            assert (dead.id, dead.kind) == ("deadjob", "dead") and "Python 3.0" in dead.reason
            assert (await aq.failed_jobs(), await aq.dead_jobs()) == (queue.failed_jobs(), queue.dead_jobs())

            assert await aq.requeue("dead", [failing_id]) == 0  # not dead: left where it is
            assert await aq.requeue("failed", [failing_id, "unknown"]) == 1
            assert await aq.requeue("dead") == 1  # every dead job
            assert [await aq.job(job_id).status() for job_id in (failing_id, "deadjob")] == [yotaq.Status.PENDING] * 2
            assert await aq.failed_jobs() == [] and await aq.dead_jobs() == []
            with pytest.raises(yotaq.ConfigurationError, match="kind must be 'failed' or 'dead'"):
                await aq.requeue("done")  # type: ignore[arg-type]
            with pytest.raises(yotaq.ConfigurationError, match="invalid job id"):
                await aq.requeue("failed", ["not an id"])

    run(when())
    burst_worker(shards=2)

    # Then the failed one runs again from scratch, the dead one is dead again, and purging forgets them
    async def then() -> None:
        async with async_queue(shards=2) as aq:
            assert await aq.job(failing_id).result(timeout=1) == 2
            assert [job.id for job in await aq.dead_jobs()] == ["deadjob"]
            assert await aq.purge("failed") == 0 and await aq.purge("dead") == 1
            assert await aq.dead_jobs() == [] and (await aq.info()).dead == 0
            with pytest.raises(yotaq.ConfigurationError, match="kind must be 'failed' or 'dead'"):
                await aq.purge("done")  # type: ignore[arg-type]

    run(then())


# -- errors are yotaq's, and the deadline holds -------------------------------------------------------


def test_errors_are_yotaqs(r, redis_url, queue_name, async_queue) -> None:
    async def scenario() -> None:
        async with async_queue() as aq:
            with pytest.raises(yotaq.SerializationError, match="lock"):
                await aq.enqueue(print, threading.Lock())
            assert r.llen(aq.keys.pending) == 0
            r.set(aq.keys.pending, "not a list")  # Redis refuses: WRONGTYPE
            with pytest.raises(yotaq.BrokerError, match="WRONGTYPE"):
                await aq.enqueue(add, 1, 2)
            with pytest.raises(yotaq.BrokerError, match="WRONGTYPE"):
                await aq.info()
            r.delete(aq.keys.pending)  # and the connections stay in step: the next calls read their own replies
            jobs = await asyncio.gather(*(aq.enqueue(add, n, 1) for n in range(20)))
            assert [await job.status() for job in jobs] == [yotaq.Status.PENDING] * 20
            assert (await aq.info()).pending == 20
        decoding = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        with pytest.raises(yotaq.ConfigurationError, match="decode_responses"):
            yotaq.AsyncQueue(decoding, queue_name)
        await decoding.aclose()

    run(scenario())
    with pytest.raises(yotaq.ConfigurationError, match=r"redis\.asyncio"):
        yotaq.AsyncQueue(r, queue_name)  # a blocking client
    with pytest.raises(yotaq.ConfigurationError, match="unknown scheme"):
        yotaq.AsyncQueue.from_url("http://localhost:6379")
    with pytest.raises(yotaq.ConfigurationError, match="bad port"):
        yotaq.AsyncQueue.from_url("redis://localhost:notaport/0")
    with pytest.raises(yotaq.ConfigurationError, match="unknown option"):
        yotaq.AsyncQueue.from_url(redis_url, queue_name, retrys=1)
    with pytest.raises(yotaq.ConfigurationError, match="replicas"):
        yotaq.AsyncQueue.from_url(redis_url, queue_name, replicas=-1)


def test_the_deadline_holds_when_redis_is_down_and_the_loop_runs_on(queue_name) -> None:
    async def scenario() -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.create_task(ticker())
        async with yotaq.AsyncQueue.from_url(f"redis://127.0.0.1:{free_port()}/0", queue_name) as aq:
            for call in (lambda: aq.enqueue(add, 1, 2), aq.info, lambda: aq.job("x").status()):
                started = time.monotonic()
                with pytest.raises(yotaq.RedisUnavailable, match=r"Redis is unavailable: .*\(gave up after 2 s\)"):
                    await call()
                elapsed = time.monotonic() - started
                assert PRODUCER_GIVE_UP_S / 2 < elapsed < PRODUCER_GIVE_UP_S + 1
        ticking.cancel()
        assert ticks > 100  # the event loop went on while the producer waited out the outage

    run(scenario())


def test_the_deadline_holds_when_redis_never_answers(queue_name) -> None:
    # Given a port that accepts connections and never replies (a hung Redis)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"

        async def scenario() -> None:
            async with yotaq.AsyncQueue.from_url(url, queue_name) as aq:
                started = time.monotonic()
                with pytest.raises(yotaq.RedisUnavailable, match="may or may not have gone through"):
                    await aq.enqueue(add, 1, 2)
                assert time.monotonic() - started < PRODUCER_GIVE_UP_S + 1
                started = time.monotonic()
                with pytest.raises(yotaq.RedisUnavailable):  # a result wait: its own wait, plus the outage retry
                    await aq.job("x").result(timeout=1)
                assert time.monotonic() - started < 1 + PRODUCER_GIVE_UP_S + 1

        run(scenario())


def test_replicas_not_there_is_a_connection_error(async_queue) -> None:
    async def scenario() -> None:
        async with async_queue(replicas=1) as aq:  # a Redis without replicas
            # (the last try may be cut short by the deadline instead, while it waits for a replica)
            with pytest.raises(yotaq.RedisUnavailable, match=r"0 of 1 replica|no reply from Redis in time"):
                await aq.enqueue(add, 1, 2)

    run(scenario())


# -- a Redis Cluster and a Sentinel-managed master ----------------------------------------------------


def test_on_a_cluster_and_through_sentinel(
    cluster: LocalCluster, sentinel: LocalSentinel, queue_name: str, spawn: Callable[..., Process]
) -> None:
    for url, options in ((cluster.url, {"shards": 3}), (sentinel.url, {"replicas": 1})):
        queue = yotaq.Queue.from_url(url, queue_name, **options)
        start_worker(spawn, queue, *(f"--{name}={value}" for name, value in options.items()), url=url)

        async def scenario(url: str = url, options: dict[str, int] = options, queue: yotaq.Queue = queue) -> None:
            async with yotaq.AsyncQueue.from_url(url, queue_name, **options) as aq:
                jobs = [await aq.enqueue(add, n, 1) for n in range(10)]
                jobs += await aq.enqueue_many(add, [(n, 2) for n in range(10)])
                assert await asyncio.gather(*(job.result(timeout=60) for job in jobs)) == [
                    *range(1, 11),
                    *range(2, 12),
                ]
                assert (await aq.info()).done == 20 == queue.info().done

        run(scenario())
        queue.close()


# -- the guide's FastAPI app ------------------------------------------------------------------------


def _db(url: str, db: int) -> str:
    base, slash, current = url.rpartition("/")
    return f"{base}/{db}" if slash and current.isdigit() and "://" in base else f"{url.rstrip('/')}/{db}"


@pytest.fixture
def app_url(redis_url: str) -> Iterator[str]:
    """A database of its own (3) for the app's queue 'tasks', emptied before and after."""
    url = _db(redis_url, 3)
    client = yotaq.connect(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def test_the_fastapi_example_through_httpx_asgi_transport(app_url, spawn, monkeypatch) -> None:
    # Given the guide's app (no server: httpx calls it in this process) and a worker on its queue
    monkeypatch.setenv("YOTAQ_REDIS_URL", app_url)
    spec = importlib.util.spec_from_file_location("fastapi_app", ROOT / "docs_src" / "guide" / "fastapi_app.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    start_worker(spawn, yotaq.Queue(yotaq.connect(app_url)), url=app_url)

    async def scenario() -> None:
        app = example.app
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as client,
        ):
            # When a request enqueues a thumbnail, then another reads its result
            response = await client.post("/thumbnails", params={"image": "cat.png", "size": 64})
            assert response.status_code == 202
            job = response.json()["job"]
            response = await client.get(f"/thumbnails/{job}", params={"wait": 30})
            assert response.json() == {"job": job, "status": "done", "thumbnail": "cat.png?size=64"}

            # Many requests at once, each waiting in Redis while the others are served
            posted = await asyncio.gather(
                *(client.post("/thumbnails", params={"image": f"{n}.png"}) for n in range(20))
            )
            ids = [response.json()["job"] for response in posted]
            done = await asyncio.gather(*(client.get(f"/thumbnails/{job}", params={"wait": 30}) for job in ids))
            assert [response.json()["thumbnail"] for response in done] == [f"{n}.png?size=128" for n in range(20)]

            assert (await client.get("/thumbnails/never-enqueued")).status_code == 404
            assert (await client.get("/thumbnails/not an id")).status_code == 404

    run(scenario())

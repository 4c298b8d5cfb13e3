"""Hardening: no input crashes a worker, no job id is lost, a signed message runs once on its own queue,
results cannot be forged, deadlines hold; against a real Redis and real workers."""

from __future__ import annotations

import logging
import os
import pickle
import re
import signal
import subprocess
import time

import dill
import pytest
import redis

import yotaq
from yotaq import Status, outcomes, serializer
from yotaq.worker.task import TaskHandler
from yotaq.worker.timelimit import EXIT_STUCK

from . import tasks
from .helpers import forge, push, wait_for

SECRET = "hardening-secret"


class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("no text for you")


def raises_unprintable():
    raise UnprintableError()


class ExitOnPickle:
    def __reduce__(self):
        raise SystemExit(3)


def returns_unpicklable():
    return ExitOnPickle()


def retries_forever():
    raise yotaq.Retry(delay=float("inf"))


def retries_with_text():
    raise yotaq.Retry(delay="5")


def counted(path, value):
    tasks.note(path, "ran", value)
    return value


# -- a worker goes on, whatever happens after a task started ----------------------------------


@pytest.mark.parametrize(
    "fn, failure",
    [
        (raises_unprintable, "UnprintableError"),
        (returns_unpicklable, "SerializationError"),
        (retries_forever, "ConfigurationError"),
        (retries_with_text, "ConfigurationError"),
    ],
)
def test_a_task_that_breaks_the_worker_s_own_steps_fails_and_the_next_one_runs(queue, burst_worker, fn, failure):
    bad = queue.options(retries=2, retry_delay=0.01).enqueue(fn)
    good = queue.enqueue(divmod, 7, 2)
    worker = burst_worker()
    assert good.result(timeout=5) == (3, 1)
    with pytest.raises(yotaq.JobFailed) as failed:
        bad.result(timeout=5)
    assert failure in (failed.value.type + failed.value.message)
    assert bad.status is Status.FAILED and [job.id for job in queue.failed_jobs()] == [bad.id]
    assert worker.counts["done"] == 1 and worker.counts["failed"] == 1


def test_a_header_field_of_thousands_of_digits_is_set_aside_not_a_crash(queue, burst_worker):
    message = forge(dill.dumps(print)).replace(b" 0 ", b" " + b"9" * 5000 + b" ", 1)
    push(queue, message)
    good = queue.enqueue(divmod, 7, 2)
    burst_worker()
    assert good.result(timeout=5) == (3, 1)
    [dead] = queue.dead_jobs()
    assert dead.id == serializer.invalid_id(message) and "bad header" in dead.reason


def test_options_that_would_break_a_worker_are_refused_at_enqueue(queue):
    for options in ({"result_ttl": float("inf")}, {"result_ttl": float("nan")}, {"result_ttl": 1e-4}):
        with pytest.raises(yotaq.ConfigurationError, match="result_ttl"):
            queue.options(**options)


def test_a_task_that_takes_its_worker_down_is_given_back_counting_a_delivery(queue, r, queue_name, monkeypatch):
    job = queue.enqueue(divmod, 7, 2)
    worker = yotaq.Worker(r, [queue_name], burst=True)

    def broken(*args, **kwargs):
        raise yotaq.BrokerError("simulated: Redis refused the outcome")

    monkeypatch.setattr(TaskHandler, "_run", broken)  # the task's step itself fails ...
    monkeypatch.setattr(TaskHandler, "_fail", broken)  # ... and so does recording that
    with pytest.raises(yotaq.BrokerError):
        worker.run()
    assert int(r.hget(queue.keys.deliveries, job.id)) == 1
    assert queue.info().pending == 1 and job.status is Status.PENDING


# -- job ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize("job_id", ["café", "\U0001f600", "a\x00b", "a\x1bb", "a\x7fb", "a\u200bb", "x" * 201])
def test_a_job_id_a_worker_could_not_read_back_is_refused_at_enqueue(queue, job_id):
    with pytest.raises(yotaq.ConfigurationError, match="job id"):
        queue.options(job_id=job_id)


# -- a signed message runs once, on its own queue ----------------------------------------------


def test_a_replayed_signed_message_does_not_run_again_on_its_queue_or_another(r, queue_name, tmp_path, burst_worker):
    # Given a signed job that ran, and a copy of its message taken while it was pending
    journal = str(tmp_path / "journal")
    queue = yotaq.Queue(r, queue_name, secret=SECRET)
    other = yotaq.Queue(r, f"{queue_name}-other", secret=SECRET)
    job = queue.enqueue(counted, journal, "pay-bob-100")
    [message] = r.lrange(queue.keys.pending, 0, -1)
    burst_worker(secret=SECRET)
    assert job.result(timeout=5) == "pay-bob-100"
    # When the copy is pushed again three times on its queue, and once on another queue (its state forged too)
    r.rpush(queue.keys.pending, message, message, message)
    r.rpush(other.keys.pending, message)
    r.hset(other.keys.state, job.id, "pending")
    burst_worker(secret=SECRET)
    yotaq.Worker(r, [other.name], secret=SECRET, burst=True).run()
    # Then it ran once, the copies are set aside with why, and the job's own result is untouched
    assert len(tasks.events(tmp_path / "journal", "ran")) == 1
    assert {dead.reason.split(":")[0] for dead in queue.dead_jobs()} == {"its job is not pending on this queue"}
    [elsewhere] = other.dead_jobs()
    assert elsewhere.reason.startswith("bad signature") and elsewhere.id == serializer.invalid_id(message)
    assert job.result(timeout=1) == "pay-bob-100" and job.status is Status.DONE
    r.delete(*r.scan_iter(match=f"{{yotaq:{other.name}}}:*"))


def test_copies_leased_in_one_batch_are_leased_once_as_their_job(r, queue_name):
    # Given a pending job's message twice on its queue, and a plain one after them
    queue = yotaq.Queue(r, queue_name, secret=SECRET)
    original = queue.enqueue(divmod, 7, 2)
    [message] = r.lrange(queue.keys.pending, 0, -1)
    r.rpush(queue.keys.pending, message)
    other = queue.enqueue(divmod, 9, 2)
    # When one lease takes all three
    leases = yotaq.Worker(r, [queue_name]).broker.ack_and_lease(queue.keys, "w1", [], 10)
    # Then the copy is leased as not pending (to be set aside unrun), the others as their jobs, now active
    assert len(leases.messages) == 3 and leases.unknown == [1]
    assert original.status is Status.ACTIVE and other.status is Status.ACTIVE


def test_a_copy_pushed_while_its_job_is_pending_runs_once(r, queue_name, tmp_path, burst_worker):
    queue = yotaq.Queue(r, queue_name, secret=SECRET)
    queue.enqueue(counted, str(tmp_path / "journal"), "once")
    [message] = r.lrange(queue.keys.pending, 0, -1)
    r.rpush(queue.keys.pending, message)  # leased in the same batch as the original
    burst_worker(secret=SECRET)
    assert len(tasks.events(tmp_path / "journal", "ran")) == 1
    assert queue.info().dead == 1


def test_an_expired_message_is_refused(queue, burst_worker):
    parts = forge(dill.dumps(print)).split(b" ", 7)
    parts[4] = b"%d" % (time.time() - 1)  # the header's expires field
    push(queue, b" ".join(parts))
    burst_worker()
    [dead] = queue.dead_jobs()
    assert dead.reason.startswith("expired")


def test_a_worker_without_a_secret_refuses_a_signed_message_unrun(r, queue_name, tmp_path, burst_worker):
    signed = yotaq.Queue(r, queue_name, secret=SECRET)
    job = signed.enqueue(counted, str(tmp_path / "journal"), "x")
    burst_worker()
    assert not (tmp_path / "journal").exists()
    assert yotaq.Queue(r, queue_name).job(job.id).status is Status.DEAD  # as a producer without a secret sees it
    with pytest.raises(yotaq.InvalidMessage, match="unsigned: the worker that recorded it has no secret"):
        _ = job.status  # a producer with one cannot trust an unsigned outcome
    with pytest.raises(yotaq.JobFailed, match="signed message, but this worker has no secret"):
        yotaq.Queue(r, queue_name).job(job.id).result(timeout=1)


# -- results and records that cannot be forged -------------------------------------------------


def test_a_forged_result_is_refused_not_believed(r, queue_name):
    queue = yotaq.Queue(r, queue_name, secret=SECRET)
    job = queue.options(delay=3600).enqueue(print)
    r.hdel(queue.keys.state, job.id)
    forged = b"yr1 failed mallory " + b"0" * 64 + b" " + pickle.dumps(("failed", "Forged", "you were fooled", ""))
    r.rpush(queue.keys.result(job.id), forged)
    with pytest.raises(yotaq.InvalidMessage, match="bad signature"):
        job.result(timeout=1)
    with pytest.raises(yotaq.InvalidMessage, match="bad signature"):
        _ = job.status


def test_unsigned_junk_carrying_a_victim_s_id_never_touches_the_victim(r, queue_name, burst_worker):
    queue = yotaq.Queue(r, queue_name, secret=SECRET)
    victim = queue.options(job_id="victim").enqueue(divmod, 7, 2)
    junk = forge(dill.dumps(print), job_id=b"victim")
    push(queue, junk)  # even with the victim's state in place
    burst_worker(secret=SECRET)
    assert victim.result(timeout=5) == (3, 1) and victim.status is Status.DONE
    [dead] = queue.dead_jobs()  # refused before its signature is even checked (its job was running)
    assert dead.id == serializer.invalid_id(junk)
    assert dead.reason.startswith(("bad signature", "its job is not pending on this queue"))
    assert queue.options(job_id="victim").enqueue(divmod, 1, 1).status is Status.PENDING


def test_records_of_bad_messages_are_one_each(queue, burst_worker):
    for n in range(19):
        push(queue, b"junk %d" % n)
    burst_worker()
    assert len(queue.dead_jobs()) == 19


def test_a_producer_without_a_secret_warns_before_it_unpickles_a_result(queue, burst_worker, caplog):
    job = queue.enqueue(divmod, 7, 2)
    burst_worker()
    outcomes.warn_unsigned.cache_clear()
    with caplog.at_level(logging.WARNING, logger="yotaq.serializer"):
        assert job.result(timeout=5) == (3, 1)
    assert "no secret set" in caplog.text


# -- sizes -----------------------------------------------------------------------------------


def test_a_message_or_result_over_the_limit_says_so(queue, burst_worker, monkeypatch):
    monkeypatch.setattr(serializer, "MAX_MESSAGE_BYTES", 10_000)
    monkeypatch.setattr(outcomes, "MAX_RESULT_BYTES", 10_000)
    with pytest.raises(yotaq.SerializationError, match="over the limit"):
        queue.enqueue(len, b"x" * 20_000)
    job = queue.enqueue(bytes, 20_000)
    burst_worker()
    with pytest.raises(yotaq.JobFailed, match="over the limit") as failed:
        job.result(timeout=5)
    assert failed.value.type == "SerializationError" and job.status is Status.FAILED


# -- deadlines -------------------------------------------------------------------------------


@pytest.mark.parametrize("make_client", [yotaq.connect, redis.Redis.from_url], ids=["yotaq's", "plain"])
def test_enqueue_to_a_frozen_redis_gives_up_within_its_deadline_and_says_it_may_have_landed(own_redis, make_client):
    # A plain client has no socket timeout, and redis-py's own retries with backoff
    queue = yotaq.Queue(make_client(own_redis.url), "frozen")
    queue.enqueue(print)  # connected
    os.kill(own_redis.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(yotaq.RedisUnavailable, match="may or may not have gone through"):
            queue.enqueue(print)
        assert time.monotonic() - started < 3.5
    finally:
        os.kill(own_redis.process.pid, signal.SIGCONT)


def test_a_result_wait_with_a_plain_client_ends_within_its_timeout(redis_url, queue_name):
    plain = redis.Redis.from_url(redis_url, socket_timeout=1)  # shorter than a wait slice
    job = yotaq.Queue(plain, queue_name).enqueue(print)
    started = time.monotonic()
    with pytest.raises(yotaq.ResultTimeout):
        job.result(timeout=3)
    assert 3 <= time.monotonic() - started < 4.5
    plain.close()


def test_the_first_result_after_a_redis_restart_is_read(own_redis):
    client = yotaq.connect(own_redis.url)
    queue = yotaq.Queue(client, "restart")
    job = queue.enqueue(divmod, 7, 2)
    yotaq.Worker(client, ["restart"], burst=True).run()
    own_redis.stop()
    own_redis.start()
    assert job.result(timeout=5) == (3, 1)


def test_a_malformed_result_is_an_invalid_message(queue):
    job = queue.options(delay=3600).enqueue(print)
    queue.redis.rpush(queue.keys.result(job.id), b"yr1 done")
    with pytest.raises(yotaq.InvalidMessage, match="not a yotaq result"):
        job.result(timeout=1)


# -- processes -------------------------------------------------------------------------------


def swallows_everything():
    while True:
        try:  # noqa: SIM105 - spelled out: a task that swallows everything
            time.sleep(60)
        except BaseException:
            pass


def test_a_task_that_swallows_its_time_limit_ends_its_worker_and_counts_a_delivery(queue, spawn, queue_name, r):
    # Given a task that swallows even BaseException, with a time limit
    job = queue.options(timeout=0.3).enqueue(swallows_everything)
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name)
    # Then its worker exits, still registered and holding the task: a reaper gives it back and
    # counts a delivery, as for any task that takes its worker down
    assert worker.wait(timeout=15) == EXIT_STUCK
    assert "ignored its time limit" in worker.output()
    [registered] = queue.info().workers
    assert r.llen(queue.keys.active(registered.id)) == 1
    reaped = yotaq.worker.reap(queue.broker, queue.keys, registered.id, 3, None, force=True)
    assert reaped == (1, 0) and int(r.hget(queue.keys.deliveries, job.id)) == 1


def test_the_workers_of_a_supervisor_killed_with_sigkill_stop(queue, spawn, queue_name):
    supervisor = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--processes", "2")
    wait_for(lambda: len(queue.info().workers) == 2, what="two workers")
    children = [re.search(r"\.(\d+)\.s\d+-\d+$", worker.id)[1] for worker in queue.info().workers]
    supervisor.signal(signal.SIGKILL)
    supervisor.wait()

    def gone(pid: str) -> bool:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        return subprocess.run(["ps", "-o", "stat=", "-p", pid], capture_output=True, text=True).stdout.startswith("Z")

    wait_for(lambda: all(gone(pid) for pid in children), timeout=10, what="the orphaned workers to stop")
    assert queue.info().workers == []


def test_status_of_an_unpicklable_return_value_and_its_counts_agree(queue, burst_worker):
    job = queue.enqueue(returns_unpicklable)
    worker = burst_worker()
    assert worker.counts == {"failed": 1} and job.status is Status.FAILED
    info = queue.info()
    assert (info.done, info.failed) == (0, 1)


def test_a_time_limit_and_a_second_signal_reach_a_task_on_a_worker_with_helper_threads(queue, spawn, queue_name, r):
    # A worker watching two queues has watcher threads besides its maintenance ones: the kernel
    # must not hand them the signals meant to interrupt the task in the main thread
    other = f"{queue_name}-other"
    limited = queue.options(timeout=0.5).enqueue(time.sleep, 30)
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--queue", other)
    with pytest.raises(yotaq.JobFailed, match=r"time limit of 0\.5 s"):
        limited.result(timeout=10)
    queue.enqueue(time.sleep, 30)
    wait_for(lambda: queue.info().active == 1, what="the long task to start")
    worker.signal(signal.SIGTERM)
    worker.signal(signal.SIGINT)
    assert worker.wait(timeout=5) == 0
    assert queue.info().pending == 1
    r.delete(*r.scan_iter(match=f"{{yotaq:{other}}}:*"))


def test_a_result_wait_of_timeout_0_on_a_job_not_done_says_so_at_once(queue):
    # Redis before 7.0.8 takes a blocking timeout under 2 ms for 0, "block for ever" (redis/redis#11687):
    # a result wait of timeout=0 waited out the producer's outage retry (2 s), then said Redis was unreachable
    job = queue.enqueue(divmod, 7, 2)
    started = time.monotonic()
    with pytest.raises(yotaq.ResultTimeout):
        job.result(timeout=0)
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("wait", ["wait_due", "lease_blocking"])
def test_a_worker_s_wait_in_redis_of_under_2_ms_still_ends(queue, wait):
    broker, keys, started = queue.broker, queue.keys, time.monotonic()
    if wait == "wait_due":
        assert broker.wait_due([keys], 0.0005) is None
    else:
        assert broker.lease_blocking(keys, "host.1.ab", 0.0005).messages == []
    assert time.monotonic() - started < 0.5

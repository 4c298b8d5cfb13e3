"""An in-process worker in burst mode against a real Redis."""

import json
import logging

import dill
import pytest

import yotaq
from yotaq import ConfigurationError, ResultTimeout, Status
from yotaq.keys import QueueKeys
from yotaq.scripts import Scripts

from . import tasks
from .helpers import forge

RESULTS = "yotaq-test:results"


def record(r_url, value):
    import redis

    client = redis.Redis.from_url(r_url)
    client.rpush(RESULTS + r_url, value)
    client.close()


@pytest.fixture
def results(r, redis_url):
    key = RESULTS + redis_url
    r.delete(key)
    yield lambda: [int(v) for v in r.lrange(key, 0, -1)]
    r.delete(key)


def test_a_worker_runs_every_task_once_in_order_and_empties_the_queue(queue, burst_worker, results, redis_url, r):
    for n in range(10):
        queue.enqueue(record, redis_url, n)
    worker = burst_worker()
    assert results() == list(range(10))
    assert worker.counts == {"done": 10}
    info = queue.info()
    assert (info.pending, info.active, info.done, info.failed, info.dead, info.workers) == (0, 0, 10, 0, 0, [])
    assert r.hlen(queue.keys.deliveries) == 0


def test_a_worker_leases_and_acknowledges_through_a_connection_of_its_own(queue, burst_worker, r):
    """Not one handed out by the pool for each command (see ``ThreadClients``)."""
    queue.enqueue(print, 1)
    worker = burst_worker()
    _, own = worker._clients._local.own  # the main loop's client, still connected
    host, port = own.connection._sock.getsockname()[:2]
    [client] = [c for c in r.client_list() if c["addr"] == f"{host}:{port}"]
    assert client["cmd"] == "evalsha"  # the script that acknowledged the task (and leased none)


def explode(message):
    raise RuntimeError(message)


def test_a_task_that_raises_is_logged_counted_and_set_aside_and_the_worker_goes_on(
    queue, burst_worker, results, redis_url, caplog
):
    failing = queue.enqueue(explode, "boom")
    queue.enqueue(record, redis_url, 1)
    with caplog.at_level(logging.ERROR, logger="yotaq.worker"):
        worker = burst_worker()
    assert results() == [1]
    assert worker.counts == {"failed": 1, "done": 1}
    assert f"job {failing.id} failed" in caplog.text and "RuntimeError: boom" in caplog.text
    info = queue.info()
    assert (info.done, info.failed, info.dead) == (1, 1, 1)
    [dead] = queue.dead_jobs()
    assert dead.id == failing.id
    assert "Traceback" in dead.reason and "RuntimeError: boom" in dead.reason


def test_a_task_calling_sys_exit_does_not_stop_the_worker(queue, burst_worker, results, redis_url):
    queue.enqueue(exit, 3)
    queue.enqueue(record, redis_url, 2)
    worker = burst_worker()
    assert results() == [2]
    assert worker.counts == {"failed": 1, "done": 1}


BAD_MESSAGES = {
    "garbage bytes": (b"\xff\xfe not a message at all", "not a yotaq message"),
    "truncated dill": (forge(dill.dumps(print))[:-5], "cannot rebuild the task"),
    "dill of the wrong shape": (forge(dill.dumps(print), dill.dumps(["print", 1])), "malformed task"),
    "function cannot be rebuilt": (forge(b"cno_such_module_for_yotaq\nfn\n."), "ModuleNotFoundError"),
    "another python minor version": (forge(dill.dumps(print), version=b"3.99"), "enqueued by Python 3.99"),
    "an id that is not ascii": (forge(dill.dumps(print), job_id=b"\xff\xfe"), "bad job id"),
    "an unknown option": (forge(dill.dumps(print), dill.dumps(((), {}, {"colour": "red"}))), "unknown option"),
}


@pytest.mark.parametrize("kind", BAD_MESSAGES)
def test_a_bad_message_is_set_aside_with_its_reason_and_the_worker_carries_on(
    kind, queue, r, burst_worker, results, redis_url
):
    message, reason = BAD_MESSAGES[kind]
    r.rpush(queue.keys.pending, message)
    queue.enqueue(record, redis_url, 7)
    worker = burst_worker()
    assert results() == [7]
    assert worker.counts == {"invalid": 1, "done": 1}
    [dead] = queue.dead_jobs()
    assert reason in dead.reason
    assert r.hget(queue.keys.dead, dead.id) == message
    assert json.loads(r.hget(queue.keys.dead_reasons, dead.id))["reason"] == dead.reason
    info = queue.info()
    assert (info.pending, info.active, info.invalid, info.dead) == (0, 0, 1, 1)


def test_dead_tasks_can_be_requeued_or_purged(queue, burst_worker):
    first = queue.enqueue(explode, "one")
    queue.enqueue(explode, "two")
    burst_worker()
    assert queue.requeue_dead([first.id, "no-such-id"]) == 1
    assert queue.info().pending == 1 and len(queue.dead_jobs()) == 1
    assert queue.requeue_dead() == 1
    assert queue.info().pending == 2 and queue.dead_jobs() == []
    burst_worker()
    assert queue.purge_dead() == 2
    assert queue.dead_jobs() == [] and queue.info().dead == 0


def test_a_requeued_task_is_pending_again_and_its_new_result_is_returned(queue, burst_worker, r, tmp_path):
    journal = tmp_path / "journal"
    job = queue.enqueue(tasks.flaky, str(journal), 2, job_id="nightly-report")
    burst_worker()
    assert job.status is Status.FAILED
    assert queue.requeue_dead() == 1
    # The failure it was set aside with is gone: it reads as pending and waiting for it waits.
    assert job.status is Status.PENDING
    with pytest.raises(ResultTimeout):
        job.result(timeout=0.1)
    # Pending again, its id is unique again: the same id is not enqueued twice.
    assert queue.enqueue(tasks.flaky, str(journal), 2, job_id="nightly-report") == job
    assert r.llen(queue.keys.pending) == 1
    burst_worker()
    assert job.result(timeout=1) == 2 and job.status is Status.DONE
    # Not dead any more: requeueing it again changes nothing, and its result stays.
    assert queue.requeue_dead([job.id]) == 0 and job.result(timeout=1) == 2
    assert not r.exists(queue.keys.unique(job.id))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"queues": []}, "queues"),
        ({"queues": "tasks"}, "queues"),
        ({"queues": ["a b"]}, "invalid queue name"),
        ({"liveness_timeout": -1}, "liveness_timeout"),
        ({"liveness_timeout": 0}, "liveness_timeout"),
        ({"heartbeat_interval": -0.5}, "heartbeat_interval"),
        ({"heartbeat_interval": 10, "liveness_timeout": 5}, "shorter than"),
        ({"max_deliveries": 0}, "max_deliveries"),
        ({"name": "has space"}, "invalid worker name"),
        ({"secret": ""}, "secret"),
    ],
)
def test_invalid_settings_raise_at_construction(r, options, message):
    with pytest.raises(ConfigurationError, match=message):
        yotaq.Worker(r, **options)


def test_a_worker_without_a_secret_warns_once_that_anyone_who_can_write_to_redis_can_run_code(burst_worker, caplog):
    with caplog.at_level(logging.WARNING, logger="yotaq.worker"):
        burst_worker()
    assert caplog.text.count("anyone who can write to this Redis can run code here") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="yotaq.worker"):
        burst_worker(secret="s3cret")
    assert "anyone who can write" not in caplog.text


SECRET = "s3cret"


def test_a_worker_with_a_secret_runs_signed_tasks_and_sets_aside_unsigned_and_tampered_ones(
    r, queue_name, burst_worker, results, redis_url
):
    signed = yotaq.Queue(r, queue_name, secret=SECRET)
    unsigned = yotaq.Queue(r, queue_name)
    signed.enqueue(record, redis_url, 1)
    unsigned_job = unsigned.enqueue(record, redis_url, 2)
    tampered = r.lindex(signed.keys.pending, 0)[:-1] + b"!"
    r.rpush(signed.keys.pending, tampered)
    worker = burst_worker(secret=SECRET)
    assert results() == [1]
    assert worker.counts == {"done": 1, "invalid": 2}
    reasons = {job.id: job.reason for job in signed.dead_jobs()}
    assert reasons[unsigned_job.id] == "bad signature: unsigned message"
    assert sorted(reasons.values()) == ["bad signature: signature does not match", "bad signature: unsigned message"]


class _CreatesDirectory:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import os

        return (os.mkdir, (self.path,))


def test_a_malicious_pickle_is_never_unpickled_by_a_worker_with_a_secret(r, queue, burst_worker, tmp_path):
    # Given a message whose unpickling creates a directory, dressed in a plausible header
    import pickle

    evidence = tmp_path / "pwned"
    r.rpush(queue.keys.pending, forge(pickle.dumps(_CreatesDirectory(str(evidence)))))
    # When a worker with a secret meets it, it is set aside unopened
    burst_worker(secret=SECRET)
    assert not evidence.exists()
    [dead] = queue.dead_jobs()
    assert dead.reason.startswith("bad signature")
    # while a worker without one would have run its code (and then found it malformed)
    queue.requeue_dead()
    burst_worker()
    assert evidence.exists()


def test_ack_finds_each_task_wherever_it_is_then_leases_up_to_n_in_order(r, queue_name):
    keys, scripts = QueueKeys(queue_name), Scripts(r)
    active = keys.active("w1")
    r.rpush(active, b"m1", b"m2", b"m3")
    r.rpush(keys.pending, b"m4", b"m5", b"m6")

    def ack_and_lease(ids, size):
        per_task = [key for job_id in ids for key in (keys.result(job_id), keys.unique(job_id))]
        args = [" ".join(ids), " ".join("60000" for _ in ids), size]
        args += [part for job_id in ids for part in (job_id.replace("id", "m").encode(), b"result-" + job_id.encode())]
        return scripts.ack(keys=[active, keys.pending, keys.deliveries, keys.stats, *per_task], args=args)

    # m2 first (not at the head), then m1 (at the head), then m9, which this worker does not hold
    assert ack_and_lease(["id2", "id1", "id9"], 2) == [[3], [b"m4", b"m5"]]
    assert r.lrange(active, 0, -1) == [b"m3", b"m4", b"m5"] and r.lrange(keys.pending, 0, -1) == [b"m6"]
    assert r.lrange(keys.result("id2"), 0, -1) == [b"result-id2"] and not r.exists(keys.result("id9"))
    assert r.hget(keys.stats, "done") == b"2"
    # m3 at the head, then m5 behind m4: the first is dropped with the head, the second found
    r.hset(keys.deliveries, mapping={"id3": 1, "id5": 1, "id4": 1})
    assert ack_and_lease(["id3", "id5"], 0) == [[], []]
    assert r.lrange(active, 0, -1) == [b"m4"] and r.hkeys(keys.deliveries) == [b"id4"]
    assert r.hget(keys.stats, "done") == b"4"
    # none to acknowledge: the active list is left alone
    assert ack_and_lease([], 5) == [[], [b"m6"]]
    assert r.lrange(active, 0, -1) == [b"m4", b"m6"]

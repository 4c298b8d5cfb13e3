"""An in-process worker in burst mode against a real Redis."""

import logging

import dill
import pytest

import yotaq
from yotaq import ConfigurationError, ResultTimeout, Status, outcomes, serializer
from yotaq.broker.keys import QueueKeys
from yotaq.broker.scripts import Scripts, keys_for

from . import tasks
from .helpers import forge, push, wait_for

RESULTS = "yotaq-test:results"
SECRET = "s3cret"


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
    _, own = worker.broker._own._local.own  # the main loop's client, still connected
    host, port = own.connection._sock.getsockname()[:2]
    [client] = [c for c in r.client_list() if c["addr"] == f"{host}:{port}"]
    assert client["cmd"] == "evalsha"  # the script that acknowledged the task (and leased none)


def explode(message):
    raise RuntimeError(message)


def test_a_task_that_raises_is_logged_counted_and_set_aside_as_failed_and_the_worker_goes_on(
    queue, burst_worker, results, redis_url, caplog
):
    failing = queue.enqueue(explode, "boom")
    queue.enqueue(record, redis_url, 1)
    with caplog.at_level(logging.ERROR, logger="yotaq.worker.loop"):
        worker = burst_worker()
    assert results() == [1]
    assert worker.counts == {"failed": 1, "done": 1}
    assert f"job {failing.id} failed" in caplog.text and "RuntimeError: boom" in caplog.text
    info = queue.info()
    assert (info.done, info.failed, info.dead) == (1, 1, 0)
    # Failed (it raised on its last try), kept apart from the dead (which never ran to the end)
    [failed] = queue.failed_jobs()
    assert (failed.id, failed.kind) == (failing.id, "failed")
    assert "Traceback" in failed.reason and "RuntimeError: boom" in failed.reason
    assert queue.dead_jobs() == []
    assert failing.status is Status.FAILED


def test_a_task_calling_sys_exit_does_not_stop_the_worker(queue, burst_worker, results, redis_url):
    queue.enqueue(exit, 3)
    queue.enqueue(record, redis_url, 2)
    worker = burst_worker()
    assert results() == [2]
    assert worker.counts == {"failed": 1, "done": 1}


FORGED_ID = "0123456789abcdef"  # the job id forge() puts in a header
NOT_PENDING = "its job is not pending on this queue"
# message, the reason it is set aside with, and whether it is authentic enough (a readable header,
# and no signature to check) to be recorded under the job id in its header rather than its own digest
BAD_MESSAGES = {
    # A message without a job id in its header is never pending anywhere, however it was pushed
    "garbage bytes": (b"\xff\xfe not a message at all", NOT_PENDING, False),
    "a bad header": (forge(dill.dumps(print)).replace(b" 0 ", b" x ", 1), "not a yotaq message (bad header)", False),
    "truncated dill": (forge(dill.dumps(print))[:-5], "cannot rebuild the task", True),
    "dill of the wrong shape": (forge(dill.dumps(print), dill.dumps(["print", 1])), "malformed task", True),
    "function cannot be rebuilt": (forge(b"cno_such_module_for_yotaq\nfn\n."), "ModuleNotFoundError", True),
    "another python minor version": (forge(dill.dumps(print), version=b"3.99"), "enqueued by Python 3.99", True),
    # A producer cannot enqueue such an id: it is pending under no id the worker can read back
    "an id that is not ascii": (forge(dill.dumps(print), job_id=b"\xff\xfe"), NOT_PENDING, False),
    "an unknown option": (forge(dill.dumps(print), dill.dumps(((), {}, {"colour": "red"}))), "unknown option", True),
}


def _check_set_aside(queue, r, message, reason, record_id):
    [dead] = queue.dead_jobs()
    assert dead.id == record_id
    assert dead.kind == "dead" and reason in dead.reason
    assert r.hget(queue.keys.messages_of("dead"), dead.id) == message
    at_ms, envelope = r.hget(queue.keys.reasons_of("dead"), dead.id).split(b" ", 1)
    assert int(at_ms) == dead.at_ms
    assert outcomes.result_kind(dead.id, envelope, None, queue.name) == "dead"
    assert outcomes.failure_text(dead.id, envelope, None, queue.name) == dead.reason
    assert queue.failed_jobs() == []
    info = queue.info()
    assert (info.pending, info.active, info.invalid, info.dead, info.failed) == (0, 0, 1, 1, 0)


@pytest.mark.parametrize("kind", BAD_MESSAGES)
def test_a_bad_message_is_set_aside_with_its_reason_and_the_worker_carries_on(
    kind, queue, r, burst_worker, results, redis_url
):
    message, reason, authentic = BAD_MESSAGES[kind]
    push(queue, message)  # as a producer would: judged on its content
    queue.enqueue(record, redis_url, 7)
    worker = burst_worker()
    assert results() == [7]
    assert worker.counts == {"invalid": 1, "done": 1}
    _check_set_aside(queue, r, message, reason, FORGED_ID if authentic else serializer.invalid_id(message))


@pytest.mark.parametrize("kind", [*BAD_MESSAGES, "a good message"])
def test_a_message_pushed_raw_is_set_aside_unrun_as_not_pending_and_the_worker_carries_on(
    kind, queue, r, burst_worker, results, redis_url, tmp_path
):
    # Not enqueued through yotaq (no job pending under its id), it is refused before its content is looked at
    evidence = tmp_path / "ran"
    good = forge(dill.dumps(tasks.note), dill.dumps(((str(evidence), "ran", 1), {}, {})))
    message = good if kind == "a good message" else BAD_MESSAGES[kind][0]
    r.rpush(queue.keys.pending, message)
    queue.enqueue(record, redis_url, 7)
    worker = burst_worker()
    assert results() == [7] and not evidence.exists()
    assert worker.counts == {"invalid": 1, "done": 1}
    _check_set_aside(queue, r, message, NOT_PENDING, serializer.invalid_id(message))


def test_failed_tasks_can_be_requeued_or_purged(queue, burst_worker):
    first = queue.enqueue(explode, "one")
    queue.enqueue(explode, "two")
    burst_worker()
    assert queue.requeue("failed", [first.id, "no-such-id"]) == 1
    assert queue.info().pending == 1 and len(queue.failed_jobs()) == 1
    assert queue.requeue("failed") == 1
    assert queue.info().pending == 2 and queue.failed_jobs() == []
    burst_worker()
    assert queue.purge("failed") == 2
    assert queue.failed_jobs() == [] and queue.info().failed == 0


def test_dead_tasks_can_be_requeued_or_purged(queue, r, burst_worker):
    first, second = forge(dill.dumps(print), job_id=b"dead-1"), forge(dill.dumps(print), job_id=b"dead-2")
    push(queue, first)
    push(queue, second)
    burst_worker(secret=SECRET)  # unsigned: both set aside as dead, under their own digests
    first_id, second_id = serializer.invalid_id(first), serializer.invalid_id(second)
    assert [job.id for job in queue.dead_jobs()] == [first_id, second_id]
    assert {job.reason for job in queue.dead_jobs()} == {"bad signature: unsigned message"}
    assert queue.requeue("dead", [first_id, "no-such-id"]) == 1
    assert queue.info().pending == 1 and len(queue.dead_jobs()) == 1
    assert r.lrange(queue.keys.pending, 0, -1) == [first]
    assert queue.requeue("dead") == 1
    assert queue.info().pending == 2 and queue.dead_jobs() == []
    burst_worker(secret=SECRET)
    assert queue.purge("dead") == 2
    assert queue.dead_jobs() == [] and queue.info().dead == 0
    assert queue.failed_jobs() == []


def test_a_requeued_task_is_pending_again_and_its_new_result_is_returned(queue, burst_worker, r, tmp_path):
    journal = tmp_path / "journal"
    job = queue.options(job_id="nightly-report").enqueue(tasks.flaky, str(journal), 2)
    burst_worker()
    assert job.status is Status.FAILED
    assert queue.requeue("failed") == 1
    # The failure it was set aside with is gone: it reads as pending and waiting for it waits.
    assert job.status is Status.PENDING
    with pytest.raises(ResultTimeout):
        job.result(timeout=0.1)
    # Pending again, its id is unique again: the same id is not enqueued twice.
    assert queue.options(job_id="nightly-report").enqueue(tasks.flaky, str(journal), 2) == job
    assert r.llen(queue.keys.pending) == 1
    burst_worker()
    assert job.result(timeout=1) == 2 and job.status is Status.DONE
    # Not failed any more: requeueing it again changes nothing, and its result stays.
    assert queue.requeue("failed", [job.id]) == 0 and job.result(timeout=1) == 2
    # Finished, it is no longer pending, scheduled or active: its id is free again.
    assert not r.hexists(queue.keys.state, job.id)


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
    with caplog.at_level(logging.WARNING, logger="yotaq.worker.loop"):
        burst_worker()
    assert caplog.text.count("anyone who can write to this Redis can run code here") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="yotaq.worker.loop"):
        burst_worker(secret="s3cret")
    assert "anyone who can write" not in caplog.text


def test_a_worker_with_a_secret_runs_signed_tasks_and_sets_aside_unsigned_and_tampered_ones(
    r, queue_name, burst_worker, results, redis_url
):
    signed = yotaq.Queue(r, queue_name, secret=SECRET)
    unsigned = yotaq.Queue(r, queue_name)
    signed.enqueue(record, redis_url, 1)
    unsigned.enqueue(record, redis_url, 2)
    signed.enqueue(record, redis_url, 3)
    [_, unsigned_message, original] = r.lrange(signed.keys.pending, 0, -1)
    tampered = original[:-1] + b"!"  # the third job's message, tampered with on its way
    r.lset(signed.keys.pending, -1, tampered)
    worker = burst_worker(secret=SECRET)
    assert results() == [1]
    assert worker.counts == {"done": 1, "invalid": 2}
    # Neither can be trusted: each is recorded under its own digest, not the id in its header
    reasons = {job.id: job.reason for job in signed.dead_jobs()}
    assert reasons == {
        serializer.invalid_id(unsigned_message): "bad signature: unsigned message",
        serializer.invalid_id(tampered): "bad signature: signature does not match (or another queue's)",
    }


def test_a_message_refused_for_its_signature_leaves_the_job_it_claims_as_it_found_it(r, queue_name, burst_worker):
    # A message that cannot be authenticated may be anyone's: it is recorded under its own digest,
    # and the job its header names is not the worker's to change (see test_hardening for junk
    # carrying a victim's id). So an unsigned producer's job, refused by workers with a secret,
    # stays pending, with no worker holding it: the fix is to give producers the secret.
    unsigned = yotaq.Queue(r, queue_name)  # a producer that lacks the workers' secret
    job = unsigned.options(job_id="nightly-report").enqueue(print)
    [message] = r.lrange(unsigned.keys.pending, 0, -1)
    burst_worker(secret=SECRET)
    [dead] = unsigned.dead_jobs()
    assert dead.reason == "bad signature: unsigned message" and dead.id == serializer.invalid_id(message)
    assert job.status is Status.PENDING and r.hget(unsigned.keys.state, job.id) == b"pending"
    assert unsigned.info().active == 0 and unsigned.info().pending == 0


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
    message = forge(pickle.dumps(_CreatesDirectory(str(evidence))))
    push(queue, message)
    # When a worker with a secret meets it, it is set aside unopened
    burst_worker(secret=SECRET)
    assert not evidence.exists()
    [dead] = queue.dead_jobs()
    assert dead.reason.startswith("bad signature") and dead.id == serializer.invalid_id(message)
    # while a worker without one would have run its code (and then found it malformed)
    push(queue, message)
    burst_worker()
    assert evidence.exists()


def test_ack_finds_each_task_wherever_it_is_by_its_job_id_then_leases_up_to_n_in_order(r, queue_name):
    keys, scripts = QueueKeys(queue_name), Scripts(r)
    active = keys.active("w1")

    def message(n):
        return b"yq1 3.11 id%d 0 4102444800 - - body%d" % (n, n)

    r.rpush(active, *map(message, (1, 2, 3)))
    r.rpush(keys.pending, *map(message, (4, 5, 6)))
    r.hset(keys.state, mapping={"id1": "active", "id2": "active", "id3": "active"})
    r.hset(keys.state, mapping={"id4": "pending", "id5": "pending", "id6": "pending"})

    def ack_and_lease(ids, size):
        script_keys = [*keys_for("ack", keys, worker="w1"), *(keys.result(job_id) for job_id in ids)]
        shown, believed = "".join(f"w1 3 fn.of.{job_id}\n" for job_id in ids), "\n" * len(ids)  # (no workflow here)
        args = [" ".join(ids), " ".join("60000" for _ in ids), size, 7, shown, believed]
        return scripts.ack(keys=script_keys, args=[*args, *(b"result-" + i.encode() for i in ids)])[:4]

    def state():
        return {job_id.decode(): value.decode() for job_id, value in r.hgetall(keys.state).items()}

    # id2 first (not at the head), then id1 (at the head), then id9, which this worker does not hold
    assert ack_and_lease(["id2", "id1", "id9"], 2) == [[3], [message(4), message(5)], [], []]
    assert r.lrange(active, 0, -1) == [message(3), message(4), message(5)]
    assert r.lrange(keys.pending, 0, -1) == [message(6)]
    assert r.lrange(keys.result("id2"), 0, -1) == [b"result-id2"] and not r.exists(keys.result("id9"))
    assert r.lrange(keys.result("id1"), 0, -1) == [b"result-id1"] and 0 < r.pttl(keys.result("id1")) <= 60000
    assert r.hget(keys.stats, "done") == b"2"
    # this second, and this minute: 2 tasks done, which ran 7 ms in all
    [(second, row), (minute, by_minute)] = sorted(r.hgetall(keys.series).items())
    assert row.split()[1:] == [b"2", b"7"] and int(row.split()[0]) % 3600 == int(second)
    assert by_minute.split()[1:] == [b"2", b"7"] and by_minute.split()[0] == b"m%d" % (int(row.split()[0]) // 60)
    assert minute == b"m%d" % (int(row.split()[0]) // 60 % 1440)
    # and the two are listed as done, for as long as their results are kept, with what is shown of them
    listed = r.zrange(keys.finished("done"), 0, -1, withscores=True)
    assert sorted(job_id for job_id, _ in listed) == [b"id1", b"id2"]
    assert all(0 < expires - int(row.split()[0]) * 1000 <= 61_000 for _, expires in listed)
    assert r.hget(keys.finished_jobs, "id2").split(b" ", 2)[2] == b"w1 3 fn.of.id2"
    assert state() == {"id3": "active", "id4": "active", "id5": "active", "id6": "pending"}
    # id3 at the head, then id5 behind id4: the first is dropped with the head, the second found
    r.hset(keys.deliveries, mapping={"id3": 1, "id5": 1, "id4": 1})
    assert ack_and_lease(["id3", "id5"], 0) == [[], [], [], []]
    assert r.lrange(active, 0, -1) == [message(4)] and r.hkeys(keys.deliveries) == [b"id4"]
    assert r.hget(keys.stats, "done") == b"4"
    assert state() == {"id4": "active", "id6": "pending"}
    # none to acknowledge: the active list is left alone
    assert ack_and_lease([], 5) == [[], [message(6)], [], []]
    assert r.lrange(active, 0, -1) == [message(4), message(6)] and r.llen(keys.pending) == 0
    assert state() == {"id4": "active", "id6": "active"}
    # id1 again (an earlier call went through, its reply lost): reported, nothing changes
    assert ack_and_lease(["id1"], 0) == [[], [], [], [1]]
    assert r.lrange(keys.result("id1"), 0, -1) == [b"result-id1"] and r.hget(keys.stats, "done") == b"4"
    # a message whose job is not pending (no state: pushed raw) is leased all the same, and reported
    r.rpush(keys.pending, message(7), b"no header at all")
    assert ack_and_lease([], 5) == [[], [message(7), b"no header at all"], [1, 2], []]
    assert state() == {"id4": "active", "id6": "active"}


def test_10_000_jobs_are_leased_and_acknowledged_in_chunks_that_luas_unpack_can_hold(queue, r):
    # Lua's unpack() holds about 8,000 values: one script call for 10,000 jobs once failed
    from yotaq.broker import Ack

    jobs = queue.enqueue_many(divmod, [(n, 7) for n in range(10_000)])
    first = queue.broker.ack_and_lease(queue.keys, "w1", [], 10_000)
    assert 0 < len(first.messages) <= 1_000  # a lease call takes a chunk; the worker asks again
    leased = len(first.messages)
    while leased < 10_000:
        leased += len(queue.broker.ack_and_lease(queue.keys, "w1", [], 10_000).messages)
    assert r.llen(queue.keys.active("w1")) == 10_000 and r.llen(queue.keys.pending) == 0
    acks = [Ack(job.id, b"result", 60_000, 1) for job in jobs]
    acks = acks[1::2] + acks[::2]  # mostly not at the head of the active list: found by the script's index
    assert queue.broker.ack_and_lease(queue.keys, "w1", acks, 0).lost == []
    assert r.llen(queue.keys.active("w1")) == 0 and queue.info().done == 10_000
    assert r.hlen(queue.keys.state) == 0 and r.lrange(queue.keys.result(jobs[-1].id), 0, -1) == [b"result"]
    # sent again (as after a reply lost part way), they are found acknowledged already: nothing changes
    assert queue.broker.ack_and_lease(queue.keys, "w1", acks, 0).lost == []
    assert queue.info().done == 10_000


def _waiting_for_work(r) -> bool:
    """A worker's wait for work has begun: blocked in a ``BLMOVE`` (one queue), or its queue watcher's
    reads tracked by Redis (flag ``t``), which then tells it of a change to the pending lists."""
    clients = r.client_list()
    return any(("b" in client["flags"] and client["cmd"] == "blmove") or "t" in client["flags"] for client in clients)


@pytest.mark.parametrize(
    "options",
    [{}, {"queues": 2}, {"concurrency": 2}],
    ids=["one queue (BLMOVE)", "two queues (watcher)", "coroutines (watcher)"],
)
def test_stop_from_another_thread_ends_an_idle_worker_within_a_fraction_of_a_second(r, queue_name, options):
    import threading
    import time

    queues = [queue_name, f"{queue_name}-second"][: options.pop("queues", 1)]
    worker = yotaq.Worker(r, queues, **options)
    runner = threading.Thread(target=worker.run)
    runner.start()
    # Given an idle worker, waiting in Redis for work
    wait_for(lambda: _waiting_for_work(r), what="a wait for work")
    time.sleep(0.2)
    # When another thread stops it
    started = time.monotonic()
    worker.stop()
    runner.join(timeout=30)
    # Then run() returns well within the idle wait, and the worker is gone from Redis
    assert not runner.is_alive()
    assert time.monotonic() - started < 1.0
    assert yotaq.Queue(r, queue_name).info().workers == []


def test_stop_from_another_thread_lets_the_running_task_finish_and_gives_the_rest_back(r, queue_name, tmp_path):
    import threading

    log, gate = tmp_path / "log", tmp_path / "gate"
    queue = yotaq.Queue(r, queue_name)
    running = queue.enqueue(tasks.gated, str(log), 1, str(gate))
    rest = [queue.enqueue(tasks.note, str(log), "done", n) for n in range(3)]
    worker = yotaq.Worker(r, [queue_name])
    runner = threading.Thread(target=worker.run)
    runner.start()
    # Given a worker in the middle of a task, the next ones leased with it or still pending
    wait_for(lambda: tasks.events(log, "start"), what="the first task to start")
    # When another thread stops it (twice: the second call adds nothing), and the task may end
    worker.stop()
    worker.stop()
    gate.touch()
    runner.join(timeout=30)
    # Then run() returns, the running task finished, and the others wait in the queue, none lost
    assert not runner.is_alive()
    assert running.result(timeout=5) is None and running.status is Status.DONE
    assert [job.status for job in rest] == [Status.PENDING] * 3
    assert queue.info().pending == 3 and queue.info().workers == []
    assert [value for value, _ in tasks.events(log, "done")] == ["1"]


def test_a_function_named_over_two_lines_is_shown_on_one_beside_the_others_acknowledged_with_it(r, queue, burst_worker):
    # Given a function whose name holds a newline, enqueued between two plain ones (one batch, one
    # acknowledgement: what is shown of each travels in one argument, a line each)
    def odd(x):
        return x

    odd.__qualname__ = "odd\nname"
    jobs = [queue.enqueue(divmod, 7, 2), queue.enqueue(odd, 1), queue.enqueue(abs, -3)]
    burst_worker()
    # Then each job is listed as done with its own function, the odd one's newline a space
    functions = {job.id: r.hget(queue.keys.finished_jobs, job.id).decode().split(" ", 4)[4] for job in jobs}
    assert [functions[job.id] for job in jobs] == ["builtins.divmod", f"{__name__}.odd name", "builtins.abs"]


# A worker whose own SIGUSR1 handler calls stop(). Such a handler runs in the main thread between two bytecodes
# of whatever it interrupts; two windows where that is a hazard are widened here (argv[2]), by the worker
# raising the signal in them itself: in stop() itself, as a second signal does that comes while a first is
# handled ("stop"), and once its wait for work is named but not yet sent, for stop() to end ("wait").
STOPS_ON_SIGUSR1 = """
import os, signal, sys
import yotaq

class StopOnSigusr1(yotaq.Hook):
    def on_worker_start(self, worker, queues):
        signal.signal(signal.SIGUSR1, lambda *_: running.stop())
        print("handler installed", flush=True)

class SignalledOnce:
    def __init__(self):
        self.fired = False

    def __call__(self):
        if not self.fired:
            self.fired = True
            signal.raise_signal(signal.SIGUSR1)  # its handler runs before this returns

class InterruptedLock:
    def __init__(self, lock, interrupt):
        self.lock, self.interrupt = lock, interrupt

    def acquire(self, blocking=True, timeout=-1):
        taken = self.lock.acquire(blocking, timeout)
        if taken:
            self.interrupt()
        return taken

    def release(self):
        self.lock.release()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

running = yotaq.Worker(yotaq.connect(os.environ["YOTAQ_REDIS_URL"]), [sys.argv[1]], hooks=[StopOnSigusr1()])
interrupt = SignalledOnce()
if sys.argv[2] == "stop":
    running._stop_lock = InterruptedLock(running._stop_lock, interrupt)
elif sys.argv[2] == "wait":
    named = running._blocked

    def blocked(connection_id):
        named(connection_id)
        if connection_id is not None:
            interrupt()

    running._blocked = blocked
running.run()
signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # the signals still coming must not end the exit (by default they would)
"""
SIGNALS_SENT = 1000


@pytest.mark.parametrize(
    "busy, window",
    [(False, ""), (True, ""), (False, "stop"), (False, "wait")],
    ids=["idle", "leasing", "a signal while stop() runs", "a signal as the wait for work begins"],
)
def test_stop_from_a_signal_handler_in_the_main_thread_ends_the_worker_promptly(spawn, queue_name, r, busy, window):
    import os
    import signal
    import subprocess

    queue = yotaq.Queue(r, queue_name)
    if busy:
        queue.enqueue_many(divmod, [(n, 7) for n in range(20_000)])
    worker = spawn("-c", STOPS_ON_SIGUSR1, queue_name, window)
    # Given a worker idle in its wait for work, or leasing and running short tasks
    wait_for(lambda: "handler installed" in worker.output(), what="the worker to start")
    if busy:
        wait_for(lambda: queue.info().done > 0, what="tasks to run")
    else:
        # (the widened window's own signal may stop it before it waits)
        wait_for(lambda: _waiting_for_work(r) or worker.popen.poll() is not None, what="a wait for work")
    # When its own handler calls stop(), again and again as fast as the signals come
    for _ in range(SIGNALS_SENT):
        if worker.popen.returncode is None:  # not reaped (an exited one is a zombie): the pid is still its own
            os.kill(worker.pid, signal.SIGUSR1)
    # Then it stops well within its idle wait (30 s), exits 0, and holds nothing
    try:
        assert worker.wait(timeout=10) == 0, worker.output()[-3000:]
    except subprocess.TimeoutExpired:
        pytest.fail("the worker did not stop within 10 s of its handler calling stop()")
    info = queue.info()
    assert info.workers == [] and info.active == 0
    if busy:
        assert info.done + info.pending == 20_000


def _forget_scripts(url: str) -> str:
    import redis

    redis.Redis.from_url(url).script_flush()  # as a restart or a failover to a replica would
    return "forgotten"


def test_a_worker_whose_redis_forgot_its_scripts_while_a_task_ran_acknowledges_it_and_leases_on(
    queue, r, redis_url, burst_worker
):
    # Given a task during which Redis forgets every script (the acknowledgement's is sent packed, by its sha)
    first = queue.enqueue(_forget_scripts, redis_url)
    second = queue.enqueue(divmod, 7, 2)
    # When a worker runs both
    burst_worker()
    # Then the acknowledgement loaded its script again and went through, and the next task ran
    assert first.result(timeout=5) == "forgotten"
    assert second.result(timeout=5) == (3, 1)
    assert queue.info().done == 2


def test_a_burst_worker_looks_for_work_left_only_once_a_lease_finds_none_not_at_every_batch(
    r, queue, burst_worker, monkeypatch
):
    from yotaq.broker.leases import Leasing

    # Given 2,000 tasks, leased in batches by a burst worker, whose calls that acknowledge are watched
    queue.enqueue_many(divmod, [(n, 7) for n in range(2000)])
    calls: list[tuple[int, int]] = []  # (acknowledgements, tasks asked for)
    ack_and_lease = Leasing.ack_and_lease

    def watched(self, keys, worker, acks, size):
        calls.append((len(acks), size))
        return ack_and_lease(self, keys, worker, acks, size)

    monkeypatch.setattr(Leasing, "ack_and_lease", watched)
    r.config_resetstat()
    burst_worker()
    assert queue.info().done == 2000
    # Then each batch's acknowledgements went with the next lease, in one call, not in a call of their own
    # first (but the last batch's, once nothing was left to lease)
    assert [call for call in calls[:-1] if call[0] and not call[1]] == [], calls
    # and it asked whether anything was left (pending, scheduled or waiting: an LLEN and two ZCARDs) only
    # once its leases found nothing, not before each batch
    assert r.info("commandstats").get("cmdstat_llen", {"calls": 0})["calls"] <= 3

import importlib.metadata
import os
import signal
import threading
import time
import warnings

import pytest
import redis

import yotaq
from yotaq import ConfigurationError, SerializationError
from yotaq.broker import commands
from yotaq.broker.broker import PRODUCER_GIVE_UP_S
from yotaq.broker.connection import packed
from yotaq.broker.keys import QueueKeys
from yotaq.serializer import decode
from yotaq.server import free_port

from .helpers import wait_for


def test_enqueue_puts_one_message_on_the_pending_list(queue, r):
    job = queue.enqueue(divmod, 7, 2)
    assert job == queue.job(job.id) and job.queue == queue.name
    [message] = r.lrange(queue.keys.pending, 0, -1)
    task = decode(message, None, queue.name)
    assert (task.id, task.fn(*task.args, **task.kwargs)) == (job.id, (3, 1))


def test_tasks_are_kept_in_the_order_they_were_enqueued(queue, r):
    ids = [queue.enqueue(print, n).id for n in range(5)]
    assert [decode(m, None, queue.name).id for m in r.lrange(queue.keys.pending, 0, -1)] == ids


def test_what_cannot_be_serialised_never_reaches_redis(queue, r):
    with pytest.raises(SerializationError, match="lock"):
        queue.enqueue(print, threading.Lock())
    assert r.llen(queue.keys.pending) == 0


def test_info_counts_pending_tasks(queue):
    queue.enqueue(print, 1)
    queue.enqueue(print, 2)
    info = queue.info()
    assert (info.queue, info.pending, info.active, info.done, info.workers) == (queue.name, 2, 0, 0, [])
    assert (info.scheduled, info.failed, info.dead, info.retried, info.invalid, info.redelivered) == (0, 0, 0, 0, 0, 0)


@pytest.mark.parametrize("name", ["", "a b", "{x}", "x}"])
def test_an_invalid_queue_name_is_refused_at_construction(r, name):
    with pytest.raises(ConfigurationError):
        yotaq.Queue(r, name)


def _client_ids(r: redis.Redis) -> set[int]:
    return {int(client["id"]) for client in r.client_list()}


def test_from_url_makes_a_queue_on_a_client_of_its_own_that_close_closes(r, redis_url, queue_name):
    before = _client_ids(r)
    # Given a queue made from a URL, with the constructor's options
    with yotaq.Queue.from_url(redis_url, queue_name, secret="s3cret", shards=2, retries=1) as queue:
        job = queue.enqueue(divmod, 7, 2)
        assert (queue.name, len(queue.shards), queue.defaults.retries) == (queue_name, 2, 1)
        task = decode(r.lindex(queue._shard(job.id).pending, 0), b"s3cret", queue_name)
        assert (task.args, task.options) == ((7, 2), {"retries": 1})
        assert job.status is yotaq.Status.PENDING
        own = _client_ids(r) - before
        assert own  # its connections are its own
    # When it is closed (by the with), then its connections are gone
    wait_for(lambda: not own & _client_ids(r), timeout=5, what="the queue's connections to close")

    # A queue on a client it was given leaves that client open
    given = yotaq.connect(redis_url)
    given.ping()
    given_id = given.client_id()
    yotaq.Queue(given, queue_name, shards=2).close()
    assert given_id in _client_ids(r)
    given.close()

    with pytest.raises(ConfigurationError, match="unknown option"):
        yotaq.Queue.from_url(redis_url, queue_name, retrys=1)
    with pytest.raises(ConfigurationError, match="unknown scheme"):
        yotaq.Queue.from_url("http://localhost:6379")


def test_a_client_that_decodes_responses_is_refused(redis_url):
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(ConfigurationError, match="decode_responses"):
        yotaq.Queue(client)
    client.close()


def test_connections_tell_redis_they_are_yotaqs_without_reading_package_metadata(redis_url, monkeypatch):
    def version(name: str) -> str:
        raise AssertionError(f"looked up the version of {name} for a new connection (2-4 ms each)")

    monkeypatch.setattr(importlib.metadata, "version", version)
    client = yotaq.connect(redis_url)
    try:
        client.ping()  # makes the first connection
        name = f"redis-py(yotaq_v{yotaq.__version__})"
        info = client.get_connection_kwargs()["driver_info"]
        assert (info.formatted_name, info.lib_version) == (name, redis.__version__)
        if tuple(map(int, client.info("server")["redis_version"].split(".")[:2])) >= (7, 2):  # CLIENT SETINFO
            assert client.client_info()["lib-name"] == name
    finally:
        client.close()


def _sender_id(queue: yotaq.Queue) -> int:
    """The Redis client id of the connection this thread's enqueues and result waits go through."""
    return queue.broker._own.call(lambda client: client.client_id())


def _last_command(r: redis.Redis, client_id: int) -> str:
    return {c["id"]: c["cmd"] for c in r.client_list()}[str(client_id)]


def test_a_plain_enqueue_goes_through_the_threads_own_connection(queue, r):
    mine = _sender_id(queue)
    queue.enqueue(print, 1)
    assert _last_command(r, mine) == "evalsha"  # the last command it sent: the push script
    queue.options(retries=1).enqueue_many(print, [(2,), (3,)])
    assert _last_command(r, mine) == "exec"  # a bulk push's MULTI ... EXEC
    assert _sender_id(queue) == mine


def test_a_single_push_writes_the_bytes_its_evalsha_packs_to_for_each_queue_and_shard():
    # The queue's part of the bytes is cached per queue and shard (and script): each must get its own key names.
    sha = "0123456789abcdef0123456789abcdef01234567"
    for keys in (QueueKeys("tasks"), QueueKeys("other"), QueueKeys("tasks", 3), QueueKeys("tasks")):
        for job_id, message in (("job-1", b"a message"), ("01J-second:id", b"\r\n* $3 with \r\n inside")):
            script_keys, args = commands.push_script(keys, [job_id], [message], again=False)
            wire = packed(("EVALSHA", sha, len(script_keys), *script_keys, *args))
            assert commands.push_wire(keys, job_id, message, sha) == wire


def test_a_single_enqueue_on_a_redis_that_forgot_the_push_script_loads_it_and_pushes_once(queue, r):
    queue.enqueue(divmod, 7, 1)
    r.script_flush()  # as after a restart or a failover to a replica, which knows no script
    job = queue.enqueue(divmod, 7, 2)
    pending = [decode(message, None, queue.name) for message in r.lrange(queue.keys.pending, 0, -1)]
    assert [task.args for task in pending] == [(7, 1), (7, 2)]
    assert pending[1].id == job.id and job.status == "pending"
    assert r.script_exists(queue.broker._scripts.push.sha) == [True]


class _Interrupted(Exception):
    pass


def _interrupt(signum, frame):
    raise _Interrupted


# Each way an enqueue is sent: one EVALSHA packed here; a script called through redis-py; a MULTI
@pytest.mark.parametrize("enqueue", ["plain", "with an id", "bulk"])
def test_an_enqueue_interrupted_by_a_signal_while_it_waits_for_its_reply_leaves_its_connection_in_step(
    queue, r, enqueue
):
    send = {
        "plain": lambda: queue.enqueue(divmod, 7, 2),
        "with an id": lambda: queue.options(job_id="chosen").enqueue(divmod, 7, 2),
        "bulk": lambda: queue.enqueue_many(divmod, [(7, 2)]),
    }[enqueue]
    queue.enqueue(divmod, 7, 1)  # the script loaded, the thread's connection made
    # Given an enqueue waiting for its reply (Redis holds every command for 0.5 s) when a signal's handler raises
    previous = signal.signal(signal.SIGALRM, _interrupt)
    try:
        r.client_pause(500)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        with pytest.raises(_Interrupted):
            send()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # When the thread goes on with the same queue
    job = queue.enqueue(divmod, 7, 3)
    # Then each command reads its own reply, not the one the interrupted enqueue left unread; that one went
    # through or not (its caller was told it may have), once at most
    assert job.status == "pending"
    pending = [decode(m, None, queue.name).args[1] for m in r.lrange(queue.keys.pending, 0, -1)]
    assert pending in ([1, 3], [1, 2, 3])
    assert queue.info().pending == len(pending)


def test_single_enqueues_onto_two_queues_in_turn_each_land_on_their_own_queue_as_one_script_call(r, queue_name):
    queues = [yotaq.Queue(r, f"{queue_name}-{n}") for n in range(2)]
    before = r.info("commandstats")
    jobs = [queue.enqueue(divmod, 7, n + 1) for n in range(2) for queue in queues]
    after = r.info("commandstats")
    for n, queue in enumerate(queues):
        pending = [decode(message, None, queue.name) for message in r.lrange(queue.keys.pending, 0, -1)]
        assert [task.id for task in pending] == [job.id for job in jobs[n::2]]
        assert [task.args for task in pending] == [(7, 1), (7, 2)]
        assert [job.status for job in jobs[n::2]] == ["pending", "pending"]
    # Each enqueue sent one EVALSHA of the push script, an RPUSH and an HSET (and the first one of each queue
    # agreed on its shards in a MULTI; the first of all loaded the script)
    sent = {name: after[name]["calls"] - before.get(name, {"calls": 0})["calls"] for name in after}
    counted = {name: sent.get(f"cmdstat_{name}", 0) for name in ("rpush", "hset", "exec", "evalsha")}
    assert counted == {"rpush": 4, "hset": 4, "exec": 2, "evalsha": 4}


def test_enqueue_and_result_waits_keep_a_connection_per_thread_which_goes_back_to_the_pool_with_it(queue, r):
    mine = _sender_id(queue)
    queue.options(job_id="first").enqueue(print, 1)  # an enqueue through the enqueue script
    assert _last_command(r, mine) == "evalsha"  # the last command it sent
    with pytest.raises(yotaq.ResultTimeout):
        queue.job("nothing-here").result(timeout=0.01)
    assert _last_command(r, mine) == "blmove"
    assert _sender_id(queue) == mine
    theirs = []
    for n in range(5):  # one thread after the other
        thread = threading.Thread(target=lambda n=n: theirs.append((queue.enqueue(print, n), _sender_id(queue))))
        thread.start()
        thread.join()
    # Each thread had a connection of its own, and gave it back when it ended: the next one took it.
    assert len(theirs) == 5 and mine not in {id_ for _, id_ in theirs} and len({id_ for _, id_ in theirs}) == 1
    pending = r.lrange(queue.keys.pending, 0, -1)
    assert [decode(m, None, queue.name).args for m in pending] == [(1,), *((n,) for n in range(5))]


def test_a_forked_child_enqueues_through_a_connection_of_its_own(queue, r):
    parent = _sender_id(queue)
    with warnings.catch_warnings():  # Python 3.12+ warns of fork() in a process with threads (pytest-timeout's)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: it must not write to the socket it shares with its parent
        try:
            queue.enqueue(print, "child")
            os._exit(0 if _sender_id(queue) != parent else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    queue.enqueue(print, "parent")
    assert _sender_id(queue) == parent
    assert [decode(m, None, queue.name).args for m in r.lrange(queue.keys.pending, 0, -1)] == [("child",), ("parent",)]


def test_an_enqueue_nested_in_another_on_one_thread_takes_another_connection(queue):
    """As from a signal handler that enqueues while its thread is in the middle of an enqueue: two
    commands interleaved on one socket would garble both."""

    def nested(outer: redis.Redis) -> tuple[int, int]:
        return outer.client_id(), _sender_id(queue)

    mine = _sender_id(queue)
    outer, inner = queue.broker._own.call(nested)
    assert outer == mine and inner != mine and _sender_id(queue) == mine


def test_enqueue_fails_fast_with_redis_unavailable_when_redis_is_down():
    client = yotaq.connect(f"redis://127.0.0.1:{free_port()}/0")
    queue = yotaq.Queue(client, "q")
    started = time.monotonic()
    with pytest.raises(yotaq.RedisUnavailable, match=r"Redis is unavailable: .*\(gave up after 2 s\)") as raised:
        queue.enqueue(print, 1)
    elapsed = time.monotonic() - started
    assert isinstance(raised.value, ConnectionError) and isinstance(raised.value, yotaq.YotaqError)
    assert PRODUCER_GIVE_UP_S / 2 < elapsed < PRODUCER_GIVE_UP_S + 1
    client.close()


def test_the_old_name_connection_error_is_the_same_class_and_warns_that_it_is_deprecated():
    with pytest.warns(DeprecationWarning, match=r"yotaq\.ConnectionError is deprecated, use yotaq\.RedisUnavailable"):
        from yotaq import ConnectionError as from_package
    with pytest.warns(DeprecationWarning, match="deprecated"):
        from yotaq.exceptions import ConnectionError as from_module
    with pytest.warns(DeprecationWarning, match="deprecated"):
        attribute = yotaq.ConnectionError
    assert from_package is from_module is attribute is yotaq.RedisUnavailable
    with pytest.raises(AttributeError, match="no attribute 'NoSuchError'"):
        yotaq.NoSuchError  # noqa: B018


def test_the_old_name_buried_job_is_failed_job_and_warns_that_it_is_deprecated():
    with pytest.warns(DeprecationWarning, match=r"yotaq\.BuriedJob is deprecated, use yotaq\.FailedJob"):
        from yotaq import BuriedJob
    assert BuriedJob is yotaq.FailedJob

import importlib.metadata
import threading
import time

import pytest
import redis

import yotaq
from yotaq import ConfigurationError, SerializationError
from yotaq.queue import ENQUEUE_DEADLINE_S
from yotaq.serializer import decode
from yotaq.server import free_port


def test_enqueue_puts_one_message_on_the_pending_list(queue, r):
    job = queue.enqueue(divmod, 7, 2)
    assert job == queue.job(job.id) and job.queue is queue
    [message] = r.lrange(queue.keys.pending, 0, -1)
    task = decode(message, None)
    assert (task.id, task.fn(*task.args, **task.kwargs)) == (job.id, (3, 1))


def test_tasks_are_kept_in_the_order_they_were_enqueued(queue, r):
    ids = [queue.enqueue(print, n).id for n in range(5)]
    assert [decode(m, None).id for m in r.lrange(queue.keys.pending, 0, -1)] == ids


def test_what_cannot_be_serialised_never_reaches_redis(queue, r):
    with pytest.raises(SerializationError, match="lock"):
        queue.enqueue(print, threading.Lock())
    assert r.llen(queue.keys.pending) == 0


def test_info_counts_pending_tasks(queue):
    queue.enqueue(print, 1)
    queue.enqueue(print, 2)
    info = queue.info()
    assert (info.queue, info.pending, info.active, info.done, info.workers) == (queue.name, 2, 0, 0, [])


@pytest.mark.parametrize("name", ["", "a b", "{x}", "x}"])
def test_an_invalid_queue_name_is_refused_at_construction(r, name):
    with pytest.raises(ConfigurationError):
        yotaq.Queue(r, name)


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


def test_enqueue_fails_fast_with_a_yotaq_connection_error_when_redis_is_down():
    client = yotaq.connect(f"redis://127.0.0.1:{free_port()}/0")
    queue = yotaq.Queue(client, "q")
    started = time.monotonic()
    with pytest.raises(yotaq.ConnectionError, match="cannot reach Redis") as raised:
        queue.enqueue(print, 1)
    elapsed = time.monotonic() - started
    assert isinstance(raised.value, ConnectionError) and isinstance(raised.value, yotaq.YotaqError)
    assert ENQUEUE_DEADLINE_S / 2 < elapsed < ENQUEUE_DEADLINE_S + 1
    client.close()

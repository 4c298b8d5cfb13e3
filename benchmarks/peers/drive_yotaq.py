"""yotaq: ``queue.enqueue``, ``queue.enqueue_many``, ``job.result``; and a bare RPUSH loop as the floor.

The tasks are defined here, in ``__main__``, so they travel by value (dill) as a user's would: the
worker imports nothing of this folder. Their Redis client is made on the worker, on first use, and
kept in the rebuilt function's globals (a worker reuses a function rebuilt from the same bytes).
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from importlib.metadata import version

import redis
from _common import FLOOR_KEY, fleet_queues, main, rate, redis_url, result_samples, signal_samples, timed_fill, turns

import yotaq

_client = None


def _redis():
    global _client
    if _client is None:
        import os

        import redis

        _client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    return _client


def noop() -> int:
    return _redis().incr("bench:done")


def ping() -> None:
    _redis().rpush("bench:signal", 1)


def sleepy() -> int:
    """benchmarks/threads.py: a task that waits 50 ms (time.sleep), then counts itself."""
    import time

    time.sleep(0.05)
    return _redis().incr("bench:done")


def fetch() -> int:
    """benchmarks/threads.py: one HTTP GET of the harness's local server (it answers after 20 ms), then counts."""
    import os
    import urllib.request

    with urllib.request.urlopen(os.environ["BENCH_HTTP_URL"], timeout=30) as reply:
        reply.read()
    return _redis().incr("bench:done")


connection = yotaq.connect(redis_url())
# "tasks", as `python -m yotaq worker` with no queue named; signed with the secret the workers get
queue = yotaq.Queue(connection, secret=os.environ["YOTAQ_SECRET"])


def fill(n: int, task=noop) -> dict:
    queue.enqueue_many(task, [() for _ in range(n)])
    return {"n": n}


def fill_queues(n: int) -> dict:
    """benchmarks/fleet.py: ``n`` tasks over the fleet's queues, in turns, through the bulk API."""
    queues = {name: yotaq.Queue(connection, name, secret=os.environ["YOTAQ_SECRET"]) for name in fleet_queues()}

    def run() -> None:
        for name, k in turns(n, list(queues)):
            queues[name].enqueue_many(noop, [() for _ in range(k)])

    return timed_fill(n, run)


def add(a: int, b: str) -> str:
    """The floor's task: a call with arguments, as most are (never run: the floor's queue is flushed)."""
    return f"{a} {b}"


FLOOR_ARGS = (12345, "an argument")
FLOOR_ROUNDS = 50


def message_size(fn=noop, args: tuple = ()) -> int:
    """The length of a real message for ``fn(*args)``, read back from Redis: one is enqueued on a scratch queue,
    whose pending list is found by name (``SCAN``), not by yotaq's key format, and whose keys are deleted
    afterwards. Only the public API is used, so that this holds across versions of yotaq's internals."""
    scratch = f"bench-floor-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url())
    try:
        yotaq.Queue(connection, scratch, secret=os.environ["YOTAQ_SECRET"]).enqueue(fn, *args)
        keys = list(client.scan_iter(match=f"*{scratch}*pending*", count=1000))
        if len(keys) != 1:
            raise RuntimeError(f"expected one pending key for the queue {scratch}, found {keys}")
        kind = client.type(keys[0])
        if kind != b"list":
            raise RuntimeError(f"{keys[0]!r} is a {kind.decode()}, not a list: cannot read the message back")
        message = client.lindex(keys[0], 0)
        if message is None:
            raise RuntimeError(f"{keys[0]!r} is empty right after an enqueue")
        return len(message)
    finally:
        scratch_keys = list(client.scan_iter(match=f"*{scratch}*", count=1000))
        if scratch_keys:
            client.delete(*scratch_keys)
        client.close()


def floor(n: int) -> dict:
    """``queue.enqueue(add, *FLOOR_ARGS)`` against a bare redis-py ``RPUSH`` loop of payloads as long as its
    messages: the single-enqueue target's yardstick. The loop takes a connection from the pool for each
    command, as a plain client does; yotaq's enqueue has one of its own (``ThreadClients``).

    Single calls in a loop, the two alternating in ``FLOOR_ROUNDS`` short rounds in this one process (which
    goes first alternating too), so that both see the same machine: the bare rate, and the median and
    quartiles of the rounds' ratios of yotaq's rate to it. The median, not the ratio of the totals: on a
    busy machine one round in which either loop stalls would decide the totals.
    """
    size = message_size(add, FLOOR_ARGS)
    payload = b"x" * size
    client = redis.Redis.from_url(redis_url())

    def bare() -> None:
        for _ in range(per_round):
            client.rpush(FLOOR_KEY, payload)

    def mine() -> None:
        for _ in range(per_round):
            queue.enqueue(add, *FLOOR_ARGS)

    per_round = max(1, n // FLOOR_ROUNDS)
    spent = {bare: [], mine: []}
    for turn in range(FLOOR_ROUNDS):
        for loop in (bare, mine) if turn % 2 == 0 else (mine, bare):
            start = time.perf_counter()
            loop()
            spent[loop].append(time.perf_counter() - start)
        client.delete(FLOOR_KEY)
    q1, median, q3 = statistics.quantiles([b / m for b, m in zip(spent[bare], spent[mine], strict=True)], n=4)
    rate = FLOOR_ROUNDS * per_round / sum(spent[bare])
    return {"rate": rate, "ratio": median, "ratio_q1": q1, "ratio_q3": q3, "bytes": size}


def latency_floor(n: int) -> dict:
    """The latency measurement with ``bare_worker.py`` (``BLPOP``, then ``RPUSH``) as the worker: its floor."""
    client = redis.Redis.from_url(redis_url())
    return signal_samples(n, lambda: client.rpush(FLOOR_KEY, b"x"), client)


main(
    {
        "version": lambda n: {"version": version("yotaq")},
        "enqueue": lambda n: rate(n, lambda: [queue.enqueue(noop) for _ in range(n)]),
        "bulk": lambda n: rate(n, lambda: queue.enqueue_many(noop, [() for _ in range(n)])),
        "fill": fill,
        "fill_sleep": lambda n: fill(n, sleepy),  # benchmarks/threads.py's workloads
        "fill_http": lambda n: fill(n, fetch),
        "fill_queues": fill_queues,
        "latency": lambda n: signal_samples(n, lambda: queue.enqueue(ping), connection),
        "result": lambda n: result_samples(n, lambda timeout: queue.enqueue(noop).result(timeout=timeout)),
        "floor": floor,
        "latency_floor": latency_floor,
    }
)

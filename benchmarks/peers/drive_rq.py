"""rq: ``Queue.enqueue``, ``Queue.enqueue_many`` with ``Queue.prepare_data``, ``Job.latest_result``."""

from __future__ import annotations

import math

import redis
import rq
from _common import fleet_queues, main, noop, ping, rate, redis_url, result_samples, signal_samples, timed_fill, turns

connection = redis.Redis.from_url(redis_url())
queue = rq.Queue(connection=connection)  # "default", as `rq worker` with no queue named


def enqueue(n: int) -> dict:
    return rate(n, lambda: [queue.enqueue(noop) for _ in range(n)])


def bulk(n: int) -> dict:
    return rate(n, lambda: queue.enqueue_many([rq.Queue.prepare_data(noop) for _ in range(n)]))


def fill(n: int) -> dict:
    queue.enqueue_many([rq.Queue.prepare_data(noop) for _ in range(n)])
    return {"n": n}


def fill_queues(n: int) -> dict:
    """benchmarks/fleet.py: ``n`` tasks over the fleet's queues, in turns, through ``enqueue_many``."""
    queues = {name: rq.Queue(name, connection=connection) for name in fleet_queues()}

    def run() -> None:
        for name, k in turns(n, list(queues)):
            queues[name].enqueue_many([rq.Queue.prepare_data(noop) for _ in range(k)])

    return timed_fill(n, run)


def result(n: int) -> dict:
    def send_and_wait(timeout: float) -> None:
        if queue.enqueue(noop).latest_result(timeout=math.ceil(timeout)) is None:
            raise TimeoutError("no result")

    return result_samples(n, send_and_wait)


main(
    {
        "version": lambda n: {"version": rq.VERSION},
        "enqueue": enqueue,
        "bulk": bulk,
        "fill": fill,
        "fill_queues": fill_queues,
        "latency": lambda n: signal_samples(n, lambda: queue.enqueue(ping), connection),
        "result": result,
    }
)

"""celery: ``task.delay``, ``group(...).apply_async()``; no result backend by default."""

from __future__ import annotations

import celery
from _common import client, fleet_queues, main, rate, signal_samples, timed_fill, turns
from celery_tasks import fetch, noop, ping, sleepy


def bulk(n: int) -> dict:
    return rate(n, lambda: celery.group(noop.s() for _ in range(n)).apply_async())


def fill(n: int, task=noop) -> dict:
    celery.group(task.s() for _ in range(n)).apply_async()
    return {"n": n}


def fill_queues(n: int) -> dict:
    """benchmarks/fleet.py: ``n`` tasks over the fleet's queues (``-Q`` on the workers), in turns, as groups."""

    def run() -> None:
        for name, k in turns(n, fleet_queues()):
            celery.group(noop.s().set(queue=name) for _ in range(k)).apply_async()

    return timed_fill(n, run)


main(
    {
        "version": lambda n: {"version": celery.__version__},
        "enqueue": lambda n: rate(n, lambda: [noop.delay() for _ in range(n)]),
        "bulk": bulk,
        "fill": fill,
        "fill_sleep": lambda n: fill(n, sleepy),  # benchmarks/threads.py's workloads
        "fill_http": lambda n: fill(n, fetch),
        "fill_queues": fill_queues,
        "latency": lambda n: signal_samples(n, ping.delay, client()),
        "result": lambda n: {"na": "no result backend by default"},
    }
)

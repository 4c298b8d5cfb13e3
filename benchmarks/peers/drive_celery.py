"""celery: ``task.delay``, ``group(...).apply_async()``; no result backend by default."""

from __future__ import annotations

import celery
from _common import main, rate, signal_samples
from celery_tasks import client, noop, ping


def bulk(n: int) -> dict:
    return rate(n, lambda: celery.group(noop.s() for _ in range(n)).apply_async())


def fill(n: int) -> dict:
    celery.group(noop.s() for _ in range(n)).apply_async()
    return {"n": n}


main(
    {
        "version": lambda n: {"version": celery.__version__},
        "enqueue": lambda n: rate(n, lambda: [noop.delay() for _ in range(n)]),
        "bulk": bulk,
        "fill": fill,
        "latency": lambda n: signal_samples(n, ping.delay, client),
        "result": lambda n: {"na": "no result backend by default"},
    }
)

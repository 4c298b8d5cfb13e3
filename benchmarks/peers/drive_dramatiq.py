"""dramatiq: ``actor.send``, ``group(...).run()``; results need a middleware it does not enable by default."""

from __future__ import annotations

import dramatiq
from _common import main, rate, signal_samples
from dramatiq_tasks import client, noop, ping


def bulk(n: int) -> dict:
    return rate(n, lambda: dramatiq.group(noop.message() for _ in range(n)).run())


def fill(n: int) -> dict:
    dramatiq.group(noop.message() for _ in range(n)).run()
    return {"n": n}


main(
    {
        "version": lambda n: {"version": dramatiq.__version__},
        "enqueue": lambda n: rate(n, lambda: [noop.send() for _ in range(n)]),
        "bulk": bulk,
        "fill": fill,
        "latency": lambda n: signal_samples(n, ping.send, client),
        "result": lambda n: {"na": "no result backend by default"},
    }
)

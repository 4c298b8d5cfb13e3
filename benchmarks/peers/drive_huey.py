"""huey: calling a task enqueues it; ``Result.get(blocking=True)``; no bulk enqueue."""

from __future__ import annotations

from importlib.metadata import version

from _common import main, rate, result_samples, signal_samples
from huey_tasks import client, noop, ping


def fill(n: int) -> dict:
    for _ in range(n):
        noop()
    return {"n": n}


def result(n: int) -> dict:
    return result_samples(n, lambda timeout: noop().get(blocking=True, timeout=timeout))


main(
    {
        "version": lambda n: {"version": version("huey")},
        "enqueue": lambda n: rate(n, lambda: [noop() for _ in range(n)]),
        "bulk": lambda n: {"na": "no bulk API"},
        "fill": fill,
        "latency": lambda n: signal_samples(n, ping, client),
        "result": result,
    }
)

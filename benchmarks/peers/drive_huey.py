"""huey: calling a task enqueues it; ``Result.get(blocking=True)``; no bulk enqueue."""

from __future__ import annotations

from importlib.metadata import version

from _common import client, fleet_queues, main, rate, result_samples, signal_samples, timed_fill, turns
from huey_tasks import fetch, noop, ping, sleepy


def fill(n: int, task=noop) -> dict:
    for _ in range(n):
        task()
    return {"n": n}


def fill_queues(n: int) -> dict:
    """benchmarks/fleet.py: ``n`` tasks over the fleet's queues (one huey instance each), in turns."""
    import fleet_huey

    def run() -> None:
        for name, k in turns(n, fleet_queues()):
            task = fleet_huey.tasks[name]
            for _ in range(k):
                task()

    return timed_fill(n, run)


def result(n: int) -> dict:
    return result_samples(n, lambda timeout: noop().get(blocking=True, timeout=timeout))


main(
    {
        "version": lambda n: {"version": version("huey")},
        "enqueue": lambda n: rate(n, lambda: [noop() for _ in range(n)]),
        "bulk": lambda n: {"na": "no bulk API"},
        "fill": fill,
        "fill_sleep": lambda n: fill(n, sleepy),  # benchmarks/threads.py's workloads
        "fill_http": lambda n: fill(n, fetch),
        "fill_queues": fill_queues,
        "latency": lambda n: signal_samples(n, ping, client()),
        "result": result,
    }
)

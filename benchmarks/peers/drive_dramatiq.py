"""dramatiq: ``actor.send``, ``group(...).run()``; results need a middleware it does not enable by default."""

from __future__ import annotations

import dramatiq
from _common import client, fleet_queues, main, rate, signal_samples, timed_fill, turns
from dramatiq_tasks import fetch, noop, ping, sleepy


def bulk(n: int) -> dict:
    return rate(n, lambda: dramatiq.group(noop.message() for _ in range(n)).run())


def fill(n: int, actor=noop) -> dict:
    dramatiq.group(actor.message() for _ in range(n)).run()
    return {"n": n}


def fill_queues(n: int) -> dict:
    """benchmarks/fleet.py: ``n`` tasks over the fleet's queues (an actor on each), in turns, as groups."""
    import fleet_dramatiq  # its own broker, on which its actors are declared

    def run() -> None:
        for name, k in turns(n, fleet_queues()):
            actor = fleet_dramatiq.actors[name]
            dramatiq.group((actor.message() for _ in range(k)), broker=fleet_dramatiq.broker).run()

    return timed_fill(n, run)


main(
    {
        "version": lambda n: {"version": dramatiq.__version__},
        "enqueue": lambda n: rate(n, lambda: [noop.send() for _ in range(n)]),
        "bulk": bulk,
        "fill": fill,
        "fill_sleep": lambda n: fill(n, sleepy),  # benchmarks/threads.py's workloads
        "fill_http": lambda n: fill(n, fetch),
        "fill_queues": fill_queues,
        "latency": lambda n: signal_samples(n, ping.send, client()),
        "result": lambda n: {"na": "no result backend by default"},
    }
)

"""arq: ``await pool.enqueue_job(name)``, ``await job.result()``; no bulk enqueue.

At its defaults an idle arq worker looks at its queue every 500 ms (``poll_delay``) and
``job.result()`` polls every 500 ms too: its latencies are those polls.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import version

from _common import client, fleet_queues, main, rate, result_samples, signal_samples, timed_fill, turns
from arq import create_pool
from arq_tasks import WorkerSettings

loop = asyncio.new_event_loop()
pool = loop.run_until_complete(create_pool(WorkerSettings.redis_settings))


def enqueue(n: int) -> dict:
    async def go() -> None:
        for _ in range(n):
            await pool.enqueue_job("noop")

    return rate(n, lambda: loop.run_until_complete(go()))


def fill(n: int) -> dict:
    async def go() -> None:  # not timed: 100 at a time
        for start in range(0, n, 100):
            await asyncio.gather(*(pool.enqueue_job("noop") for _ in range(min(100, n - start))))

    loop.run_until_complete(go())
    return {"n": n}


def fill_queues(n: int) -> dict:
    """benchmarks/fleet.py: ``n`` tasks over the fleet's queues (one arq worker each), in turns, gathered."""

    async def go() -> None:
        for name, k in turns(n, fleet_queues()):
            await asyncio.gather(*(pool.enqueue_job("noop", _queue_name=name) for _ in range(k)))

    return timed_fill(n, lambda: loop.run_until_complete(go()))


def result(n: int) -> dict:
    async def send_and_wait(timeout: float) -> None:
        job = await pool.enqueue_job("noop")
        await job.result(timeout=timeout)

    return result_samples(n, lambda timeout: loop.run_until_complete(send_and_wait(timeout)))


main(
    {
        "version": lambda n: {"version": version("arq")},
        "enqueue": enqueue,
        "bulk": lambda n: {"na": "no bulk API"},
        "fill": fill,
        "fill_queues": fill_queues,
        "latency": lambda n: signal_samples(n, lambda: loop.run_until_complete(pool.enqueue_job("ping")), client()),
        "result": result,
    }
)

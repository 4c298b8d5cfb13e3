"""Enqueue rate from an async producer: yotaq's AsyncQueue next to its blocking Queue, arq and saq, in one run.

    python benchmarks/async_enqueue.py [--tasks 5000] [--runs 3] [--peers .venv-bench/bin/python]

Starts its own redis-server on 127.0.0.1 (loopback only; it stops by itself) and measures, for each
system, N enqueues of a no-op task (no worker: only the producer's side) made
- one at a time: ``await enqueue(...)`` in a loop (the blocking ``Queue.enqueue`` in a loop for yotaq's Queue);
- 100 at a time: ``asyncio.gather`` of 100 enqueues, then the next 100 (what a busy async app does);
and the producer process's CPU time per enqueue, which a machine busy with something else moves less than
the rates.
The systems take turns within each run, so that a machine busy with something else slows them alike; the
table shows each one's median over the runs. arq and saq run in the peers' venv (``make bench`` makes it
with arq; ``pip install saq`` there too), through this same file (``--peer NAME``), so neither shares a
process or a redis-py with yotaq; a peer that is not installed there is left out, and the table says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BATCH = 100  # enqueues in flight at once in the "100 at a time" column
WARMUP = 200  # enqueues before each timed run: connections made, functions pickled, scripts loaded
PEERS = ("arq", "saq")


def noop() -> None:
    pass


async def timed(n: int, enqueue: Callable[[], Awaitable[Any]], batch: int) -> tuple[float, float]:
    """Tasks per second of ``n`` calls of ``enqueue``, ``batch`` at a time (1: each awaited before the
    next), and the producer's CPU per call in microseconds."""

    async def send(count: int) -> None:
        for first in range(0, count, batch):
            if batch == 1:
                await enqueue()
            else:
                await asyncio.gather(*(enqueue() for _ in range(min(batch, count - first))))

    await send(WARMUP)  # in the same shape: as many connections open as the timed part needs
    start, cpu = time.perf_counter(), time.process_time()
    await send(n)
    return n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1e6


async def both(n: int, enqueue: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    (one, one_cpu), (batch, batch_cpu) = await timed(n, enqueue, 1), await timed(n, enqueue, BATCH)
    return {"one": one, "one_cpu": one_cpu, "batch": batch, "batch_cpu": batch_cpu}


# -- yotaq, in this process ----------------------------------------------------------------------


def yotaq_rates(url: str, n: int) -> dict[str, dict[str, float]]:
    import yotaq

    queue = yotaq.Queue(yotaq.connect(url), "bench-sync")
    for _ in range(WARMUP):
        queue.enqueue(noop)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        queue.enqueue(noop)
    sync = {"one": n / (time.perf_counter() - start), "one_cpu": (time.process_time() - cpu) / n * 1e6}
    queue.redis.close()

    async def measure() -> dict[str, float]:
        async with yotaq.AsyncQueue.from_url(url, "bench-async") as aq:
            return await both(n, lambda: aq.enqueue(noop))

    return {"yotaq Queue (blocking)": sync, "yotaq AsyncQueue": asyncio.run(measure())}


# -- the peers, each in the peers' venv (``--peer``) -----------------------------------------------


async def arq_rates(url: str, n: int) -> dict[str, float]:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(url))
    try:
        return await both(n, lambda: pool.enqueue_job("noop"))
    finally:
        await pool.aclose()


async def saq_rates(url: str, n: int) -> dict[str, float]:
    from saq import Queue

    queue = Queue.from_url(url, name="bench-saq")
    await queue.connect()
    try:
        return await both(n, lambda: queue.enqueue("noop"))
    finally:
        await queue.disconnect()


def peer_rates(python: str, peer: str, url: str, n: int) -> dict[str, float] | str:
    """A peer's rates, measured by this file under ``python``; why not, as a string, if it cannot run."""
    done = subprocess.run(
        [python, __file__, "--peer", peer, "--url", url, "--tasks", str(n)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
    rates: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return rates


def versions(python: str, names: tuple[str, ...] = ("arq", "saq", "redis", "hiredis")) -> dict[str, str | None]:
    """The installed version of each of ``names`` in the venv of ``python`` (None where absent)."""
    code = (
        "import json, importlib.metadata as m\n"
        "def v(name):\n"
        "    try: return m.version(name)\n"
        "    except m.PackageNotFoundError: return None\n"
        f"print(json.dumps({{name: v(name) for name in {names!r}}}))"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000, help="enqueues per measurement (default 5000)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the table shows medians (default 3)")
    parser.add_argument("--peers", default=str(ROOT / ".venv-bench" / "bin" / "python"), help="the peers' python")
    parser.add_argument("--peer", choices=PEERS, help=argparse.SUPPRESS)  # run in the peers' venv
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        measure = arq_rates if args.peer == "arq" else saq_rates
        print(json.dumps(asyncio.run(measure(args.url, args.tasks))))
        return

    import redis

    import yotaq
    from yotaq.server import EmbeddedRedis

    peers = versions(args.peers) if Path(args.peers).exists() else {}
    rates: dict[str, list[dict[str, float]]] = {}
    missing: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as data, EmbeddedRedis(Path(data)) as server:
        client = redis.Redis.from_url(server.url)
        for run in range(args.runs):
            measured: dict[str, dict[str, float] | str] = dict(yotaq_rates(server.url, args.tasks))
            for peer in PEERS:
                if peers.get(peer):
                    measured[f"{peer} {peers[peer]}"] = peer_rates(args.peers, peer, server.url, args.tasks)
                else:
                    measured[peer] = f"not installed in {args.peers}"
            for name, result in measured.items():
                if isinstance(result, str):
                    missing[name] = result
                else:
                    rates.setdefault(name, []).append(result)
            client.flushdb()  # the next run starts from an empty Redis
            print(f"run {run + 1} of {args.runs} done", file=sys.stderr)
        client.close()

    print(f"{args.tasks} enqueues of a no-op task, no worker; median of {args.runs} runs, tasks per second")
    print(f"yotaq {yotaq.__version__} on redis-py {redis.__version__}; peers on redis-py {peers.get('redis')}")
    print(f"hiredis: yotaq's venv {_hiredis()}, the peers' {peers.get('hiredis')}\n")
    print(f"| producer | one at a time | {BATCH} at a time (asyncio.gather) | CPU µs per enqueue (one / {BATCH}) |")
    print("|---|---:|---:|---:|")
    for name, runs in rates.items():
        cells = {column: statistics.median(run[column] for run in runs) for column in runs[0]}
        rate = " | ".join(f"{cells[column]:,.0f}" if column in cells else "n/a" for column in ("one", "batch"))
        cpu = " / ".join(f"{cells[column]:.0f}" for column in ("one_cpu", "batch_cpu") if column in cells)
        print(f"| {name} | {rate} | {cpu} |")
    for name, why in missing.items():
        print(f"| {name} | {why} | | |")


def _hiredis() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hiredis")
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()

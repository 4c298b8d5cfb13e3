"""yotaq's asyncio side next to arq and saq, in one run: an async producer's enqueues, and one worker process
running async tasks.

    .venv/bin/python benchmarks/aio.py enqueue [--tasks 5000] [--runs 3] [--peer-venv .venv-bench]
    .venv/bin/python benchmarks/aio.py workers [--tasks 1000] [--runs 1] [--peer-venv .venv-bench]

Both start a redis-server of their own on 127.0.0.1 (driver.py's: loopback only, stopped at the end). arq and
saq run from the peers' venv (``make bench`` makes it with arq; ``pip install saq`` there too), through this
same file, which imports only the standard library at its top so that it loads in either venv; a peer that is
not installed there is left out, and the table says so. The systems take turns within each run, so that a
machine busy with something else slows them alike; the tables show each one's median over the runs.

``enqueue``: N enqueues of a no-op task (no worker: only the producer's side) made
- one at a time: ``await enqueue(...)`` in a loop (the blocking ``Queue.enqueue`` in a loop for yotaq's Queue);
- 100 at a time: ``asyncio.gather`` of 100 enqueues, then the next 100 (what a busy async app does);
and the producer process's CPU time per enqueue, which a machine busy with something else moves less than
the rates.

``workers``: for each workload, concurrency and system, ``--tasks`` tasks enqueued up front, then ONE worker
process started and timed from its start until the last task has run (start-up included; a second table
splits it into the start-up, to the first finished task, and the rate after it). Workloads: ``sleep``, ``await
asyncio.sleep(0.1)``; ``redis``, ``await r.get("bench:k")``, one real loopback round trip, on a
``redis.asyncio`` client made once per worker process. Every task then does ``await r.incr("bench:done")``,
which the harness polls every 10 ms. Concurrency: 10 (arq's ``max_jobs`` and saq's ``concurrency`` default;
yotaq's ``--concurrency 10``) and 100. Each system as its users start it: ``python -m yotaq worker
--concurrency N --burst`` (the tasks travel by value with dill), ``arq aio.ArqSettings --burst`` (``max_jobs`` =
N) and ``saq aio.saq_settings`` (``concurrency`` = N, ``burst`` with ``dequeue_timeout`` 1 s, which saq's burst
mode requires). Peak RSS is ``VmHWM`` of the worker process, read at every poll. Every run must end within ``60
s + tasks x seconds per task / concurrency x 3``.

arq at its defaults starts jobs only at each poll of its queue, every ``poll_delay`` (0.5 s), and at most as
many as ``max_jobs`` has free slots then (arq/worker.py, ``start_jobs``): with 0.1 s tasks and ``max_jobs``
10, that is 10 jobs per 0.5 s, 20/s, whatever the machine. yotaq runs under its own venv's redis-py, arq and
saq under the peers', the tasks' own client included: the header says which.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
URL_VARIABLE = "BENCH_REDIS_URL"
CONCURRENCY_VARIABLE = "BENCH_CONCURRENCY"
DONE_KEY = "bench:done"
GET_KEY = "bench:k"
SLEEP_S = 0.1
BATCH = 100  # enqueues in flight at once in the "100 at a time" column, and of the workers' fill
WARMUP = 200  # enqueues before each timed run: connections made, functions pickled, scripts loaded
PEERS = ("arq", "saq")
SYSTEMS = ("yotaq", *PEERS)
WORKLOADS = {"sleep": "asyncio.sleep(0.1)", "redis": "Redis await (GET)"}
CONCURRENCIES = (10, 100)
POLL_S = 0.01
PEER_TIMEOUT_S = 600.0

# -- the tasks: the same coroutines for the three systems (arq and saq pass a context, yotaq nothing) ----------

_client = None


def _redis() -> Any:
    """This worker process's asyncio client, made on first use (in yotaq, kept in the rebuilt function's globals)."""
    global _client
    if _client is None:
        import os

        import redis.asyncio

        _client = redis.asyncio.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    return _client


def noop() -> None:
    pass


async def sleep_task(ctx: object = None) -> None:
    await asyncio.sleep(0.1)
    await _redis().incr("bench:done")


async def redis_task(ctx: object = None) -> None:
    client = _redis()
    await client.get("bench:k")
    await client.incr("bench:done")


TASKS = {"sleep": sleep_task, "redis": redis_task}


def __getattr__(name: str) -> Any:
    """arq's and saq's settings, built when their CLI imports them (in the peers' venv only)."""
    if name == "ArqSettings":
        from arq.connections import RedisSettings

        class ArqSettings:
            functions = [sleep_task, redis_task]  # noqa: RUF012 - arq reads these class attributes
            redis_settings = RedisSettings.from_dsn(os.environ[URL_VARIABLE])
            max_jobs = int(os.environ[CONCURRENCY_VARIABLE])

        return ArqSettings
    if name == "saq_settings":
        from saq import Queue

        return {
            "queue": Queue.from_url(os.environ[URL_VARIABLE]),
            "functions": [sleep_task, redis_task],
            "concurrency": int(os.environ[CONCURRENCY_VARIABLE]),
            "burst": True,
            "dequeue_timeout": 1.0,
        }
    raise AttributeError(name)


# -- the peers' side, run by this file in the peers' venv (the hidden --peer option) -----------------------


Enqueue = Callable[[str], Awaitable[Any]]


async def peer_enqueue(peer: str, url: str, **queue: str) -> tuple[Enqueue, Callable[[], Awaitable[Any]]]:
    """``enqueue(task name)`` on the peer's producer (saq's on ``Queue.from_url(url, **queue)``), and its close."""
    if peer == "arq":
        from arq import create_pool
        from arq.connections import RedisSettings

        pool = await create_pool(RedisSettings.from_dsn(url))
        return pool.enqueue_job, pool.aclose
    from saq import Queue

    saq_queue = Queue.from_url(url, **queue)
    await saq_queue.connect()
    return saq_queue.enqueue, saq_queue.disconnect


async def peer_main(args: argparse.Namespace) -> None:
    """``enqueue``: the enqueue measurement, as JSON on stdout; ``fill``: the workers' tasks, not timed (on
    saq's default queue, which its worker serves)."""
    queue = {"name": "bench-saq"} if args.mode == "enqueue" and args.peer == "saq" else {}
    enqueue, close = await peer_enqueue(args.peer, args.url, **queue)
    try:
        if args.mode == "enqueue":
            print(json.dumps(await both(args.tasks, lambda: enqueue("noop"))))
        else:
            name = TASKS[args.workload].__name__
            await gathered(args.tasks, lambda: enqueue(name), BATCH)
    finally:
        await close()


# -- enqueue -----------------------------------------------------------------------------------------------


async def gathered(n: int, enqueue: Callable[[], Awaitable[Any]], batch: int) -> None:
    """``n`` calls of ``enqueue``, ``batch`` at a time (1: each awaited before the next)."""
    for first in range(0, n, batch):
        if batch == 1:
            await enqueue()
        else:
            await asyncio.gather(*(enqueue() for _ in range(min(batch, n - first))))


async def timed(n: int, enqueue: Callable[[], Awaitable[Any]], batch: int) -> tuple[float, float]:
    """Tasks per second of ``n`` calls of ``enqueue``, ``batch`` at a time, and the producer's CPU µs per call."""
    await gathered(WARMUP, enqueue, batch)  # in the same shape: as many connections open as the timed part needs
    start, cpu = time.perf_counter(), time.process_time()
    await gathered(n, enqueue, batch)
    return n / (time.perf_counter() - start), (time.process_time() - cpu) / n * 1e6


async def both(n: int, enqueue: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    (one, one_cpu), (batch, batch_cpu) = await timed(n, enqueue, 1), await timed(n, enqueue, BATCH)
    return {"one": one, "one_cpu": one_cpu, "batch": batch, "batch_cpu": batch_cpu}


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


def run_peer(python: str, args: list[str], env: dict[str, str] | None = None) -> str:
    """This file's peer side under the peers' ``python``: its last line of output; RuntimeError if it fails."""
    done = subprocess.run(
        [python, __file__, "--peer", *args], env=env, capture_output=True, text=True, timeout=PEER_TIMEOUT_S
    )
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:160])
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def enqueue_main(args: argparse.Namespace, peers: dict[str, str | None], python: str) -> None:
    import driver
    import redis

    rates: dict[str, list[dict[str, float]]] = {}
    missing: dict[str, str] = {}
    with driver.local_redis("yotaq-aio-") as (_, server):
        client = redis.Redis.from_url(server.url)
        for run in range(args.runs):
            measured: dict[str, dict[str, float] | str] = dict(yotaq_rates(server.url, args.tasks))
            for peer in PEERS:
                if not peers.get(peer):
                    measured[peer] = f"not installed in {args.peer_venv}"
                    continue
                try:
                    line = run_peer(python, [peer, "enqueue", "--url", server.url, "--tasks", str(args.tasks)])
                    measured[f"{peer} {peers[peer]}"] = json.loads(line)
                except RuntimeError as exc:
                    measured[f"{peer} {peers[peer]}"] = str(exc)
            for name, result in measured.items():
                if isinstance(result, str):
                    missing[name] = result
                else:
                    rates.setdefault(name, []).append(result)
            client.flushdb()  # the next run starts from an empty Redis
            print(f"run {run + 1} of {args.runs} done", file=sys.stderr)
        client.close()
    print(f"{args.tasks} enqueues of a no-op task, no worker; median of {args.runs} runs, tasks per second\n")
    print(f"| producer | one at a time | {BATCH} at a time (asyncio.gather) | CPU µs per enqueue (one / {BATCH}) |")
    print("|---|---:|---:|---:|")
    for name, runs in rates.items():
        cells = {column: statistics.median(run[column] for run in runs) for column in runs[0]}
        rate = " | ".join(f"{cells[column]:,.0f}" if column in cells else "n/a" for column in ("one", "batch"))
        cpu = " / ".join(f"{cells[column]:.0f}" for column in ("one_cpu", "batch_cpu") if column in cells)
        print(f"| {name} | {rate} | {cpu} |")
    for name, why in missing.items():
        print(f"| {name} | {why} | | |")


# -- workers -----------------------------------------------------------------------------------------------


def fill(system: str, workload: str, n: int, url: str, python: str, env: dict[str, str]) -> None:
    if system == "yotaq":
        import yotaq

        connection = yotaq.connect(url)
        queue = yotaq.Queue(connection, secret=env["YOTAQ_SECRET"])  # "tasks": the worker's default queue
        queue.enqueue_many(TASKS[workload], [() for _ in range(n)])
        connection.close()
        return
    run_peer(python, [system, "fill", "--workload", workload, "--tasks", str(n), "--url", url], env)


def worker_command(system: str, concurrency: int, python: str) -> list[str]:
    if system == "yotaq":
        return [sys.executable, "-m", "yotaq", "worker", "--concurrency", str(concurrency), "--burst"]
    bin_dir = str(Path(python).parent)
    return (
        [f"{bin_dir}/arq", "aio.ArqSettings", "--burst"] if system == "arq" else [f"{bin_dir}/saq", "aio.saq_settings"]
    )


def measure(bench: Any, system: str, workload: str, concurrency: int, n: int, python: str) -> dict[str, float]:
    """Tasks per second from the worker's start, seconds to the first finished task, tasks per second after
    it, and the worker's peak RSS in MB."""
    import driver

    bench.flush()
    env = {**bench.env, "PYTHONPATH": str(HERE), CONCURRENCY_VARIABLE: str(concurrency)}
    bench.redis.set(GET_KEY, b"x" * 100)
    fill(system, workload, n, bench.url, python, env)
    if bench.redis.get(DONE_KEY) is not None:
        raise RuntimeError("something ran tasks before the worker started")
    per_task_s = SLEEP_S if workload == "sleep" else 0.001
    timeout = 60 + n * per_task_s / concurrency * 3
    log = bench.work / f"{system}-{workload}-{concurrency}.log"
    start = time.perf_counter()
    workers = driver.Workers([worker_command(system, concurrency, python)], env, bench.work, log)
    pid = workers.processes[0].pid
    first_at = first_done = None
    rss = 0.0
    children = 0
    try:
        while True:
            done = int(bench.redis.get(DONE_KEY) or 0)
            now = time.perf_counter()
            rss = max(rss, driver.status_kib(pid, "VmHWM:") / 1024)
            if first_at is None and done > 0:
                first_at, first_done = now, done
                children = len(driver.descendants(pid))
            if done >= n:
                break
            if now - start > timeout:
                raise RuntimeError(f"{done}/{n} done after {timeout:.0f} s")
            if workers.all_exited():
                raise RuntimeError(f"worker exited with {done}/{n} done: {workers.tail()}")
            time.sleep(POLL_S)
    finally:
        workers.stop()
    if children:
        print(f"  note: {system}'s worker had {children} child processes; RSS is the parent's", file=sys.stderr)
    answer = {"rate": n / (now - start), "rss": rss}
    if first_at is not None and first_done is not None:
        answer["startup"] = first_at - start
        if now > first_at:  # else all of them were seen done at the first poll that saw any: no steady rate
            answer["steady"] = (n - first_done) / (now - first_at)
    return answer


def workers_main(args: argparse.Namespace, peers: dict[str, str | None], python: str) -> None:
    import driver

    available = {system for system in SYSTEMS if system == "yotaq" or peers.get(system)}
    results: dict[tuple[str, int, str], list[dict[str, float]]] = {}
    errors: dict[tuple[str, int, str], str] = {}
    began = time.perf_counter()
    with driver.local_redis("yotaq-aio-") as (work, server):
        bench = driver.Bench(server.url, work, args.peer_venv)
        for run in range(args.runs):
            for workload in WORKLOADS:
                for concurrency in CONCURRENCIES:
                    for system in SYSTEMS:
                        key = (workload, concurrency, system)
                        if system not in available:
                            errors[key] = f"not installed in {args.peer_venv}"
                            continue
                        try:
                            answer = measure(bench, system, workload, concurrency, args.tasks, python)
                        except Exception as exc:  # one failed cell, not the whole table
                            errors[key] = str(exc)[:160]
                            print(f"  {system} {workload} {concurrency}: failed: {exc}", file=sys.stderr)
                            continue
                        results.setdefault(key, []).append(answer)
                        print(
                            f"  run {run + 1}: {system:5} {workload:5} x{concurrency:<3} {answer['rate']:8,.0f}/s"
                            f"  start-up {answer.get('startup', float('nan')):.2f} s  RSS {answer['rss']:.1f} MB",
                            file=sys.stderr,
                        )
        bench.redis.close()

    def median(key: tuple[str, int, str], column: str) -> float | None:
        values = [run[column] for run in results.get(key, []) if column in run]
        return statistics.median(values) if values else None

    def cell(key: tuple[str, int, str], column: str, form: str) -> str:
        number = median(key, column)
        return "n/a" if number is None else form.format(number)

    def ratio(workload: str, concurrency: int, peer: str) -> str:
        mine, theirs = (median((workload, concurrency, system), "rate") for system in ("yotaq", peer))
        return "n/a" if mine is None or theirs is None else f"{mine / theirs:.2f}x"

    print(
        f"{args.tasks} tasks enqueued up front, then ONE worker process started; timed from its start to the last "
        f"task done (start-up included); median of {args.runs} run(s); {time.perf_counter() - began:.0f} s in all; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end\n"
    )
    print(
        "| workload | concurrency | yotaq tasks/s | arq tasks/s | saq tasks/s | yotaq peak RSS MB | arq RSS | saq RSS "
        "| yotaq/arq | yotaq/saq |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for workload, label in WORKLOADS.items():
        for concurrency in CONCURRENCIES:
            keys = [(workload, concurrency, system) for system in SYSTEMS]
            rates = " | ".join(cell(key, "rate", "{:,.0f}") for key in keys)
            rss = " | ".join(cell(key, "rss", "{:.1f}") for key in keys)
            ratios = " | ".join(ratio(workload, concurrency, peer) for peer in PEERS)
            print(f"| {label} | {concurrency} | {rates} | {rss} | {ratios} |")
    print("\nStart-up (s from the worker's start to its first finished task) and tasks/s after it:\n")
    print("| workload | concurrency | " + " | ".join(f"{s} start-up s | {s} steady/s" for s in SYSTEMS) + " |")
    print("|---|---:|" + "---:|" * (2 * len(SYSTEMS)))
    for workload, label in WORKLOADS.items():
        for concurrency in CONCURRENCIES:
            cells = []
            for system in SYSTEMS:
                key = (workload, concurrency, system)
                cells += [cell(key, "startup", "{:.2f}"), cell(key, "steady", "{:,.0f}")]
            print(f"| {label} | {concurrency} | " + " | ".join(cells) + " |")
    for (workload, concurrency, system), why in errors.items():
        print(f"\n{system}, {workload}, concurrency {concurrency}: n/a ({why})")


# -- main --------------------------------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--peer":  # the peers' side, in their venv: no yotaq there
        parser = argparse.ArgumentParser()
        parser.add_argument("peer", choices=PEERS)
        parser.add_argument("mode", choices=("enqueue", "fill"))
        parser.add_argument("--url", required=True)
        parser.add_argument("--tasks", type=int, required=True)
        parser.add_argument("--workload", choices=tuple(WORKLOADS))
        asyncio.run(peer_main(parser.parse_args(sys.argv[2:])))
        return
    import driver

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("enqueue", "workers"))
    parser.add_argument("--tasks", type=int, help="enqueues per measurement (5000), tasks per drain (1000)")
    parser.add_argument("--runs", type=int, help="runs; the tables show medians (enqueue: 3, workers: 1)")
    parser.add_argument("--peer-venv", type=Path, default=driver.ROOT / ".venv-bench")
    args = parser.parse_args()
    args.tasks = args.tasks or (5000 if args.mode == "enqueue" else 1000)
    args.runs = args.runs or (3 if args.mode == "enqueue" else 1)
    python = str(args.peer_venv / "bin" / "python")
    names = ("arq", "saq", "redis", "hiredis", "yotaq", "dill")
    mine, peers = driver.versions(sys.executable, names), driver.versions(python, names)
    print(
        f"yotaq {mine.get('yotaq')} (redis-py {mine.get('redis')}, hiredis {mine.get('hiredis')}); "
        f"arq {peers.get('arq')}, saq {peers.get('saq')} "
        f"(redis-py {peers.get('redis')}, hiredis {peers.get('hiredis')})"
    )
    driver.stop_on_signals()
    (enqueue_main if args.mode == "enqueue" else workers_main)(args, peers, python)


if __name__ == "__main__":
    main()

"""One worker process running async tasks: yotaq next to arq and saq, in one run.

    .venv/bin/python benchmarks/async_workers.py [--tasks 1000] [--runs 1] [--peers .venv-bench/bin/python]

Starts its own redis-server on 127.0.0.1 (``compare.py``'s helpers: loopback only, stopped at the end) and,
for each workload, concurrency and system, enqueues ``--tasks`` tasks up front, then starts ONE worker process
and times it from its start (all the enqueues done) until the last task has run: start-up included. Workloads:

- sleep: ``await asyncio.sleep(0.1)``;
- Redis await: ``await r.get("bench:k")``, one real Redis round trip (a loopback GET: well under 1 ms, not a
  blocking server command, so Redis itself is never serialised), on a ``redis.asyncio`` client made once per
  worker process, on first use.

Every task then does ``await r.incr("bench:done")`` on that same client, which is how this script, polling the
counter every 10 ms, knows they are done. Concurrency: 10 (arq's ``max_jobs`` and saq's ``concurrency``
default; yotaq's ``--concurrency 10``) and 100. Each system as its users start it: ``python -m yotaq worker
--concurrency N --burst`` (the tasks are defined here, in ``__main__``, and travel by value with dill),
``arq async_workers.ArqSettings --burst`` (``max_jobs`` = N; arq's CLI logs each job at INFO, its default) and
``saq async_workers.saq_settings`` (``concurrency`` = N, ``burst`` with ``dequeue_timeout`` 1 s, which saq's
burst mode requires; it only counts once the queue is empty). arq and saq run from the peers' venv and import
their settings and tasks from this file (built on first access, so that the file imports in either venv).

Peak RSS is ``VmHWM`` of the worker process (``/proc/<pid>/status``), read at every poll while it runs: with
100 coroutines in flight, at concurrency 100. Every run must end within ``60 s + tasks x seconds per task /
concurrency x 3``; the worker is then stopped (SIGTERM, then SIGKILL by PID, ``compare.Workers``). The
table shows the median of ``--runs`` runs; the systems take turns within each run. A second table splits
each run into the start-up (to the first finished task) and the rate after it, which at 1,000 short tasks
the start-up dominates.

arq at its defaults starts jobs only at each poll of its queue, every ``poll_delay`` (0.5 s), and at most as
many as ``max_jobs`` has free slots then (arq/worker.py, ``start_jobs``): with 0.1 s tasks and ``max_jobs``
10, that is 10 jobs per 0.5 s, 20/s, whatever the machine. yotaq runs under its own venv's redis-py (8.x),
arq and saq under the peers' (5.x), the tasks' own client included: the footer says which.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
URL_VARIABLE = "BENCH_REDIS_URL"
CONCURRENCY_VARIABLE = "BENCH_CONCURRENCY"
DONE_KEY = "bench:done"
GET_KEY = "bench:k"
SLEEP_S = 0.1
WORKLOADS = {"sleep": "asyncio.sleep(0.1)", "redis": "Redis await (GET)"}
CONCURRENCIES = (10, 100)
SYSTEMS = ("yotaq", "arq", "saq")
POLL_S = 0.01
FILL_TIMEOUT_S = 300.0

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


# -- enqueueing (not timed) ------------------------------------------------------------------------------


async def _fill_peer(peer: str, url: str, workload: str, n: int) -> None:
    name = TASKS[workload].__name__
    if peer == "arq":
        from arq import create_pool
        from arq.connections import RedisSettings

        pool = await create_pool(RedisSettings.from_dsn(url))
        enqueue: Any = lambda: pool.enqueue_job(name)  # noqa: E731
    else:
        from saq import Queue

        queue = Queue.from_url(url)
        await queue.connect()
        enqueue = lambda: queue.enqueue(name)  # noqa: E731
    try:
        for first in range(0, n, 100):
            await asyncio.gather(*(enqueue() for _ in range(min(100, n - first))))
    finally:
        await (pool.aclose() if peer == "arq" else queue.disconnect())


def fill(system: str, workload: str, n: int, url: str, peers: str, env: dict[str, str]) -> None:
    if system == "yotaq":
        import yotaq

        connection = yotaq.connect(url)
        queue = yotaq.Queue(connection, secret=env["YOTAQ_SECRET"])  # "tasks": the worker's default queue
        queue.enqueue_many(TASKS[workload], [() for _ in range(n)])
        connection.close()
        return
    command = [peers, __file__, "--fill", system, "--workload", workload, "--tasks", str(n), "--url", url]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=FILL_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError((done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:160])


# -- one measurement --------------------------------------------------------------------------------------


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def worker_command(system: str, concurrency: int, python: str, peers: str) -> list[str]:
    if system == "yotaq":
        return [python, "-m", "yotaq", "worker", "--concurrency", str(concurrency), "--burst"]
    bin_dir = str(Path(peers).parent)
    if system == "arq":
        return [f"{bin_dir}/arq", "async_workers.ArqSettings", "--burst"]
    return [f"{bin_dir}/saq", "async_workers.saq_settings"]


def measure(bench: Any, system: str, workload: str, concurrency: int, n: int, peers: str) -> dict[str, float]:
    """Tasks per second from the worker's start, seconds to the first finished task, tasks per second after
    it, and the worker's peak RSS in MB."""
    from compare import Workers, _descendants

    bench.flush()
    env = {**bench.env, "PYTHONPATH": str(HERE), CONCURRENCY_VARIABLE: str(concurrency)}
    bench.redis.set(GET_KEY, b"x" * 100)
    fill(system, workload, n, bench.url, peers, env)
    if bench.redis.get(DONE_KEY) is not None:
        raise RuntimeError("something ran tasks before the worker started")
    per_task_s = SLEEP_S if workload == "sleep" else 0.001
    timeout = 60 + n * per_task_s / concurrency * 3
    log = bench.work / f"{system}-{workload}-{concurrency}.log"
    start = time.perf_counter()
    workers = Workers([worker_command(system, concurrency, sys.executable, peers)], env, bench.work, log)
    pid = workers.processes[0].pid
    first_at = first_done = None
    rss = 0.0
    children = 0
    try:
        while True:
            done = int(bench.redis.get(DONE_KEY) or 0)
            now = time.perf_counter()
            rss = max(rss, peak_rss_mb(pid) or 0.0)
            if first_at is None and done > 0:
                first_at, first_done = now, done
                children = len(_descendants(pid))
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


# -- the run and the table ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000, help="tasks per measurement (default 1000)")
    parser.add_argument("--runs", type=int, default=1, help="runs; the table shows medians (default 1)")
    parser.add_argument("--peers", default=str(ROOT / ".venv-bench" / "bin" / "python"), help="the peers' python")
    parser.add_argument("--fill", choices=("arq", "saq"), help=argparse.SUPPRESS)  # in the peers' venv
    parser.add_argument("--workload", choices=tuple(WORKLOADS), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill:
        asyncio.run(_fill_peer(args.fill, args.url, args.workload, args.tasks))
        return

    sys.path.insert(0, str(HERE))
    from async_enqueue import versions
    from compare import Bench

    from yotaq.server import EmbeddedRedis

    names = ("arq", "saq", "redis", "hiredis", "yotaq", "dill")
    mine = versions(sys.executable, names)
    peers = versions(args.peers, names) if Path(args.peers).exists() else {}
    available = {system for system in SYSTEMS if system == "yotaq" or peers.get(system)}
    results: dict[tuple[str, int, str], list[dict[str, float]]] = {}
    errors: dict[tuple[str, int, str], str] = {}
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as data, EmbeddedRedis(Path(data)) as server:
        bench = Bench(server.url, Path(data), Path(args.peers).parent.parent)
        for run in range(args.runs):
            for workload in WORKLOADS:
                for concurrency in CONCURRENCIES:
                    for system in SYSTEMS:
                        key = (workload, concurrency, system)
                        if system not in available:
                            errors[key] = f"not installed in {args.peers}"
                            continue
                        try:
                            answer = measure(bench, system, workload, concurrency, args.tasks, args.peers)
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
    elapsed = time.perf_counter() - began

    def median(key: tuple[str, int, str], column: str) -> float | None:
        values = [run[column] for run in results.get(key, []) if column in run]
        return statistics.median(values) if values else None

    def cell(number: float | None, form: str) -> str:
        return "n/a" if number is None else form.format(number)

    def ratio(a: float | None, b: float | None) -> str:
        return "n/a" if a is None or b is None else f"{a / b:.2f}x"

    print(
        f"{args.tasks} tasks enqueued up front, then ONE worker process started; timed from its start to the last "
        f"task done (start-up included); median of {args.runs} run(s); {elapsed:.0f} s in all"
    )
    print(
        f"yotaq {mine.get('yotaq')} (redis-py {mine.get('redis')}, hiredis {mine.get('hiredis')}); "
        f"arq {peers.get('arq')}, saq {peers.get('saq')} "
        f"(redis-py {peers.get('redis')}, hiredis {peers.get('hiredis')})"
    )
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end\n")
    print(
        "| workload | concurrency | yotaq tasks/s | arq tasks/s | saq tasks/s | yotaq peak RSS MB | arq RSS | saq RSS "
        "| yotaq/arq | yotaq/saq |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for workload, label in WORKLOADS.items():
        for concurrency in CONCURRENCIES:
            rates = [median((workload, concurrency, system), "rate") for system in SYSTEMS]
            rss = [median((workload, concurrency, system), "rss") for system in SYSTEMS]
            print(
                f"| {label} | {concurrency} | "
                + " | ".join(cell(rate, "{:,.0f}") for rate in rates)
                + " | "
                + " | ".join(cell(mb, "{:.1f}") for mb in rss)
                + f" | {ratio(rates[0], rates[1])} | {ratio(rates[0], rates[2])} |"
            )
    print("\nStart-up (s from the worker's start to its first finished task) and tasks/s after it:\n")
    print("| workload | concurrency | " + " | ".join(f"{s} start-up s | {s} steady/s" for s in SYSTEMS) + " |")
    print("|---|---:|" + "---:|" * (2 * len(SYSTEMS)))
    for workload, label in WORKLOADS.items():
        for concurrency in CONCURRENCIES:
            cells = []
            for system in SYSTEMS:
                key = (workload, concurrency, system)
                cells += [cell(median(key, "startup"), "{:.2f}"), cell(median(key, "steady"), "{:,.0f}")]
            print(f"| {label} | {concurrency} | " + " | ".join(cells) + " |")
    for (workload, concurrency, system), why in errors.items():
        print(f"\n{system}, {workload}, concurrency {concurrency}: n/a ({why})")


if __name__ == "__main__":
    main()

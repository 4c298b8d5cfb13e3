"""Workflows, yotaq next to celery on the same local Redis: a chord of 1,000 and of 10,000 no-op members, and
a chain of 100 no-op steps.

    .venv/bin/python benchmarks/workflows.py [--sizes 1000,10000] [--chain 100] [--procs 2] [--systems yotaq,celery]

For each: the time from the enqueue's first call to the callback's (the last step's) result, read by the
system's own result API; and the Redis commands it took (``INFO commandstats``, reset before each run, this
script's own INFO left out), per member, next to the same count for as many plain no-op tasks of the same
system, enqueued at once and each waited for (yotaq: ``enqueue_many`` and each ``result``, whose one ``BLMOVE``
each is left out of the count, as a chord's members are not waited for one by one; celery: a ``group`` and
its ``get``, as celery waits for it).
Both systems run ``--procs`` worker processes, warmed up first: yotaq's ``--processes N`` supervisor, celery's
prefork pool with ``--concurrency N``, on the Redis broker and the Redis result backend (a chord needs one).
celery runs from ``--peer-venv`` (benchmarks/compare.py: its pins clash with yotaq's). One run each, on a
Redis emptied first (FLUSHALL); every process started is stopped at the end (by PID, see ``Workers``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import redis
from driver import PEERS, ROOT, Workers, command_calls, local_redis

import yotaq

QUEUE = "bench-workflows"
TIMEOUT_S = 600.0  # yotaq's waits; celery's are --timeout


def noop(*args: object) -> None:
    return None


def commands(client: redis.Redis) -> int:
    """Commands Redis ran since the last ``CONFIG RESETSTAT``, but this script's INFO."""
    return sum(command_calls(client, ("info", "config")).values())


def measured(client: redis.Redis, run: object) -> tuple[float, int]:
    client.config_resetstat()
    start = time.perf_counter()
    run()  # type: ignore[operator]
    return time.perf_counter() - start, commands(client)


def yotaq_runs(url: str, sizes: list[int], chain: int, procs: int, log: Path) -> dict[str, tuple[float, int]]:
    client = yotaq.connect(url)
    queue = yotaq.Queue(client, QUEUE)
    env = {**os.environ, "YOTAQ_REDIS_URL": url, "PYTHONPATH": str(ROOT)}
    workers = Workers(
        [[sys.executable, "-m", "yotaq", "worker", "--queue", QUEUE, "--processes", str(procs)]], env, ROOT, log
    )
    found = {}
    try:
        queue.enqueue(noop).result(timeout=120)  # warm
        for n in sizes:
            seconds, count = measured(
                client, lambda n=n: [job.result(TIMEOUT_S) for job in queue.enqueue_many(noop, [()] * n)]
            )
            found[f"plain {n}"] = (seconds, count - n)  # less the n result waits (one BLMOVE each): a chord has one
            found[f"chord {n}"] = measured(
                client,
                lambda n=n: queue.chord([queue.call(noop, i) for i in range(n)], queue.call(len)).result(TIMEOUT_S),
            )
        steps = [queue.call(noop)] * chain
        found[f"chain {chain}"] = measured(client, lambda: queue.chain(*steps).result(TIMEOUT_S))
    finally:
        workers.stop()
        client.close()
    return found


def celery_runs(
    url: str, sizes: list[int], chain: int, procs: int, venv: Path, log: Path, timeout: float
) -> dict[str, tuple[float, int]]:
    client = redis.Redis.from_url(url)
    env = {**os.environ, "BENCH_REDIS_URL": url, "PYTHONPATH": str(PEERS)}
    command = [str(venv / "bin" / "celery"), "-A", "celery_workflow_tasks", "worker", "--concurrency", str(procs)]
    workers = Workers([[*command, "--loglevel", "WARNING"]], env, PEERS, log)
    python, driver = str(venv / "bin" / "python"), str(PEERS / "drive_celery_workflows.py")

    def drive(kind: str, n: int) -> dict[str, object]:
        try:
            done = subprocess.run(
                [python, driver, kind, str(n), str(timeout)],
                env=env,
                cwd=PEERS,
                capture_output=True,
                text=True,
                timeout=timeout + 30,
            )
        except subprocess.TimeoutExpired:
            return {"seconds": float("inf")}
        if done.returncode != 0:
            raise RuntimeError(done.stderr[-2000:])
        return json.loads(done.stdout.strip().splitlines()[-1])

    found: dict[str, tuple[float, int]] = {}
    try:
        drive("warm", 1)
        runs = [("plain", n) for n in sizes for _ in [0]] + [("chord", n) for n in sizes] + [("chain", chain)]
        for kind, n in sorted(runs, key=lambda run: (run[1], run[0] != "plain")):
            client.config_resetstat()
            seconds = float(drive(kind, n)["seconds"])  # type: ignore[arg-type]
            found[f"{kind} {n}"] = (seconds, commands(client))
    finally:
        workers.stop()
        client.close()
    return found


def table(results: dict[str, dict[str, tuple[float, int]]], sizes: list[int], chain: int) -> str:
    names = list(results)
    head = "| workload | " + " | ".join(
        f"{name}: s to callback | {name}: tasks/s | {name}: cmds/member (plain task)" for name in names
    )
    rows = [head, "|---" * (1 + 3 * len(names)) + "|"]
    for kind, n in [*(("chord", n) for n in sizes), ("chain", chain)]:
        cells = [f"{kind} of {n:,}"]
        for name in names:
            seconds, count = results[name].get(f"{kind} {n}", (float("nan"), 0))
            plain = results[name].get(f"plain {n}")
            baseline = f" ({plain[1] / n:.1f})" if plain else ""
            if seconds == float("inf"):
                cells += ["timed out", "-", "-"]
            else:
                cells += [f"{seconds:.2f}", f"{n / seconds:,.0f}", f"{count / n:.1f}{baseline}"]
        rows.append("| " + " | ".join(cells) + " |")
    if len(names) == 2:
        rows.append("")
        for kind, n in [*(("chord", n) for n in sizes), ("chain", chain)]:
            ours, theirs = (results[name].get(f"{kind} {n}", (float("nan"), 0))[0] for name in names)
            if theirs == float("inf"):
                rows.append(f"- {kind} of {n:,}: {names[1]} did not finish within --timeout")
            else:
                rows.append(f"- {kind} of {n:,}: {names[0]} {theirs / ours:.1f}x {names[1]}'s throughput")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--chain", type=int, default=100)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--systems", default="yotaq,celery")
    parser.add_argument("--peer-venv", type=lambda path: Path(path).resolve(), default=ROOT / ".venv-bench")
    parser.add_argument("--timeout", type=float, default=300.0, help="the longest a celery run may take (s)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict[str, dict[str, tuple[float, int]]] = {}
    with local_redis("yotaq-workflows-") as (scratch, server):
        for system in args.systems.split(","):
            redis.Redis.from_url(server.url).flushall()
            log = scratch / f"{system}.log"
            if system == "yotaq":
                results[system] = yotaq_runs(server.url, sizes, args.chain, args.procs, log)
            else:
                results[system] = celery_runs(
                    server.url, sizes, args.chain, args.procs, args.peer_venv, log, args.timeout
                )
    print(table(results, sizes, args.chain))


if __name__ == "__main__":
    main()

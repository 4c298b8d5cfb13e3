"""Where a drain's time goes, seen from the task: its own round trip, in yotaq and in the bare batch worker.

    .venv/bin/python benchmarks/task_costs.py [--tasks 20000] [--runs 3] [--procs 2 4]

Each run fills a list with ``--tasks`` no-op tasks and drains it with ``--procs`` worker processes: yotaq's
(``python -m yotaq worker``, signed messages) and the bare batch worker (``peers/bare_batch_worker.py``, no
guarantees), one after the other, on one redis-server on 127.0.0.1 (flushed between runs). The task is
compare.py's, an ``INCR`` on its own connection, timed inside the task: the wall time of the call and the CPU
its thread spent in it (``time.thread_time``). Printed per system and process count, medians of the runs:

- drain/s, from starting the workers to the last task;
- the task's ``INCR``: wall time (mean, p50, p90, p99) and the client's CPU (mean), in µs;
- per task, Redis's CPU (``INFO cpu``) and the time of yotaq's script calls (``EVALSHA``, its commands
  inside included, ``INFO commandstats``), with the tasks per call.

The two systems' tasks make the same call, so what differs is what the worker does around it: how long the
call waits for Redis (behind other clients' commands and scripts) and how much colder the caches are for it.
"""

from __future__ import annotations

import argparse
import os
import pickle
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))

import dill  # noqa: E402 - after the peers' folder is on the path
import redis  # noqa: E402
from _common import BARE_KEY  # noqa: E402
from compare import percentile  # noqa: E402

import yotaq  # noqa: E402
from yotaq.server import EmbeddedRedis  # noqa: E402

SECRET = "task-costs-secret"
DONE_KEY = "task_costs:done"
SAVE_EVERY = 500  # tasks between two writes of a worker's timings (those since the last write are lost at its end)


def timed_incr_for(url: str, out: str) -> Callable[[], int]:
    """The timed no-op task, made in ``__main__`` so that it travels by value: it keeps its connection and
    its timings in the rebuilt function's closure, and appends them to ``out/<pid>`` every ``SAVE_EVERY`` tasks."""
    state: dict[str, Any] = {"times": []}

    def timed_incr() -> int:
        import os
        import time

        import redis

        if "client" not in state:
            state["client"] = redis.Redis.from_url(url)
        cpu, wall = time.thread_time(), time.perf_counter()
        value = int(state["client"].incr(DONE_KEY))
        state["times"].append(f"{time.perf_counter() - wall!r} {time.thread_time() - cpu!r}\n")
        if len(state["times"]) == SAVE_EVERY:
            with open(os.path.join(out, str(os.getpid())), "a") as file:
                file.writelines(state["times"])
            state["times"] = []
        return value

    return timed_incr


def fill(system: str, client: redis.Redis, url: str, out: str, tasks: int) -> list[str]:
    """Queue ``tasks`` timed tasks for ``system``; returns the command of one of its worker processes."""
    task = timed_incr_for(url, out)
    if system == "yotaq":
        yotaq.Queue(yotaq.connect(url), secret=SECRET).enqueue_many(task, [() for _ in range(tasks)])
        return [sys.executable, "-m", "yotaq", "worker"]
    message = pickle.dumps((zlib.compress(dill.dumps(task, recurse=True)), (), {}), protocol=pickle.HIGHEST_PROTOCOL)
    for start in range(0, tasks, 1000):
        client.rpush(BARE_KEY, *([message] * min(1000, tasks - start)))
    return [sys.executable, str(HERE / "peers" / "bare_batch_worker.py")]


def drain(system: str, client: redis.Redis, url: str, tasks: int, procs: int) -> dict[str, float]:
    client.flushall()
    with tempfile.TemporaryDirectory() as out:
        command = fill(system, client, url, out, tasks)
        env = dict(os.environ, YOTAQ_REDIS_URL=url, YOTAQ_SECRET=SECRET, BENCH_REDIS_URL=url)
        client.config_resetstat()
        cpu_before = _redis_cpu(client)
        started = time.perf_counter()
        workers = [subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL) for _ in range(procs)]
        try:
            while int(client.get(DONE_KEY) or 0) < tasks:
                if any(worker.poll() is not None for worker in workers):
                    raise RuntimeError(f"a {system} worker exited early ({command})")
                time.sleep(0.01)
            seconds = time.perf_counter() - started
            redis_cpu = _redis_cpu(client) - cpu_before
            script = client.info("commandstats").get("cmdstat_evalsha", {"usec": 0, "calls": 0})
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=30)
        walls, cpus = _timings(Path(out))
    return {
        "drain": tasks / seconds,
        "wall_mean": statistics.fmean(walls) * 1e6,
        "wall_p50": percentile(walls, 0.5) * 1e6,
        "wall_p90": percentile(walls, 0.9) * 1e6,
        "wall_p99": percentile(walls, 0.99) * 1e6,
        "cpu_mean": statistics.fmean(cpus) * 1e6,
        "redis_cpu": redis_cpu / tasks * 1e6,
        "script": script["usec"] / tasks,
        "per_call": tasks / script["calls"] if script["calls"] else 0.0,
    }


def _timings(out: Path) -> tuple[list[float], list[float]]:
    walls: list[float] = []
    cpus: list[float] = []
    for path in out.iterdir():
        for line in path.read_text().splitlines():
            wall, cpu = line.split()
            walls.append(float(wall))
            cpus.append(float(cpu))
    if not walls:
        raise RuntimeError("no timings were written: fewer than SAVE_EVERY tasks per worker?")
    return walls, cpus


def _redis_cpu(client: redis.Redis) -> float:
    cpu = client.info("cpu")
    return float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])


COLUMNS = [
    ("drain", "drain/s", "{:,.0f}"),
    ("wall_mean", "INCR wall mean µs", "{:.0f}"),
    ("wall_p50", "p50", "{:.0f}"),
    ("wall_p90", "p90", "{:.0f}"),
    ("wall_p99", "p99", "{:.0f}"),
    ("cpu_mean", "INCR client CPU µs", "{:.0f}"),
    ("redis_cpu", "Redis CPU µs/task", "{:.1f}"),
    ("script", "script µs/task", "{:.1f}"),
    ("per_call", "tasks/script call", "{:.1f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--procs", type=int, nargs="+", default=[2])
    args = parser.parse_args()
    if args.tasks < SAVE_EVERY * max(args.procs):
        parser.error(f"--tasks must be at least {SAVE_EVERY} per worker process")
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as data, EmbeddedRedis(Path(data)) as server:
        client = redis.Redis.from_url(server.url)
        for run in range(args.runs):
            for procs in args.procs:
                for system in ("yotaq", "bare") if run % 2 == 0 else ("bare", "yotaq"):
                    result = drain(system, client, server.url, args.tasks, procs)
                    results.setdefault((system, procs), []).append(result)
                    print(f"run {run + 1}, {system} x{procs}: {result}", file=sys.stderr)
    print("| system | " + " | ".join(title for _, title, _ in COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    medians = {
        row: {key: statistics.median(r[key] for r in runs) for key, _, _ in COLUMNS} for row, runs in results.items()
    }
    for (system, procs), median in medians.items():
        cells = " | ".join(form.format(median[key]) for key, _, form in COLUMNS)
        print(f"| {system} x{procs} | {cells} |")
    print()
    for procs in args.procs:
        yotaq_row, bare_row = medians[("yotaq", procs)], medians[("bare", procs)]
        print(
            f"- {procs} processes, yotaq / bare: drain {yotaq_row['drain'] / bare_row['drain']:.2f}x, the task's INCR "
            f"wall {yotaq_row['wall_mean'] / bare_row['wall_mean']:.2f}x, its client CPU "
            f"{yotaq_row['cpu_mean'] / bare_row['cpu_mean']:.2f}x"
        )
    print(f"\nmedians of {args.runs} run(s) of {args.tasks:,} tasks, the two systems alternating; "
          f"command: {' '.join(sys.argv)}")  # fmt: skip


if __name__ == "__main__":
    main()

"""Where a drain's time goes, seen from the task: its own round trip, in yotaq and in the bare batch worker;
one worker under cProfile; and the client's cost of one command, per venv.

    .venv/bin/python benchmarks/task_costs.py [--tasks 20000] [--runs 3] [--procs 2 4]
    .venv/bin/python benchmarks/task_costs.py --profile [--tasks 20000] [--top 30] [--plain] [--empty]
    .venv/bin/python benchmarks/task_costs.py --loop .venv-bench /tmp/venv-redis-8.1 [--tasks 20000] [--runs 5]

By default, each run fills a list with ``--tasks`` no-op tasks and drains it with ``--procs`` worker processes:
yotaq's (``python -m yotaq worker``, signed messages) and the bare batch worker (``peers/bare_batch_worker.py``,
no guarantees), one after the other, on one redis-server on 127.0.0.1 (flushed between runs). The task is
compare.py's, an ``INCR`` on its own connection, timed inside the task: the wall time of the call and the CPU
its thread spent in it (``time.thread_time``). Printed per system and process count, medians of the runs:

- drain/s, from starting the workers to the last task;
- the task's ``INCR``: wall time (mean, p50, p90, p99) and the client's CPU (mean), in µs;
- per task, Redis's CPU (``INFO cpu``) and the time of yotaq's script calls (``EVALSHA``, its commands
  inside included, ``INFO commandstats``), with the tasks per call.

The two systems' tasks make the same call, so what differs is what the worker does around it: how long the
call waits for Redis (behind other clients' commands and scripts) and how much colder the caches are for it.

``--profile``: ``--tasks`` no-op tasks (the same ``INCR``; ``--empty``: tasks that do nothing, yotaq's own cost
alone) are enqueued with a secret, then a ``Worker`` drains them in this process under cProfile (``--plain``:
without). Printed: the drain's rate and CPU per task (this process, the profiler's own cost included, so
compare only profiles with each other), Redis's CPU and commands per task from ``INFO``, the commands by name,
and the ``--top`` functions by own time and by cumulative time. For a before/after profile of a change, run it
with ``PYTHONPATH=<a git worktree of the earlier commit>``: its first line says which yotaq it imported.

``--loop VENV ...``: what one Redis command costs the client, per venv (a directory with ``bin/python`` and
redis-py: its version and hiredis, side by side). Each runs, in a process of its own, ``--tasks`` ``INCR`` calls
one after the other on one connection (what each benchmark task does) and reports that process's CPU time per
call (``time.process_time``) and the wall time per call; the venvs take turns for ``--runs`` rounds. On a
machine shared with other work the CPU per call is the steadier figure.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pickle
import pstats
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

import dill
import redis
from driver import PEERS, Workers, command_calls, local_redis, percentile, redis_cpu_s

import yotaq

BARE_KEY = "bench:bare"  # peers/_common.py's: the bare batch worker's list of messages
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
    return [sys.executable, str(PEERS / "bare_batch_worker.py")]


def drain(system: str, client: redis.Redis, url: str, tasks: int, procs: int) -> dict[str, float]:
    client.flushall()
    with tempfile.TemporaryDirectory() as out:
        command = fill(system, client, url, out, tasks)
        env = dict(os.environ, YOTAQ_REDIS_URL=url, YOTAQ_SECRET=SECRET, BENCH_REDIS_URL=url)
        client.config_resetstat()
        cpu_before = redis_cpu_s(client)
        started = time.perf_counter()
        workers = Workers([command] * procs, env, Path(out), Path(out) / "workers.log")
        try:
            while int(client.get(DONE_KEY) or 0) < tasks:
                if workers.exited():
                    raise RuntimeError(f"a {system} worker exited early: {workers.tail()}")
                time.sleep(0.01)
            seconds = time.perf_counter() - started
            redis_cpu = redis_cpu_s(client) - cpu_before
            script = client.info("commandstats").get("cmdstat_evalsha", {"usec": 0, "calls": 0})
        finally:
            workers.stop()
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
        if not path.name.isdigit():  # the workers' log
            continue
        for line in path.read_text().splitlines():
            wall, cpu = line.split()
            walls.append(float(wall))
            cpus.append(float(cpu))
    if not walls:
        raise RuntimeError("no timings were written: fewer than SAVE_EVERY tasks per worker?")
    return walls, cpus


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


# -- --profile: one worker in this process under cProfile ------------------------------------------------


def profile(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    print(f"yotaq from {Path(yotaq.__file__).parent}")
    with local_redis("yotaq-profile-") as (_, server):
        client = yotaq.connect(server.url)
        counter = redis.Redis.from_url(server.url)
        queue = yotaq.Queue(client, secret=SECRET)
        queue.enqueue_many(_noop_for(server.url, args.empty), [() for _ in range(args.tasks)])
        worker = yotaq.Worker(client, secret=SECRET, hooks=[_stop_after(args.tasks)])
        cpu_before, calls_before = redis_cpu_s(counter), command_calls(counter)
        profiler = cProfile.Profile()
        cpu, wall = time.process_time(), time.perf_counter()
        if args.plain:
            worker.run()
        else:
            profiler.runcall(worker.run)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        cpu_after, calls_after = redis_cpu_s(counter), command_calls(counter)
    done = worker.counts["done"]
    print(f"{done:,} tasks in {wall:.2f} s: {done / wall:,.0f}/s, worker CPU {cpu / done * 1e6:.0f} µs/task")
    calls = {name: count - calls_before.get(name, 0) for name, count in calls_after.items()}
    calls = {name: count for name, count in calls.items() if count}
    redis_cpu = (cpu_after - cpu_before) / done * 1e6
    print(f"Redis CPU {redis_cpu:.0f} µs/task, {sum(calls.values()) / done:.2f} commands/task:")
    by_count = sorted(calls.items(), key=lambda call: -call[1])
    print("  " + ", ".join(f"{name} {count / done:.2f}" for name, count in by_count))
    for order in () if args.plain else ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
        print(out.getvalue())


def _stop_after(tasks: int) -> Any:
    """A hook that stops the worker (as SIGTERM does) once ``tasks`` tasks are done: not burst mode, whose
    look for more work before each lease a worker of the drain does not make."""

    class StopAfter(yotaq.Hook):
        def after_task(self, job: Any, outcome: str, error: BaseException | None, seconds: float) -> None:
            nonlocal tasks
            tasks -= 1
            if tasks == 0:
                os.kill(os.getpid(), signal.SIGTERM)

    return StopAfter()


def _noop_for(url: str, empty: bool) -> Any:
    """A no-op task for ``url``, made in ``__main__`` so that it travels by value."""
    state: dict[str, Any] = {}

    def noop() -> int:
        if empty:
            return 0
        import redis

        if "client" not in state:
            state["client"] = redis.Redis.from_url(url)
        return int(state["client"].incr("profile:done"))

    return noop


# -- --loop: one command's client cost, per venv ---------------------------------------------------------

LOOP = """
import json, os, sys, time
import redis
from redis.utils import HIREDIS_AVAILABLE
client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
client.ping()
calls = int(sys.argv[1])
wall, cpu = time.perf_counter(), time.process_time()
for _ in range(calls):
    client.incr("bench:client-cost")
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({"redis": redis.__version__, "hiredis": HIREDIS_AVAILABLE,
                  "cpu_us": 1e6 * cpu / calls, "wall_us": 1e6 * wall / calls}))
"""


def loop(args: argparse.Namespace) -> None:
    results: dict[Path, list[dict[str, Any]]] = {venv: [] for venv in args.loop}
    with local_redis("yotaq-client-cost-") as (_, server):
        for round_ in range(args.runs):
            for venv in args.loop:
                done = subprocess.run(
                    [str(venv / "bin" / "python"), "-c", LOOP, str(args.tasks)],
                    env={**os.environ, "BENCH_REDIS_URL": server.url},
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                if done.returncode != 0:
                    raise SystemExit(f"{venv}: {done.stderr.strip().splitlines()[-1:]}")
                results[venv].append(answer := json.loads(done.stdout))
                print(
                    f"round {round_ + 1}: {venv}: {answer['cpu_us']:.1f} µs CPU, {answer['wall_us']:.1f} µs wall",
                    file=sys.stderr,
                )
    print("| venv | redis-py | hiredis | client CPU µs/INCR | wall µs/INCR | CPU, each round |")
    print("|---|---|---|---:|---:|---|")
    for venv, answers in results.items():
        cpu = statistics.median(answer["cpu_us"] for answer in answers)
        wall = statistics.median(answer["wall_us"] for answer in answers)
        rounds = ", ".join(f"{answer['cpu_us']:.0f}" for answer in answers)
        hiredis = "yes" if answers[0]["hiredis"] else "no"
        print(f"| {venv} | {answers[0]['redis']} | {hiredis} | {cpu:.1f} | {wall:.1f} | {rounds} |")
    print(f"\n{args.tasks:,} INCR calls per round, {args.runs} rounds, the venvs taking turns")


# -- main ---------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks per drain or profile; INCRs per --loop round")
    parser.add_argument("--runs", type=int, default=3, help="runs (rounds of --loop)")
    parser.add_argument("--procs", type=int, nargs="+", default=[2])
    parser.add_argument("--profile", action="store_true", help="one worker in this process under cProfile")
    parser.add_argument("--top", type=int, default=30, help="--profile: functions shown")
    parser.add_argument("--plain", action="store_true", help="--profile without the profiler: rate and costs only")
    parser.add_argument("--empty", action="store_true", help="--profile: tasks that do nothing (yotaq's own cost)")
    parser.add_argument("--loop", type=Path, nargs="+", metavar="VENV", help="an INCR loop's client cost per venv")
    args = parser.parse_args()
    if args.profile:
        profile(args)
        return
    if args.loop:
        loop(args)
        return
    if args.tasks < SAVE_EVERY * max(args.procs):
        parser.error(f"--tasks must be at least {SAVE_EVERY} per worker process")
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    with local_redis("yotaq-task-costs-") as (_, server):
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

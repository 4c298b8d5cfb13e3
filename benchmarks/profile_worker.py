"""Where a worker's time goes: one worker, in this process, under cProfile, draining no-op tasks.

    .venv/bin/python benchmarks/profile_worker.py [--tasks 20000] [--top 30] [--tree DIR]

``--tasks`` no-op tasks (each does ``INCR`` on its own connection, as compare.py's do) are enqueued with a
secret on a fresh redis-server on 127.0.0.1, then a ``Worker(burst=True)`` drains them in this process under
cProfile. Printed: the drain's rate and CPU per task (this process, the profiler's own cost included, so
compare only runs of this script with each other), Redis's CPU and commands per task from ``INFO``, the
commands by name, and the functions by own time and by cumulative time.

``--tree`` puts another yotaq source tree first on ``sys.path`` (a ``git worktree`` of an earlier commit), for
a before/after profile of a change in the same sitting.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SECRET = "profile-secret"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--tree", type=Path, help="a yotaq source tree to import instead of this one")
    parser.add_argument("--plain", action="store_true", help="no profiler: the rate and costs only")
    parser.add_argument("--empty", action="store_true", help="tasks that do nothing (yotaq's own cost alone)")
    args = parser.parse_args()
    if args.tree:
        sys.path.insert(0, str(args.tree.resolve()))
    import redis

    import yotaq
    from yotaq.server import EmbeddedRedis

    logging.basicConfig(level=logging.WARNING)
    print(f"yotaq from {Path(yotaq.__file__).parent}")
    with tempfile.TemporaryDirectory() as data, EmbeddedRedis(Path(data)) as server:
        client = yotaq.connect(server.url)
        counter = redis.Redis.from_url(server.url)
        queue = yotaq.Queue(client, secret=SECRET)
        queue.enqueue_many(_noop_for(server.url, args.empty), [() for _ in range(args.tasks)])
        worker = yotaq.Worker(client, secret=SECRET, hooks=[_stop_after(args.tasks)])
        before = _redis_costs(counter)
        profile = cProfile.Profile()
        cpu, wall = time.process_time(), time.perf_counter()
        if args.plain:
            worker.run()
        else:
            profile.runcall(worker.run)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        after = _redis_costs(counter)
        done = worker.counts["done"]
        print(f"{done:,} tasks in {wall:.2f} s: {done / wall:,.0f}/s, worker CPU {cpu / done * 1e6:.0f} µs/task")
        redis_cpu = (after["cpu"] - before["cpu"]) / done * 1e6
        calls = {name: after["calls"].get(name, 0) - count for name, count in before["calls"].items()}
        calls.update({name: count for name, count in after["calls"].items() if name not in before["calls"]})
        calls = {name: count for name, count in calls.items() if count and name != "info"}
        print(f"Redis CPU {redis_cpu:.0f} µs/task, {sum(calls.values()) / done:.2f} commands/task:")
        by_count = sorted(calls.items(), key=lambda call: -call[1])
        print("  " + ", ".join(f"{name} {count / done:.2f}" for name, count in by_count))
        for order in () if args.plain else ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(order).print_stats(args.top)
            print(out.getvalue())


def _stop_after(tasks: int) -> Any:
    """A hook that stops the worker (as SIGTERM does) once ``tasks`` tasks are done: not burst mode, whose
    look for more work before each lease a worker of the drain does not make."""
    from yotaq import Hook

    class StopAfter(Hook):
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


def _redis_costs(client: Any) -> dict[str, Any]:
    cpu = client.info("cpu")
    stats = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
    return {"cpu": cpu["used_cpu_sys"] + cpu["used_cpu_user"], "calls": calls}


if __name__ == "__main__":
    main()

"""What yotaq leaves in Redis: the key count and memory after many tasks, some failing, and after their expiry.

    .venv/bin/python benchmarks/memory.py [--tasks 100000] [--failing 0.1] [--ttl 5]

Starts its own redis-server on 127.0.0.1, enqueues ``--tasks`` tasks (a ``--failing`` share of them
raise) with ``result_ttl`` and ``failure_ttl`` of ``--ttl`` seconds, drains them with two worker
processes, and prints the keys and ``used_memory`` three times: empty, after the run, and after the
TTLs have passed and the records are trimmed (as workers do every ``TRIM_INTERVAL_S``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import Counter

from driver import local_redis

import yotaq

QUEUE = "memory"


def ok(n: int) -> int:
    return n


def fail(n: int) -> None:
    raise ValueError(f"task {n} fails on purpose")


def snapshot(client: object, label: str) -> None:
    keys = [key.decode() for key in client.scan_iter(count=10_000)]  # type: ignore[attr-defined]
    kinds = Counter(key.split("}:", 1)[-1].split(":", 1)[0] for key in keys)
    memory = client.info("memory")["used_memory"]  # type: ignore[attr-defined]
    print(f"| {label} | {len(keys):,} | {memory / 1e6:.1f} MB | {dict(sorted(kinds.items()))} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--failing", type=float, default=0.1)
    parser.add_argument("--ttl", type=float, default=5.0)
    args = parser.parse_args()
    with local_redis("yotaq-memory-") as (_, server):
        client = yotaq.connect(server.url)
        queue = yotaq.Queue(client, QUEUE).options(result_ttl=args.ttl, failure_ttl=args.ttl)
        print("| when | keys | used_memory | keys by kind |\n|---|---:|---:|---|")
        snapshot(client, "empty")
        failing = int(args.tasks * args.failing)
        for start in range(0, args.tasks - failing, 10_000):
            queue.enqueue_many(ok, [(n,) for n in range(start, min(start + 10_000, args.tasks - failing))])
        queue.enqueue_many(fail, [(n,) for n in range(failing)])
        snapshot(client, f"{args.tasks:,} enqueued")
        started = time.monotonic()
        worker = [sys.executable, "-m", "yotaq", "worker", "--queue", QUEUE, "--burst"]
        env = {"YOTAQ_REDIS_URL": server.url, "PATH": "/usr/bin:/bin"}
        workers = [subprocess.Popen(worker, env=env, stderr=subprocess.DEVNULL) for _ in range(2)]
        for process in workers:
            process.wait(timeout=600)
        info = yotaq.Queue(client, QUEUE).info()
        print(f"| run ({time.monotonic() - started:.0f} s: {info.done:,} done, {info.failed:,} failed) | | | |")
        snapshot(client, "after the run")
        time.sleep(args.ttl + 0.5)
        broker, keys = yotaq.Queue(client, QUEUE).broker, yotaq.Queue(client, QUEUE).keys
        while yotaq.Queue(client, QUEUE).info().failed or client.zcard(keys.jobs_of("failed")):
            broker.trim(keys)  # at most a batch per call, as a worker does now and then
        snapshot(client, f"after expiry ({args.ttl:g} s) and trimming")


if __name__ == "__main__":
    main()

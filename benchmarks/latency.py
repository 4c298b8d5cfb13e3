"""Wake-up latencies: how soon yotaq reacts when nothing is busy. Loopback only, bounded, stops by itself.

    python benchmarks/latency.py [--samples 100]

Starts its own redis-server and worker processes and measures, on this machine:
- result wait: from the task's last line to the waiter holding the result (the worker stores it,
  the waiter blocked in Redis wakes);
- delayed start: how late a delayed task starts after its time;
- idle start: from enqueue to the task's first line, for a worker on one queue and for a worker on
  two queues with the task on the second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yotaq
from yotaq.server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent


def now() -> float:
    return time.time()


def _worker(url: str, *queues: str) -> subprocess.Popen[bytes]:
    args = [arg for queue in queues for arg in ("--queue", queue)]
    env = dict(os.environ, YOTAQ_REDIS_URL=url)
    return subprocess.Popen(
        [sys.executable, "-m", "yotaq", "worker", *args], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )


def _wait_registered(queue: yotaq.Queue) -> None:
    while not queue.info().workers:
        time.sleep(0.05)


def _row(name: str, samples_ms: list[float]) -> str:
    samples_ms.sort()
    p99 = samples_ms[min(len(samples_ms) - 1, round(len(samples_ms) * 0.99))]
    return f"| {name} | {len(samples_ms)} | {statistics.median(samples_ms):.2f} | {p99:.2f} | {samples_ms[-1]:.2f} |"


def measure(url: str, samples: int) -> list[str]:
    client = yotaq.connect(url)
    one, first, second = (yotaq.Queue(client, name) for name in ("one", "first", "second"))
    workers = [_worker(url, "one"), _worker(url, "first", "second")]
    try:
        _wait_registered(one)
        _wait_registered(first)
        result_wait, idle_one, idle_second, delayed = [], [], [], []
        for _ in range(samples):
            job = one.enqueue(now)
            finished = job.result(timeout=10)
            result_wait.append((time.time() - finished) * 1000)
            time.sleep(0.02)  # let the worker go idle again
            enqueued = time.time()
            idle_one.append((one.enqueue(now).result(timeout=10) - enqueued) * 1000)
            time.sleep(0.02)
            enqueued = time.time()
            idle_second.append((second.enqueue(now).result(timeout=10) - enqueued) * 1000)
        due = [(time.time() + 0.2 + 0.01 * n, one.enqueue(now, delay=0.2 + 0.01 * n)) for n in range(samples)]
        for due_at, job in due:
            delayed.append((job.result(timeout=30) - due_at) * 1000)
        return [
            "| latency | samples | p50 ms | p99 ms | max ms |",
            "|---|---|---|---|---|",
            _row("result wait: task end to waiter", result_wait),
            _row("idle start, one queue: enqueue to task start", idle_one),
            _row("idle start, second of two queues", idle_second),
            _row("delayed task: due time to start", delayed),
        ]
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(10)
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data, EmbeddedRedis(Path(data)) as server:
        print(f"yotaq latencies, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
        print("\n".join(measure(server.url, args.samples)))


if __name__ == "__main__":
    main()

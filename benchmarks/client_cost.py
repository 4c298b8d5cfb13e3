"""What one Redis command costs the client, per venv: redis-py's version and hiredis, side by side.

    .venv/bin/python benchmarks/client_cost.py .venv-bench /tmp/venv-redis-7.1 /tmp/venv-redis-8.1 [--calls 20000]

Each VENV (a directory with ``bin/python`` and redis-py) runs, in a process of its own, ``--calls`` ``INCR``
calls one after the other on one connection (what each benchmark task does), and reports the CPU time of
that process per call (``time.process_time``) and the wall time per call. The venvs take turns for
``--rounds`` rounds on one redis-server on 127.0.0.1; the medians are printed as a markdown table. On a
machine shared with other work the CPU per call is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from yotaq.server import EmbeddedRedis

CHILD = """
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("venvs", nargs="+", type=Path)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results: dict[Path, list[dict]] = {venv: [] for venv in args.venvs}
    with tempfile.TemporaryDirectory(prefix="yotaq-client-cost-") as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        for round_ in range(args.rounds):
            for venv in args.venvs:
                done = subprocess.run(
                    [str(venv / "bin" / "python"), "-c", CHILD, str(args.calls)],
                    env={**os.environ, "BENCH_REDIS_URL": server.url},
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                if done.returncode != 0:
                    raise SystemExit(f"{venv}: {done.stderr.strip().splitlines()[-1:]}")
                results[venv].append(json.loads(done.stdout))
                answer = results[venv][-1]
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
    print(f"\n{args.calls:,} INCR calls per round, {args.rounds} rounds, the venvs taking turns")


if __name__ == "__main__":
    main()

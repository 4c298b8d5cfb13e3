"""One master of a Redis Cluster killed under a worker serving a 3-shard queue: how long the tasks on the
other shards wait meanwhile, and how long until the dead shard runs tasks again.

    .venv/bin/python benchmarks/cluster_failover.py [--replicas 1] [--node-timeout-ms 5000]
        [--full-coverage yes|no] [--concurrency N] [--span 12] [--runs 3]

Each run starts a cluster of its own (tests/clusters.py's ``LocalCluster``: 3 masters, ``--replicas`` each,
on 127.0.0.1), picks a queue name whose 3 shards are on the 3 masters, starts one worker
(``python -m yotaq worker --queue Q --shards 3``), runs a task on each shard, then ``kill -9``s shard 1's
master. From then on, for ``--span`` seconds, it enqueues a task on each of shards 0 and 2 every 0.25 s and
waits for it (the wait: from before the enqueue to the time the task ran, read in the worker); meanwhile a
thread enqueues a task on shard 1 until an enqueue goes through (a replica has taken over) and notes when
it ran. Printed per run: the first task on the other shards to run after the kill, their longest wait,
the dead shard's first task, whether the worker still runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))  # tests.clusters; yotaq from $PYTHONPATH first

import yotaq
from tests.clusters import LocalCluster
from yotaq.broker.keys import QueueKeys, shard_of

DEAD, HEALTHY = 1, (0, 2)


def on_shard(shard: int, tag: str) -> str:
    n = 0
    while shard_of(f"{tag}-{n}", 3) != shard:
        n += 1
    return f"{tag}-{n}"


def run(args: argparse.Namespace, work: Path) -> str:
    full = args.full_coverage == "yes"
    with LocalCluster(work, replicas=args.replicas, node_timeout_ms=args.node_timeout_ms, full_coverage=full) as c:
        client = yotaq.connect(c.url)
        name = f"q{uuid.uuid4().hex[:6]}"
        while len({c.master_of(keys.pending) for keys in QueueKeys.of(name, 3)}) < 3:
            name = f"q{uuid.uuid4().hex[:6]}"
        queue = yotaq.Queue(client, name, shards=3)
        command = [sys.executable, "-m", "yotaq", "worker", "--queue", name, "--shards", "3"]
        command += ["--concurrency", str(args.concurrency)] if args.concurrency > 1 else []
        env = dict(os.environ, YOTAQ_REDIS_URL=c.url, PYTHONUNBUFFERED="1")
        with (work / "worker.log").open("wb") as log:
            # Started where the yotaq imported here lives: ``-m`` looks in the working directory first.
            cwd = Path(yotaq.__file__).parent.parent
            worker = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            for shard in range(3):
                queue.options(job_id=on_shard(shard, "before")).enqueue(time.time).result(timeout=30)
            c.kill(c.master_of(queue.shards[DEAD].pending))
            killed_at = time.time()
            dead_ran: list[float] = []

            def dead_shard() -> None:
                for n in range(1000):
                    if time.time() - killed_at > args.span + 30:
                        return
                    try:
                        job = queue.options(job_id=on_shard(DEAD, f"dead{n}")).enqueue(time.time)
                        dead_ran.append(job.result(timeout=60))
                        return
                    except yotaq.YotaqError:
                        time.sleep(0.05)

            thread = threading.Thread(target=dead_shard, daemon=True)
            thread.start()
            waits, first, errors, n = [], None, 0, 0
            while time.time() - killed_at < args.span:
                for shard in HEALTHY:
                    enqueued_at = time.time()
                    try:
                        ran_at = queue.options(job_id=on_shard(shard, f"r{n}")).enqueue(time.time).result(timeout=30)
                    except yotaq.YotaqError:
                        errors += 1
                        continue
                    waits.append(ran_at - enqueued_at)
                    first = first or ran_at - killed_at
                n += 1
                time.sleep(0.25)
            thread.join()
            alive = worker.poll() is None
        finally:
            worker.terminate()
            worker.wait(30)
            client.close()
    dead = f"{dead_ran[0] - killed_at:.2f} s" if dead_ran else "never"
    first_s = f"{first:.2f} s" if first is not None else "never"
    longest = f"{max(waits):.2f} s" if waits else "-"
    return (
        f"other shards: first task ran {first_s} after the kill, longest wait {longest} ({len(waits)} tasks, "
        f"{errors} raised); dead shard's first task ran {dead} after; worker {'running' if alive else 'EXITED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--node-timeout-ms", type=int, default=5000)
    parser.add_argument("--full-coverage", choices=("yes", "no"), default="yes")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--span", type=float, default=12.0, help="seconds of tasks on the other shards after the kill")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(
        f"replicas={args.replicas} cluster-node-timeout={args.node_timeout_ms} ms "
        f"cluster-require-full-coverage={args.full_coverage} concurrency={args.concurrency}; "
        f"yotaq from {Path(yotaq.__file__).parent}"
    )
    for number in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="cluster-failover-") as work:
            print(f"run {number + 1}: {run(args, Path(work))}", flush=True)


if __name__ == "__main__":
    main()

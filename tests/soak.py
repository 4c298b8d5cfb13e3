"""The soak: many short tasks while workers are SIGKILLed and Redis restarts. Bounded, loopback only.

    python -m tests.soak            # prints the figures (lost, duplicated, recovery times)

tests/test_soak.py runs it and checks the promise: nothing lost, nothing left pending or active,
duplicates no more than the tasks in flight at the kills.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yotaq
from yotaq.server import EmbeddedRedis

from . import tasks
from .helpers import ROOT

QUEUE = "soak"


@dataclass
class SoakReport:
    tasks: int
    ran: int
    lost: int
    duplicated: int
    kills: int
    in_flight_at_kills: int
    pending: int
    active: int
    failed: int
    dead: int
    recovery_after_kill_s: list[float]
    recovery_after_redis_restart_s: float
    elapsed_s: float

    def summary(self) -> str:
        kill = self.recovery_after_kill_s
        return (
            f"{self.tasks} tasks: {self.lost} lost, {self.duplicated} run twice, {self.pending} pending, "
            f"{self.active} active, {self.failed} failed, {self.dead} dead after {self.kills} SIGKILLs "
            f"({self.in_flight_at_kills} tasks in flight at the kills) and one Redis restart, "
            f"in {self.elapsed_s:.1f} s\n"
            f"tasks given back after a kill: median {statistics.median(kill):.2f} s, max {max(kill):.2f} s "
            f"(liveness timeout {LIVENESS_S} s)\n"
            f"tasks done again {self.recovery_after_redis_restart_s:.2f} s after Redis came back"
        )


LIVENESS_S = 2.0
HEARTBEAT_S = 0.25
BURST_EVERY_S = 0.1


def _worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("YOTAQ_")}
    env["YOTAQ_REDIS_URL"] = url
    args = [
        "-m",
        "yotaq",
        "worker",
        "--queue",
        QUEUE,
        "--liveness-timeout",
        str(LIVENESS_S),
        "--heartbeat-interval",
        str(HEARTBEAT_S),
    ]
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _registered(queue: yotaq.Queue, pid: int) -> str | None:
    return next((w for w in queue.redis.zrange(queue.keys.workers, 0, -1) if f".{pid}.".encode() in w), None)


def run_soak(
    num_tasks: int = 5000,
    num_workers: int = 4,
    kill_every_s: float = 1.0,
    kill_for_s: float = 10.0,
    task_s: float = 0.0005,
    timeout_s: float = 120.0,
) -> SoakReport:
    """Tasks arrive in bursts (enqueue_many) all through the kills, so workers lease and
    acknowledge them in batches: the guarantees are checked with batching on."""
    with tempfile.TemporaryDirectory(prefix="yotaq-soak-") as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        journal, logs = Path(tmp) / "journal.txt", Path(tmp)
        queue = yotaq.Queue(yotaq.connect(server.url), QUEUE)
        bursts = round(kill_for_s / BURST_EVERY_S)
        burst_size = -(-num_tasks // bursts)
        enqueued = 0
        workers = [_worker(server.url, logs / f"worker-{n}.log") for n in range(num_workers)]
        try:
            started = time.monotonic()
            kills: list[tuple[float, int]] = []  # (when, pid)
            recovered: dict[int, float] = {}  # pid -> seconds until its tasks were given back
            in_flight = 0
            redis_back_at = restart_recovery = None
            done_before_restart = 0
            deadline = started + kill_for_s + timeout_s
            while True:
                now = time.monotonic()
                if enqueued < num_tasks and now - started >= BURST_EVERY_S * (enqueued // burst_size):
                    calls = [(str(journal), n, task_s) for n in range(enqueued, min(num_tasks, enqueued + burst_size))]
                    queue.enqueue_many(tasks.slow, calls)
                    enqueued += len(calls)
                for when, pid in kills:
                    if pid not in recovered and _registered(queue, pid) is None:
                        recovered[pid] = now - when
                if restart_recovery is None and redis_back_at and _done(journal) > done_before_restart:
                    restart_recovery = now - redis_back_at
                if len(kills) < round(kill_for_s / kill_every_s):
                    if redis_back_at is None and now - started > kill_for_s / 2:
                        server.stop()
                        time.sleep(0.5)
                        server.start()
                        redis_back_at, done_before_restart = time.monotonic(), _done(journal)
                    if now - started >= kill_every_s * (len(kills) + 1):
                        victim = random.randrange(num_workers)
                        pid = workers[victim].pid
                        worker_id = _registered(queue, pid)
                        in_flight += queue.redis.llen(queue.keys.active(worker_id.decode())) if worker_id else 0
                        workers[victim].kill()
                        workers[victim].wait()
                        kills.append((time.monotonic(), pid))
                        workers[victim] = _worker(server.url, logs / f"worker-{victim}.log")
                else:
                    info = queue.info()
                    if (info.pending == 0 and info.active == 0 and len(recovered) == len(kills)) or now > deadline:
                        break
                time.sleep(0.01)
        finally:
            for process in workers:
                process.send_signal(signal.SIGTERM)
            for process in workers:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            queue.redis.close()
        runs = Counter(value for value, _ in tasks.events(journal, "done"))
        return SoakReport(
            tasks=num_tasks,
            ran=len(runs),
            lost=num_tasks - len(runs),
            duplicated=sum(runs.values()) - len(runs),
            kills=len(kills),
            in_flight_at_kills=in_flight,
            pending=info.pending,
            active=info.active,
            failed=info.failed,
            dead=info.dead,
            recovery_after_kill_s=list(recovered.values()) or [float("nan")],
            recovery_after_redis_restart_s=restart_recovery or float("nan"),
            elapsed_s=time.monotonic() - started,
        )


def _done(journal: Path) -> int:
    return len(tasks.events(journal, "done"))


if __name__ == "__main__":
    print(run_soak().summary())

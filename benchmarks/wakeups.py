"""Wake-ups: how late idle yotaq workers start delayed tasks, retries and periodic ticks, how soon they stop a
cancelled task, and what they send Redis meanwhile.

    .venv/bin/python benchmarks/wakeups.py [--delayed 200] [--retried 50] [--ticks-s 15] [--cancels 30]
                                           [--idle-s 10] [--json benchmarks/results/wakeups.json]
    .venv/bin/python benchmarks/wakeups.py --delayed 40 --retried 10 --ticks-s 5 --cancels 6 --idle-s 3

One redis-server of its own (``yotaq.server.EmbeddedRedis``, loopback, a free port, append-only file) and two
``python -m yotaq worker --queue bench`` processes at their defaults (``YOTAQ_REDIS_URL`` pointing there), idle
between the tasks below, which the harness enqueues one phase after the other. Every task is a function of this
file, sent by value (dill), and notes ``time.time()`` where it stands in a Redis list (``RPUSH``, on a connection
of its own, after reading the time); the harness reads the lists at the end of each phase, so a worker's wake-up
is timed by the worker's own process, on the machine's one clock:

1. **Delayed tasks**: ``--delayed`` (200) tasks, one every ``--pace-s`` (0.05 s), each with
   ``queue.options(delay=d)`` and ``d`` drawn uniformly from 0.5 to 10 s (to the millisecond, ``--seed``).
   Lateness = the task's first line - (the wall time just before its ``enqueue`` call + ``d``). Redis computes
   the due time from its own clock at the enqueue script, a fraction of a millisecond after that wall time, in
   whole milliseconds: the figure is within about 1 ms of the lateness against Redis's own due time.
2. **Retries**: ``--retried`` (50) tasks, one every ``--retry-pace-s`` (0.15 s), with ``retries=1,
   retry_delay=0.5, retry_backoff=1``, whose first try notes its time and raises. yotaq draws the wait before a
   retry in the upper half of its step ("equal jitter", ``Options.backoff``): 0.25 to 0.5 s here, not 0.5. So
   the harness reads the retry's due time where the worker put it, its score in the queue's scheduled sorted set
   (``ZSCORE``, polled every millisecond from the first try's note until it is there), and the lateness is the
   second try's first line - that due time. The lateness against the first failure + 0.5 s is reported too: it
   is that lateness less what the jitter took off the 0.5 s (0 to 250 ms), so mostly negative.
3. **Periodic ticks**: one ``queue.periodic(every=1.0, name=...)`` schedule for ``--ticks-s`` (15 s), then
   ``queue.remove_periodic``. A tick's job id is the schedule's name and its due time in milliseconds
   (``name@due``), which the task reads with ``yotaq.current_job().id``: lateness = its first line - that due
   time. The intervals between consecutive ticks' starts, against 1.0 s, are reported too.
4. **Cancels**: ``--cancels`` (30) plain functions that loop on ``time.sleep(0.01)`` for up to 30 s, two at a
   time (one per worker), and as many ``async def`` tasks awaiting ``asyncio.sleep(30)``, all running at once
   on a third worker, ``--concurrency 50`` on a queue of its own. Once a task has noted its start, and 50 to
   150 ms later (20 to 50 for the coroutines), ``job.cancel()``; one at a time, each waited for. Timed from
   just before the call: until it returns; until the task notes its interruption in its ``finally`` (the worker
   raises ``TaskCancelled`` into a function, cancels a coroutine); and until ``job.status`` reads ``cancelled``
   (polled every millisecond), that is until the worker has recorded the cancellation: a running job reads
   ``active`` until then, as docs/guide/cancel.md says, though ``job.result()`` raises ``JobCancelled`` from the
   call's return on (checked, with ``timeout=0``, and counted).

Redis commands (``INFO commandstats`` calls, less the harness's INFOs, as benchmarks/fleet.py counts them) over
windows in which the harness sends Redis nothing else: ``--idle-s`` (10 s) with nothing queued, after
``--settle-s`` (5 s) for the workers to settle; the delayed tasks' wait, from the last enqueue until 1 s after
the last due time (what the workers send is then their idle cost plus each task's own); and the periodic
schedule's ``--ticks-s``. A blocking command is counted when it returns (a worker's waits last up to 8 s).

The table goes to stdout, every figure and sample to ``--json`` (default ``benchmarks/results/wakeups.json``),
which docs/benchmarks.md shows (``<!-- wakeups-table: ... -->``, docs/hooks.py). Everything runs on 127.0.0.1;
every process it starts (Redis, the workers) is stopped by its PID on the way out, after an error, SIGTERM or
Ctrl-C too. The defaults take about 65 s.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import charts
import driver
import redis
from driver import ROOT, Failed

import yotaq

RESULTS = driver.RESULTS / "wakeups.json"
QUEUE = "bench"
ASYNC_QUEUE = "bench-async"
TICK_NAME = "bench-wakeups-tick"
EVERY_S = 1.0
RETRY_DELAY_S = 0.5
TASK_S = 30.0  # how long a task that is to be cancelled would run
ASYNC_CONCURRENCY = 50
START_TIMEOUT_S = 30.0  # for the workers to register
WAIT_TIMEOUT_S = 10.0  # for any one note of a task
GOALS = {"delayed": {"p50": 20.0, "max": 100.0}, "cancel": {"max": 200.0}}  # ms, the issue's


# -- the tasks: by value, each notes the time where it stands on a connection of its own --------------


def _note(url: str, key: str, text: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.rpush(key, text)
    finally:
        client.close()


def started(url: str, key: str, tag: str) -> None:
    import time

    _note(url, key, f"{tag} {time.time():.6f}")


def fails_once(url: str, key: str, tag: str) -> None:
    import time

    import yotaq

    now = time.time()
    attempt = yotaq.current_job().attempt
    _note(url, f"{key}:{attempt}", f"{tag} {now:.6f}")
    if attempt == 0:
        raise RuntimeError("the first try fails, as planned")


def ticked(url: str, key: str) -> None:
    import time

    import yotaq

    now = time.time()
    _note(url, key, f"{yotaq.current_job().id} {now:.6f}")


def spins(url: str, key: str, tag: str, seconds: float) -> None:
    import time

    _note(url, f"{key}:start", f"{tag} {time.time():.6f}")
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.01)
    finally:
        _note(url, f"{key}:stop", f"{tag} {time.time():.6f}")


async def sleeps(url: str, key: str, tag: str, seconds: float) -> None:
    import asyncio
    import time

    _note(url, f"{key}:start", f"{tag} {time.time():.6f}")
    try:
        await asyncio.sleep(seconds)
    finally:
        _note(url, f"{key}:stop", f"{tag} {time.time():.6f}")


# -- figures ------------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least ``p`` % of the values at or below it."""
    return sorted_values[max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))]


def summary(samples_ms: list[float]) -> dict[str, Any]:
    values = sorted(samples_ms)
    if not values:
        return {"samples": 0}
    return {
        "samples": len(values),
        "min": values[0],
        "p50": statistics.median(values),
        "p99": percentile(values, 99),
        "max": values[-1],
        "mean": statistics.fmean(values),
        "values": [round(value, 3) for value in samples_ms],
    }


def notes(client: redis.Redis, key: str) -> dict[str, float]:
    """The notes in ``key``: tag -> time."""
    found = {}
    for raw in client.lrange(key, 0, -1):
        tag, at = raw.decode().rsplit(" ", 1)
        found[tag] = float(at)
    return found


def wait_notes(client: redis.Redis, key: str, count: int, timeout_s: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout_s
    while client.llen(key) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return notes(client, key)


def sleep_until(monotonic_at: float) -> None:
    time.sleep(max(0.0, monotonic_at - time.monotonic()))


# -- the bench ----------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, url: str, work: Path, seed: int) -> None:
        self.url = url
        self.work = work
        self.redis = redis.Redis.from_url(url)  # the harness's: INFO, the notes, ZSCORE, HEXISTS
        self.queue = yotaq.Queue(yotaq.connect(url), QUEUE)
        self.async_queue = yotaq.Queue(self.queue.redis, ASYNC_QUEUE)
        self.rng = random.Random(seed)
        env = {**os.environ, "YOTAQ_REDIS_URL": url, "PYTHONPATH": str(Path(yotaq.__file__).parent.parent)}
        self.workers = driver.Workers([], env, ROOT, work / "workers.log")

    # the workers

    def start_worker(self, queue: str, *extra: str) -> None:
        self.workers.start([sys.executable, "-m", "yotaq", "worker", "--queue", queue, *extra])

    def wait_registered(self, queue: yotaq.Queue, count: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(queue.info().workers) < count:
            self.check()
            if time.monotonic() > deadline:
                raise Failed(f"{count} workers not registered on {queue.name} within {START_TIMEOUT_S:g} s")
            time.sleep(0.05)

    def check(self) -> None:
        exited = self.workers.exited()
        if exited:
            raise Failed(f"worker(s) {exited} exited: {self.workers.tail(5)}")

    def close(self) -> None:
        try:
            self.workers.stop()
        finally:
            self.queue.redis.close()
            self.redis.close()

    # Redis's commands

    def calls(self) -> dict[str, int]:
        return driver.command_calls(self.redis)

    @staticmethod
    def window(before: dict[str, int], after: dict[str, int], seconds: float, tasks: int) -> dict[str, Any]:
        by_command = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
        total = sum(by_command.values())
        return {
            "seconds": seconds,
            "commands": total,
            "commands_per_s": total / seconds,
            "tasks": tasks,
            "by_command": dict(sorted(by_command.items(), key=lambda item: -item[1])),
        }

    # the phases

    def idle(self, seconds: float) -> dict[str, Any]:
        before, start = self.calls(), time.monotonic()
        time.sleep(seconds)
        self.check()
        after = self.calls()
        return self.window(before, after, time.monotonic() - start, 0)

    def delayed(self, count: int, pace_s: float) -> dict[str, Any]:
        key = "bench:delayed"
        due: dict[str, float] = {}
        begin = time.monotonic()
        for i in range(count):
            sleep_until(begin + i * pace_s)
            delay = round(self.rng.uniform(0.5, 10.0), 3)
            enqueued = time.time()
            self.queue.options(delay=delay).enqueue(started, self.url, key, str(i))
            due[str(i)] = enqueued + delay
        # the wait: nothing but INFO from the harness, until a second after the last due time
        waited_from, before, start = time.time(), self.calls(), time.monotonic()
        time.sleep(max(0.0, max(due.values()) + 1.0 - time.time()))
        after, seconds = self.calls(), time.monotonic() - start
        self.check()
        ran = wait_notes(self.redis, key, count, WAIT_TIMEOUT_S)
        in_window = sum(1 for at in ran.values() if waited_from <= at <= waited_from + seconds)
        lateness = [(ran[tag] - due[tag]) * 1000 for tag in due if tag in ran]
        return {
            "lateness_ms": summary(lateness),
            "missing": count - len(lateness),
            "wait": self.window(before, after, seconds, in_window),
        }

    def retried(self, count: int, pace_s: float) -> dict[str, Any]:
        key = "bench:tries"
        options = self.queue.options(retries=1, retry_delay=RETRY_DELAY_S, retry_backoff=1)
        failed_at: dict[str, float] = {}
        due: dict[str, float] = {}
        begin = time.monotonic()
        for i in range(count):
            sleep_until(begin + i * pace_s)
            tag = str(i)
            job = options.enqueue(fails_once, self.url, key, tag)
            popped = self.redis.blpop([f"{key}:0"], timeout=WAIT_TIMEOUT_S)
            if popped is None:
                self.check()
                raise Failed(f"retried task {tag}: no first try within {WAIT_TIMEOUT_S:g} s")
            first_tag, at = popped[1].decode().rsplit(" ", 1)
            failed_at[first_tag] = float(at)
            deadline = time.monotonic() + 1.0
            while (score := self.redis.zscore(self.queue.keys.scheduled, job.id)) is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.001)
            if score is not None:
                due[tag] = score / 1000
        self.check()
        second = wait_notes(self.redis, f"{key}:1", count, WAIT_TIMEOUT_S)
        lateness = [(second[tag] - due[tag]) * 1000 for tag in due if tag in second]
        naive = [(second[tag] - failed_at[tag] - RETRY_DELAY_S) * 1000 for tag in failed_at if tag in second]
        drawn = [(due[tag] - failed_at[tag]) * 1000 for tag in due if tag in failed_at]
        return {
            "lateness_ms": summary(lateness),
            "vs_failure_plus_delay_ms": summary(naive),
            "drawn_delay_ms": summary(drawn),
            "missing": count - len(lateness),
            "due_unread": count - len(due),
        }

    def periodic(self, seconds: float) -> dict[str, Any]:
        key = "bench:ticks"
        self.queue.periodic(every=EVERY_S, name=TICK_NAME)(functools.partial(ticked, self.url, key))
        window_from, before, start = time.time(), self.calls(), time.monotonic()
        time.sleep(seconds)
        after, window_s = self.calls(), time.monotonic() - start
        skipped = sum(schedule.skipped for schedule in self.queue.periodics() if schedule.name == TICK_NAME)
        removed = self.queue.remove_periodic(TICK_NAME)
        time.sleep(EVERY_S + 0.2)  # a tick enqueued just before the removal runs
        self.check()
        ran = sorted(
            (int(job_id.rsplit("@", 1)[1].split(".")[0]) / 1000, at) for job_id, at in notes(self.redis, key).items()
        )
        lateness = [(at - due) * 1000 for due, at in ran]
        intervals = [(later[1] - earlier[1]) * 1000 for earlier, later in itertools.pairwise(ran)]
        dues = [(later[0] - earlier[0]) * 1000 for earlier, later in itertools.pairwise(ran)]
        return {
            "lateness_ms": summary(lateness),
            "interval_ms": summary(intervals),
            "interval_deviation_ms": summary([abs(interval - EVERY_S * 1000) for interval in intervals]),
            "due_steps_ms": sorted(set(round(step) for step in dues)),
            "skipped": skipped,
            "removed": removed,
            "window": self.window(
                before, after, window_s, sum(1 for _, at in ran if window_from <= at <= window_from + window_s)
            ),
        }

    def cancels(
        self, queue: yotaq.Queue, fn: Any, count: int, at_once: int, after_s: tuple[float, float]
    ) -> dict[str, Any]:
        key = f"bench:{queue.name}"
        to_cancel, returned, interrupted, recorded = [], [], [], []
        at_return: dict[str, int] = {}  # job.status at cancel()'s return: how many read each
        result_cancelled = 0  # job.result(timeout=0) raised JobCancelled at cancel()'s return
        for first in range(0, count, at_once):
            tags = [f"c{i}" for i in range(first, min(count, first + at_once))]
            jobs = [queue.enqueue(fn, self.url, key, tag, TASK_S) for tag in tags]
            for _ in jobs:
                if self.redis.blpop([f"{key}:start"], timeout=WAIT_TIMEOUT_S) is None:
                    self.check()
                    raise Failed(f"{queue.name}: {len(jobs)} tasks to cancel not all started in {WAIT_TIMEOUT_S:g} s")
            to_cancel += list(zip(tags, jobs, strict=True))
            while to_cancel:
                tag, job = to_cancel.pop(0)
                time.sleep(self.rng.uniform(*after_s))
                called = time.time()
                if not job.cancel():
                    raise Failed(f"{queue.name}: job {job.id} had finished when cancelled")
                returned.append((time.time() - called) * 1000)
                status = str(job.status)
                at_return[status] = at_return.get(status, 0) + 1
                try:
                    job.result(timeout=0)
                except yotaq.JobCancelled:
                    result_cancelled += 1
                except yotaq.YotaqError:
                    pass
                popped = self.redis.blpop([f"{key}:stop"], timeout=WAIT_TIMEOUT_S)
                if popped is None:
                    self.check()
                    raise Failed(f"{queue.name}: job {job.id} not interrupted within {WAIT_TIMEOUT_S:g} s")
                stopped_tag, at = popped[1].decode().rsplit(" ", 1)
                if stopped_tag != tag:
                    raise Failed(f"{queue.name}: {stopped_tag} stopped, not {tag}, the one cancelled")
                interrupted.append((float(at) - called) * 1000)
                deadline = time.monotonic() + WAIT_TIMEOUT_S
                while job.status != yotaq.Status.CANCELLED:
                    if time.monotonic() > deadline:
                        raise Failed(f"{queue.name}: job {job.id} not cancelled in {WAIT_TIMEOUT_S:g} s")
                    time.sleep(0.001)
                recorded.append((time.time() - called) * 1000)
        return {
            "cancel_call_ms": summary(returned),
            "interrupted_ms": summary(interrupted),
            "status_cancelled_ms": summary(recorded),
            "status_at_return": at_return,
            "result_cancelled_at_return": result_cancelled,
            "samples": count,
        }

    def run(self, args: argparse.Namespace) -> dict[str, Any]:
        results: dict[str, Any] = {}
        self.start_worker(QUEUE)
        self.start_worker(QUEUE)
        self.wait_registered(self.queue, 2)
        time.sleep(args.settle_s)
        print(f"  idle window, {args.idle_s:g} s", file=sys.stderr, flush=True)
        results["idle"] = self.idle(args.idle_s)
        print(f"  {args.delayed} delayed tasks", file=sys.stderr, flush=True)
        results["delayed"] = self.delayed(args.delayed, args.pace_s)
        print(f"  {args.retried} retried tasks", file=sys.stderr, flush=True)
        results["retried"] = self.retried(args.retried, args.retry_pace_s)
        print(f"  a periodic schedule for {args.ticks_s:g} s", file=sys.stderr, flush=True)
        results["periodic"] = self.periodic(args.ticks_s)
        print(f"  {args.cancels} cancels of running functions", file=sys.stderr, flush=True)
        results["cancel_sync"] = self.cancels(self.queue, spins, args.cancels, 2, (0.05, 0.15))
        self.start_worker(ASYNC_QUEUE, "--concurrency", str(ASYNC_CONCURRENCY))
        self.wait_registered(self.async_queue, 1)
        print(f"  {args.cancels} cancels of running coroutines", file=sys.stderr, flush=True)
        results["cancel_async"] = self.cancels(self.async_queue, sleeps, args.cancels, args.cancels, (0.02, 0.05))
        return results


# -- main ---------------------------------------------------------------------------------------------------


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "yotaq"], cwd=ROOT, capture_output=True, text=True)
    return (done.stdout.strip() or "unknown") + ("+" if dirty.stdout.strip() else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delayed", type=int, default=200, help="delayed tasks (200)")
    parser.add_argument("--pace-s", type=float, default=0.05, help="between two delayed tasks' enqueues (0.05)")
    parser.add_argument("--retried", type=int, default=50, help="tasks that fail once, then are retried (50)")
    parser.add_argument("--retry-pace-s", type=float, default=0.15, help="between two retried tasks' enqueues (0.15)")
    parser.add_argument("--ticks-s", type=float, default=15.0, help="how long the periodic schedule runs (15)")
    parser.add_argument("--cancels", type=int, default=30, help="running functions cancelled, and coroutines (30)")
    parser.add_argument("--idle-s", type=float, default=10.0, help="the idle window (10)")
    parser.add_argument("--settle-s", type=float, default=5.0, help="after the workers registered (5)")
    parser.add_argument("--seed", type=int, default=27, help="of the delays and the pauses before the cancels")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where the numbers go ({RESULTS})")
    args = parser.parse_args()
    if min(args.delayed, args.retried, args.cancels) < 1 or min(args.pace_s, args.retry_pace_s, args.settle_s) < 0:
        parser.error("--delayed, --retried and --cancels must be at least 1, the paces and --settle-s not below 0")
    if args.ticks_s < 2 * EVERY_S or args.idle_s <= 0:
        parser.error(f"--ticks-s must be at least {2 * EVERY_S:g}, --idle-s above 0")
    driver.stop_on_signals()
    began = time.monotonic()
    with driver.local_redis("yotaq-wakeups-") as (tmp, server):
        bench = Bench(server.url, tmp, args.seed)
        try:
            redis_version = bench.redis.info("server")["redis_version"]
            results = bench.run(args)
        except Failed as exc:
            print(f"failed: {exc}", file=sys.stderr)
            sys.exit(1)
        finally:
            bench.close()
    document = {
        **driver.header(redis=redis_version, python=platform.python_version(), redis_py=redis.__version__),
        "yotaq": f"{yotaq.__version__} at {commit()}",
        "settings": {
            **{name: value for name, value in vars(args).items() if name != "json"},
            "async_concurrency": ASYNC_CONCURRENCY,
        },
        "seconds": round(time.monotonic() - began, 1),
        "goals_ms": GOALS,
        "results": results,
    }
    print(charts.wakeups_table(document))
    driver.write_json(args.json, document)
    print(f"the run's numbers: {args.json} ({document['seconds']:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    driver.run(main)

"""What every driver shares: the Redis URL, the counter and signal keys, timing, and the JSON answer; and the
tasks that rq, huey, dramatiq and celery run (each of their ``*_tasks.py`` declares them its own way).

A driver is run as ``python drive_<system>.py COMMAND N`` under the venv that has its system, and
prints one JSON object on its last line of output. Commands (a driver leaves out those it lacks):

    version        {"version": "1.2.3"}
    enqueue N      N tasks, one enqueue call each: {"rate": tasks per second}
    bulk N         N tasks through the bulk API: {"rate": ...}, or {"na": "why"}
    fill N         N tasks, as fast as it can (not timed; for the drain measurement): {"n": N}
    latency N      with one idle worker running: N times, enqueue a task that pushes onto
                   SIGNAL_KEY and wait for it there: {"samples_ms": [...]}
    result N       the same through the system's own result API: {"samples_ms": [...]}, or {"na": "why"}
    fill_queues N  for benchmarks/fleet.py: N tasks spread over the queues named in BENCH_FLEET_QUEUES, in
                   turns of FILL_TURN tasks, as fast as it can while the fleet runs: {"n": N, "start": s,
                   "end": s}, the enqueue's first call and its return on the monotonic clock (CLOCK_MONOTONIC,
                   the same for every process of the machine)

Only the standard library and redis-py here: both venvs import this module.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import redis

URL_VARIABLE = "BENCH_REDIS_URL"
QUEUES_VARIABLE = "BENCH_FLEET_QUEUES"  # benchmarks/fleet.py: the fleet's queues, comma-separated
FILL_TURN = 100  # fill_queues: tasks enqueued on one queue before the next queue's turn
DONE_KEY = "bench:done"  # every no-op task does INCR DONE_KEY
SIGNAL_KEY = "bench:signal"  # the latency task does RPUSH SIGNAL_KEY 1
FLOOR_KEY = "bench:floor"  # what yotaq's floors (no queue at all) push onto
BARE_KEY = "bench:bare"  # the bare batch worker's list of messages (bare_batch_worker.py)
BARE_ACKED_KEY = "bench:bare:acked"  # what it acknowledges: a count
WARMUP_TIMEOUT_S = 120.0  # how long a worker may take to start and run its first task
WAIT_TIMEOUT_S = 30.0
PAUSE_S = 0.005  # between latency samples: the worker goes idle again
SLEEP_S = 0.05  # benchmarks/threads.py's sleep workload
HTTP_URL_VARIABLE = "BENCH_HTTP_URL"  # benchmarks/threads.py's local HTTP server

_client: redis.Redis | None = None


def redis_url() -> str:
    return os.environ[URL_VARIABLE]


def client() -> redis.Redis:
    """This process's client of the benchmark's Redis, made on first use."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(redis_url())
    return _client


# -- the tasks: plain functions; rq imports them by name, the others wrap them in their decorators -----------


def noop() -> int:
    """The drain's no-op task: it counts itself."""
    return int(client().incr(DONE_KEY))


def ping() -> None:
    """The latency task: the harness waits for it on SIGNAL_KEY."""
    client().rpush(SIGNAL_KEY, 1)


def sleepy() -> int:
    """benchmarks/threads.py: a task that waits 50 ms (time.sleep), then counts itself."""
    time.sleep(SLEEP_S)
    return noop()


def fetch() -> int:
    """benchmarks/threads.py: one HTTP GET of the harness's local server (it answers after 20 ms), then counts."""
    with urllib.request.urlopen(os.environ[HTTP_URL_VARIABLE], timeout=30) as reply:
        reply.read()
    return noop()


# -- the drivers' helpers ----------------------------------------------------------------------------------


def fleet_queues() -> list[str]:
    """The queues of benchmarks/fleet.py's fleet, as the harness names them for the workers and the drivers."""
    return os.environ[QUEUES_VARIABLE].split(",")


def turns(n: int, queues: list[str]) -> Iterator[tuple[str, int]]:
    """(queue, count) pairs that put ``n`` tasks on ``queues`` in turns of FILL_TURN: as even as can be."""
    left = n
    while left > 0:
        for queue in queues:
            count = min(FILL_TURN, left)
            if count == 0:
                return
            yield queue, count
            left -= count


def timed_fill(n: int, run: Callable[[], Any]) -> dict[str, float]:
    """``run()`` enqueues ``n`` tasks: its start and end on the monotonic clock, which the harness shares."""
    start = time.monotonic()
    run()
    return {"n": n, "start": start, "end": time.monotonic()}


def rate(n: int, run: Callable[[], Any]) -> dict[str, float]:
    """Time ``run`` (which handles ``n`` tasks) and answer in tasks per second."""
    start = time.perf_counter()
    run()
    return {"rate": n / (time.perf_counter() - start)}


def signal_samples(n: int, send: Callable[[], Any], client: Any) -> dict[str, list[float]]:
    """Enqueue-to-signal latency: ``send()`` enqueues the task, which does ``RPUSH SIGNAL_KEY``."""
    client.delete(SIGNAL_KEY)
    send()  # warm-up: the worker may still be starting
    if client.blpop([SIGNAL_KEY], timeout=WARMUP_TIMEOUT_S) is None:
        raise TimeoutError(f"no worker ran the warm-up task within {WARMUP_TIMEOUT_S:.0f} s")
    samples = []
    for _ in range(n):
        time.sleep(PAUSE_S)
        start = time.perf_counter()
        send()
        if client.blpop([SIGNAL_KEY], timeout=WAIT_TIMEOUT_S) is None:
            raise TimeoutError(f"the task did not run within {WAIT_TIMEOUT_S:.0f} s")
        samples.append((time.perf_counter() - start) * 1000)
    return {"samples_ms": samples}


def result_samples(n: int, send_and_wait: Callable[[float], Any]) -> dict[str, list[float]]:
    """Enqueue-to-result latency: ``send_and_wait(timeout)`` enqueues a no-op task and waits for its result."""
    send_and_wait(WARMUP_TIMEOUT_S)
    samples = []
    for _ in range(n):
        time.sleep(PAUSE_S)
        start = time.perf_counter()
        send_and_wait(WAIT_TIMEOUT_S)
        samples.append((time.perf_counter() - start) * 1000)
    return {"samples_ms": samples}


def main(commands: dict[str, Callable[[int], dict[str, Any]]]) -> None:
    """Run ``sys.argv[1]`` with ``int(sys.argv[2])`` (0 if absent) and print its answer as JSON."""
    command = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    if command not in commands:
        answer: dict[str, Any] = {"na": f"no {command} command"}
    else:
        answer = commands[command](n)
    print(json.dumps(answer), flush=True)

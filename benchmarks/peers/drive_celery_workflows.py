"""celery's chord, chain and plain tasks for benchmarks/workflows.py: ``python drive_celery_workflows.py
KIND N`` enqueues, waits for the last result through the result backend, and prints
``{"seconds": from the enqueue's first call to the result, "version": ...}``."""

from __future__ import annotations

import json
import sys
import time

import celery
from celery_workflow_tasks import count, noop, step


def run(kind: str, n: int, timeout: float) -> float:
    start = time.perf_counter()
    if kind == "chord":
        celery.chord(noop.s(i) for i in range(n))(count.s()).get(timeout=timeout)
    elif kind == "chain":
        celery.chain(step.s(), *(step.s() for _ in range(n - 1))).apply_async().get(timeout=timeout)
    else:  # plain: n tasks as a group, all waited for
        celery.group(noop.s(i) for i in range(n)).apply_async().get(timeout=timeout)
    return time.perf_counter() - start


if __name__ == "__main__":
    kind, n, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 300.0
    if kind == "warm":
        noop.delay(0).get(timeout=120)
        print(json.dumps({"version": celery.__version__}))
    else:
        print(json.dumps({"seconds": run(kind, n, timeout), "version": celery.__version__}))

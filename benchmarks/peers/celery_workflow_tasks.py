"""celery's app for benchmarks/workflows.py: the Redis broker and, since a chord needs one, the Redis result
backend (celery's documented chord setup), and no-op tasks: ``celery -A celery_workflow_tasks worker``."""

import os

from celery import Celery

app = Celery("bench_workflows", broker=os.environ["BENCH_REDIS_URL"], backend=os.environ["BENCH_REDIS_URL"])


@app.task
def noop(*args: object) -> None:
    return None


@app.task
def count(results: list[object]) -> int:
    return len(results)


@app.task
def step(previous: int = 0) -> int:
    return previous + 1

"""celery's app and tasks on the Redis broker, for ``celery -A celery_tasks worker``."""

import os

import redis
from celery import Celery

app = Celery("bench", broker=os.environ["BENCH_REDIS_URL"])
client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


@app.task
def noop() -> int:
    return client.incr("bench:done")


@app.task
def ping() -> None:
    client.rpush("bench:signal", 1)

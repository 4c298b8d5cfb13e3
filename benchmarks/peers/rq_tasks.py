"""rq's tasks: rq imports them by name in the worker (the worker's PYTHONPATH holds this folder)."""

import os

import redis

client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


def noop() -> int:
    return client.incr("bench:done")


def ping() -> None:
    client.rpush("bench:signal", 1)

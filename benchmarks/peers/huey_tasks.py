"""huey's tasks and its RedisHuey instance, for ``huey_consumer huey_tasks.huey``."""

import os
import time
import urllib.request

import redis
from huey import RedisHuey

huey = RedisHuey("bench", url=os.environ["BENCH_REDIS_URL"])
client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
SLEEP_S = 0.05


@huey.task()
def noop() -> int:
    return client.incr("bench:done")


@huey.task()
def ping() -> None:
    client.rpush("bench:signal", 1)


@huey.task()
def sleepy() -> int:
    """benchmarks/threads.py: a task that waits 50 ms (time.sleep), then counts itself."""
    time.sleep(SLEEP_S)
    return client.incr("bench:done")


@huey.task()
def fetch() -> int:
    """benchmarks/threads.py: one HTTP GET of the harness's local server (it answers after 20 ms), then counts."""
    with urllib.request.urlopen(os.environ["BENCH_HTTP_URL"], timeout=30) as reply:
        reply.read()
    return client.incr("bench:done")

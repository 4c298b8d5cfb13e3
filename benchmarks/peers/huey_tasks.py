"""huey's tasks and its RedisHuey instance, for ``huey_consumer huey_tasks.huey``."""

import os

import redis
from huey import RedisHuey

huey = RedisHuey("bench", url=os.environ["BENCH_REDIS_URL"])
client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


@huey.task()
def noop() -> int:
    return client.incr("bench:done")


@huey.task()
def ping() -> None:
    client.rpush("bench:signal", 1)

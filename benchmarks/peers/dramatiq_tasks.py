"""dramatiq's actors on its RedisBroker, for ``dramatiq dramatiq_tasks``."""

import os

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

dramatiq.set_broker(RedisBroker(url=os.environ["BENCH_REDIS_URL"]))
client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])


@dramatiq.actor
def noop() -> int:
    return client.incr("bench:done")


@dramatiq.actor
def ping() -> None:
    client.rpush("bench:signal", 1)

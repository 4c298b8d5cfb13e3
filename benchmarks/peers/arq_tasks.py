"""arq's coroutines and WorkerSettings, for ``arq arq_tasks.WorkerSettings``."""

import os

import redis.asyncio
from arq.connections import RedisSettings

client = redis.asyncio.Redis.from_url(os.environ["BENCH_REDIS_URL"])


async def noop(ctx: dict) -> int:
    return await client.incr("bench:done")


async def ping(ctx: dict) -> None:
    await client.rpush("bench:signal", 1)


class WorkerSettings:
    functions = [noop, ping]  # noqa: RUF012 - arq reads these class attributes
    redis_settings = RedisSettings.from_dsn(os.environ["BENCH_REDIS_URL"])

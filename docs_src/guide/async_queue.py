"""Enqueue from async code: AsyncQueue, the same queue with every call to Redis awaited."""

import asyncio
import os

import yotaq

URL = os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")


async def slow_add(a, b):
    await asyncio.sleep(0.1)
    return a + b


async def main():
    async with yotaq.AsyncQueue.from_url(URL) as queue:
        job = await queue.enqueue(slow_add, 1, 2)
        print(await job.status())
        print(await job.result(timeout=10))
        print(await job.status())

        later = await queue.options(delay=60, retries=2).enqueue(slow_add, 3, 4)
        print(await later.status(), await later.cancel(), await later.status())

        jobs = await asyncio.gather(*(queue.enqueue(slow_add, n, n) for n in range(10)))
        print(await asyncio.gather(*(job.result(timeout=30) for job in jobs)))

        # The blocking Queue reads the same jobs (and the AsyncQueue a Queue's)
        print(yotaq.Queue(yotaq.connect(URL)).job(job.id).result(timeout=1))


asyncio.run(main())

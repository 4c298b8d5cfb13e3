"""One worker, many coroutines at once: Worker(..., concurrency=N), here in this process until its queue is empty."""

import asyncio
import os
import time

import yotaq

redis = yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))
queue = yotaq.Queue(redis, "many")


async def fetch(n):
    await asyncio.sleep(1)  # a call to a slow service, say
    return n


jobs = queue.enqueue_many(fetch, [(n,) for n in range(50)])
started = time.monotonic()
yotaq.Worker(redis, ["many"], concurrency=50, burst=True).run()  # python -m yotaq worker --concurrency 50
print(f"{len(jobs)} tasks of 1 s in {time.monotonic() - started:.1f} s, on one worker")
print(sum(job.result(timeout=1) for job in jobs))

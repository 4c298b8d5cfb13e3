"""An async def task runs on the worker's event loop."""

import asyncio
import os

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))


async def slow_add(a, b):
    await asyncio.sleep(0.5)
    return a + b


print(queue.enqueue(slow_add, 1, 2).result(timeout=10))
print(queue.options(timeout=5).enqueue(slow_add, 3, 4).result(timeout=10))

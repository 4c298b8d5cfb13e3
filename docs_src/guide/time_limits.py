"""A task past its time limit is stopped, and fails with TimeoutError; the worker goes on."""

import asyncio
import os
import time

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))

started = time.monotonic()
try:
    queue.options(timeout=1).enqueue(time.sleep, 3600).result(timeout=10)
except yotaq.JobFailed as error:
    print(f"{error.type}: {error.message} (after {time.monotonic() - started:.1f} s)")

try:  # an async task is cancelled instead
    queue.options(timeout=0.5).enqueue(asyncio.sleep, 3600).result(timeout=10)
except yotaq.JobFailed as error:
    print(f"{error.type}: {error.message}")

"""Run a task later: after a delay, or at a given time."""

import datetime
import os
import time

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))

enqueued = time.time()
job = queue.options(delay=2).enqueue(time.time)  # returns the time it ran, on the worker
print(job.status)
print(f"ran {job.result(timeout=10) - enqueued:.1f} s after it was enqueued")

soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)
job = queue.options(at=soon).enqueue(time.time)
ran_at = datetime.datetime.fromtimestamp(job.result(timeout=10), datetime.UTC)
print(f"ran {(ran_at - soon).total_seconds() * 1000:.0f} ms after its time")

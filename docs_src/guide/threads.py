"""One worker, many plain functions at once: Worker(..., threads=N), here in this process until its queue is empty."""

import os
import time

import yotaq

redis = yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))
queue = yotaq.Queue(redis, "threaded")


def fetch(n):
    time.sleep(1)  # a call to a slow service, say: requests.get, a database query
    return n


jobs = queue.enqueue_many(fetch, [(n,) for n in range(50)])
started = time.monotonic()
yotaq.Worker(redis, ["threaded"], threads=50, burst=True).run()  # python -m yotaq worker --threads 50
print(f"{len(jobs)} tasks of 1 s in {time.monotonic() - started:.1f} s, on one worker")
print(sum(job.result(timeout=1) for job in jobs))

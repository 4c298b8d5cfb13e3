"""Cancelling a job cancels everything downstream of it, each with the reason."""

import os
import time

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))

first = queue.options(delay=60, job_id="nightly-export").call(print, "exported")
last = queue.chain(first, queue.call(print), queue.call(print))
print(queue.job("nightly-export").cancel())
while last.status is not yotaq.Status.CANCELLED:  # a worker records each step below cancelled, unrun
    time.sleep(0.05)
try:
    last.result(timeout=1)
except yotaq.JobCancelled as error:
    print(error.reason)

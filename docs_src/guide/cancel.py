"""Cancel a job: one not started yet never runs; one running is interrupted in its worker."""

import os
import time

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))

later = queue.options(delay=60, job_id="newsletter-2026-12").enqueue(print, "never printed")
print(later.status, later.cancel(), later.status)
try:
    later.result(timeout=1)
except yotaq.JobCancelled as error:
    print(error)
print(later.cancel())  # nothing left to cancel

running = queue.enqueue(time.sleep, 60)
while running.status is not yotaq.Status.ACTIVE:
    time.sleep(0.05)
cancelled_at = time.monotonic()
running.cancel()
while running.status is not yotaq.Status.CANCELLED:  # until its worker has stopped it
    time.sleep(0.05)
print(f"stopped after {time.monotonic() - cancelled_at:.1f} s")
print(queue.enqueue(divmod, 7, 2).result(timeout=10))  # the worker goes on

"""Limits across all workers: one call at a time per limit key, and at most ten starts a second."""

import os
import time

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))


def call_partner(n):
    time.sleep(0.1)  # a service that takes one client at a time
    return n * n


one_at_a_time = queue.options(concurrency=1, limit_key="partner-api")
jobs = [one_at_a_time.enqueue(call_partner, n) for n in range(4)]
print([job.result(timeout=10) for job in jobs])

ten_a_second = queue.options(rate_limit="10/s")
starts = [job.result(timeout=10) for job in ten_a_second.enqueue_many(time.time, [()] * 11)]
print(f"11 starts over {max(starts) - min(starts):.1f} s")

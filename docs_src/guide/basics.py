"""Enqueue a call, pass options in their own channel, and decorate a function."""

import os

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))

# Every argument goes to the function, keywords included.
job = queue.enqueue(sorted, [3, 1, 2], reverse=True)
print(job.result(timeout=10))

# Options (retries, timeout, delay, job_id, ...) go through queue.options(...), never mixed with arguments.
job = queue.options(retries=2, timeout=30).enqueue(sorted, [3, 1, 2], reverse=True)
print(job.result(timeout=10))


@queue.task(timeout=30)
def area(width, height):
    return width * height


print(area(2, 3))  # a plain local call
print(area.delay(4, 5).result(timeout=10))  # runs on a worker
print(area.options(timeout=60).delay(6, 7).result(timeout=10))  # with other options

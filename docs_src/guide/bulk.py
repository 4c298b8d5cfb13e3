"""Many calls of one function in one round trip: the function is pickled once."""

import os

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))

jobs = queue.enqueue_many(pow, [(2, n) for n in range(10)])
print([job.result(timeout=10) for job in jobs])

jobs = queue.options(retries=1).enqueue_many(pow, [(3, n) for n in range(5)])  # options apply to each
print([job.result(timeout=10) for job in jobs])

"""A group: jobs enqueued at once, their results in member order."""

import os

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))

group = queue.group([queue.call(pow, n, 2) for n in range(5)] + [queue.call(divmod, 1, 0)])
print(len(group.jobs))
try:
    group.results(timeout=10)
except yotaq.JobFailed as failed:
    print(failed.type)
print(group.results(timeout=10, allow_failure=True)[:5])

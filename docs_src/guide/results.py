"""Wait for a result, look a job up by its id, and see a task's failure."""

import os

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))

job = queue.enqueue(divmod, 7, 2)
print(job.result(timeout=10))  # blocks in Redis until the worker stores the result
print(queue.job(job.id).status)  # from any process that knows the id

try:
    queue.enqueue(int, "x").result(timeout=10)
except yotaq.JobFailed as error:
    print(error.type, error.message)
    print(error.traceback.splitlines()[0])  # the worker's traceback, as text

import os

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))

job = queue.enqueue(divmod, 7, 2)  # a Job, with an id; a worker runs divmod(7, 2)
print(job.result(timeout=10))  # waits in Redis for the worker's result
print(job.status)

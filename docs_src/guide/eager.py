"""Eager mode, for your own tests: each task runs at once, in this process, through the serializer."""

import os
import threading

import yotaq

eager = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")), eager=True)

job = eager.enqueue(divmod, 7, 2)
print(job.result(), job.status)

lock = threading.Lock()
try:
    eager.enqueue(lambda: lock.acquire())  # a lock cannot travel to a worker: eager mode says so too
except yotaq.SerializationError as error:
    print(error)

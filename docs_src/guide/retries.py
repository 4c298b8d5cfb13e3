"""A task that raises is tried again: tries at 0 s, then about 1 s and 3 s later (waits of 1, then 2 s, jittered)."""

import os
import time

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))


def fetch(url):
    import urllib.request

    return urllib.request.urlopen(url, timeout=5).status


started = time.monotonic()
job = queue.options(retries=2).enqueue(fetch, "http://127.0.0.1:9/")  # nothing listens on port 9
try:
    job.result(timeout=30)
except yotaq.JobFailed as error:
    print(f"{error.type} after {time.monotonic() - started:.1f} s: {error.message}")
print(job.status)


def ask_again_later():
    raise yotaq.Retry(delay=0.5)  # counts as one of the task's retries


job = queue.options(retries=1).enqueue(ask_again_later)
try:
    job.result(timeout=10)
except yotaq.JobFailed as error:
    print(error.type, error.message)

"""Start a second worker of the shared-processing-list kind while the first runs a task: it runs twice."""

import os
import subprocess
import sys
import time
from pathlib import Path

import dill
import redis

url = os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")
r = redis.Redis.from_url(url)
r.delete("tasks", "processing", "runs")
worker = [sys.executable, Path(__file__).with_name("processing_worker.py")]


def pay(url, who, amount):
    import os
    import time

    import redis

    redis.Redis.from_url(url).rpush("runs", f"paid {who} {amount} (worker pid {os.getpid()})")
    time.sleep(2)


first = subprocess.Popen(worker)
r.rpush("tasks", dill.dumps((pay, [url, "bob", 100])))
while not r.llen("runs"):  # until the first worker is running it
    time.sleep(0.01)
second = subprocess.Popen(worker)  # another worker starts: a deploy, more capacity, a restart
deadline = time.monotonic() + 10
while r.llen("runs") < 2 and time.monotonic() < deadline:  # give it a moment to "recover" the task
    time.sleep(0.05)

for run in r.lrange("runs", 0, -1):
    print(run.decode().split(" (")[0])
print("runs:", r.llen("runs"))
for process in (first, second):
    process.kill()
    process.wait()

"""The same with yotaq: each worker leases into an active list of its own, and only lapsed ones are reaped."""

import os
import signal
import subprocess
import sys
import time

import redis

import yotaq

url = os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")
r = redis.Redis.from_url(url)
r.delete("runs")
queue = yotaq.Queue(yotaq.connect(url), "experiment")
worker = [sys.executable, "-m", "yotaq", "worker", "--queue", "experiment", "--liveness-timeout", "3"]


def pay(url, who, amount):
    import time

    import redis

    redis.Redis.from_url(url).rpush("runs", f"paid {who} {amount}")
    time.sleep(2)


first = subprocess.Popen(worker)
job = queue.enqueue(pay, url, "bob", 100)
while not r.llen("runs"):
    time.sleep(0.01)
second = subprocess.Popen(worker)
job.result(timeout=30)
time.sleep(4)  # longer than a liveness timeout: nothing is reaped from a live worker

for run in r.lrange("runs", 0, -1):
    print(run.decode())
print("runs:", r.llen("runs"))
for process in (first, second):
    process.send_signal(signal.SIGINT)
    process.wait()

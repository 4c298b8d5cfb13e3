"""Kill the walkthrough's worker while it runs a task: the task is gone from Redis, and never runs."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dill
import redis

r = redis.Redis.from_url(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))
r.delete("tasks")

worker = subprocess.Popen([sys.executable, Path(__file__).with_name("walkthrough_worker.py")])
r.rpush("tasks", dill.dumps((time.sleep, [10])))  # a task that takes 10 s
while r.llen("tasks"):  # until the worker has taken it
    time.sleep(0.01)
time.sleep(0.5)

os.kill(worker.pid, signal.SIGKILL)  # a deploy, the OOM killer, a power cut...
worker.wait()
print("worker killed while running the task")
print("tasks left in Redis:", r.llen("tasks"))

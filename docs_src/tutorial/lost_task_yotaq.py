"""The same with yotaq: the task waits in the dead worker's active list, and another worker runs it."""

import os
import signal
import subprocess
import sys
import time

import yotaq

url = os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")
queue = yotaq.Queue(yotaq.connect(url), "experiment")
# A worker is presumed dead 2 s after its last heartbeat (the default is 7 s).
worker_command = [sys.executable, "-m", "yotaq", "worker", "--queue", "experiment", "--liveness-timeout", "2"]

redelivered = queue.info().redelivered
first = subprocess.Popen(worker_command)
job = queue.enqueue(time.sleep, 1)
while job.status != "active":
    time.sleep(0.01)
os.kill(first.pid, signal.SIGKILL)
first.wait()
print("worker killed while running the task; the job is", job.status)

started = time.monotonic()
second = subprocess.Popen(worker_command)
job.result(timeout=30)
print(f"another worker ran it {time.monotonic() - started:.0f} s later; the job is", job.status)
print("redeliveries:", queue.info().redelivered - redelivered)
second.send_signal(signal.SIGINT)  # a clean stop
second.wait()

"""A task that kills its worker, under the shared-processing-list worker restarted as systemd would: for ever."""

import os
import subprocess
import sys
from pathlib import Path

import dill
import redis

url = os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")
r = redis.Redis.from_url(url)
r.delete("tasks", "processing", "runs")


def crash(url):
    import os
    import signal

    import redis

    redis.Redis.from_url(url).rpush("runs", "crash")
    os.kill(os.getpid(), signal.SIGKILL)  # a segfault in a C extension, the OOM killer, ...


def next_in_line(url):
    import redis

    redis.Redis.from_url(url).rpush("runs", "next in line")


r.lpush("tasks", dill.dumps((crash, [url])), dill.dumps((next_in_line, [url])))  # crash is taken first
for _ in range(5):
    worker = subprocess.Popen([sys.executable, Path(__file__).with_name("processing_worker.py")])
    worker.wait()  # it dies: start it again

print("runs:", [run.decode() for run in r.lrange("runs", 0, -1)])
print("still to do:", r.llen("tasks") + r.llen("processing"))
r.delete("tasks", "processing", "runs")

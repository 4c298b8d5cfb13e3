"""The same with yotaq: each death counts one delivery; after max_deliveries (3) the task is set aside."""

import os
import signal
import subprocess
import sys

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")), "experiment")


def crash():
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


poison = queue.enqueue(crash)
behind = queue.enqueue(str.upper, "next in line")
# Under the supervisor, a worker that dies is replaced and its tasks given back at once.
supervisor = subprocess.Popen([sys.executable, "-m", "yotaq", "worker", "--queue", "experiment", "--processes", "1"])
print(behind.result(timeout=60))
print("the poison task is", poison.status)
for dead in queue.dead_jobs():
    if dead.id == poison.id:
        print(dead.reason)
supervisor.send_signal(signal.SIGINT)
supervisor.wait()
queue.purge("dead")

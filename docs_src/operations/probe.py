"""A probe for the worker(s) in this container: exit 0 while one of them beats in Redis, else 1.

`python probe.py --queue NAME` (readiness) fails while Redis cannot be reached; with `--liveness` it passes
then, since a worker waits out an outage by itself and a restart would only cut its running task short.
"""

import argparse
import os
import socket
import sys

import yotaq

arguments = argparse.ArgumentParser()
arguments.add_argument("--queue", default="tasks", help="the worker's (first) queue")
arguments.add_argument("--liveness", action="store_true", help="pass while Redis cannot be reached")
options = arguments.parse_args()

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")), options.queue)
try:
    info = queue.info()
except yotaq.RedisUnavailable as error:
    print(f"Redis cannot be reached: {error}")
    sys.exit(0 if options.liveness else 1)

# a worker's id starts with its host's name: in Kubernetes, the pod's
mine = [worker for worker in info.workers if worker.id.startswith(f"{socket.gethostname()}.")]
beating = [worker for worker in mine if worker.deadline_ms > info.server_time_ms]
for worker in beating:
    print(f"worker {worker.id} beats (presumed dead in {(worker.deadline_ms - info.server_time_ms) / 1000:.1f} s)")
sys.exit(0 if beating else 1)

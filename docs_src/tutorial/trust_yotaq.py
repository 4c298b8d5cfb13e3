"""With YOTAQ_SECRET set, a worker runs only what was signed with it, for the queue it was sent to, once."""

import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import yotaq

r = yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))
secret = "a long random string, the same for producers and workers"
payments, other = yotaq.Queue(r, "payments", secret=secret), yotaq.Queue(r, "other", secret=secret)
payments.purge("dead"), other.purge("dead")
proof = Path(tempfile.gettempdir()) / "yotaq-was-here"
proof.unlink(missing_ok=True)


class Payload:
    def __reduce__(self):
        return (Path.touch, (proof,))


# 1. A message forged in yotaq's own format by someone without the secret (unsigned: "-"), its job
#    marked pending by hand, as anyone who can write to Redis can do.
body = pickle.dumps(Payload())
expires = int(time.time()) + 60
forged = b"yq1 %d.%d forged 0 %d - - %d %s" % (*sys.version_info[:2], expires, len(body), body)
r.hset(payments.keys.state, "forged", "pending")
r.rpush(payments.keys.pending, forged)

# 2. A real job, signed by the producer; a copy of its message pushed onto another queue.
job = payments.enqueue(str.upper, "pay bob 100")
message = r.lindex(payments.keys.pending, -1)
r.hset(other.keys.state, job.id, "pending")
r.rpush(other.keys.pending, message)

yotaq.Worker(r, queues=["payments", "other"], secret=secret, burst=True).run()
print(job.result(timeout=10))

# 3. The same message again, on its own queue, after the job ran: a replay.
r.rpush(payments.keys.pending, message)
yotaq.Worker(r, queues=["payments"], secret=secret, burst=True).run()

for dead in payments.dead_jobs() + other.dead_jobs():
    print("set aside:", dead.reason)
print("the payload ran on the worker:", proof.exists())

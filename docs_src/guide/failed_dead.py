"""Failed jobs (raised on their last try) and dead ones (could not run), kept apart, for a bounded time."""

import os

import yotaq

r = yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))
queue = yotaq.Queue(r, "reports")
queue.purge("failed"), queue.purge("dead")  # start clean

job = queue.options(job_id="bad-input").enqueue(int, "x")
r.rpush(queue.keys.pending, b"not a message at all")  # what a stray writer might leave
yotaq.Worker(r, queues=["reports"], burst=True).run()

for kept in queue.failed_jobs() + queue.dead_jobs():
    print(kept.kind, kept.id[:20], kept.reason.strip().splitlines()[-1])

print(job.status)
print(queue.requeue("failed", [job.id]))  # back on the queue, to run from scratch
print(job.status)
yotaq.Worker(r, queues=["reports"], burst=True).run()  # it fails again, of course
print(job.status)
print(queue.purge("failed"), queue.purge("dead"))  # forget them all

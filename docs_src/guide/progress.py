"""A task reports how far it got; any process reads it with job.progress."""

import os

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))


def resize(images):
    me = yotaq.current_job()  # the job this task runs as
    for done in range(1, len(images) + 1):
        ...  # resize images[done - 1]
        me.set_progress({"done": done, "of": len(images)})
    return me.id, me.attempt


job = queue.enqueue(resize, ["a.png", "b.png", "c.png"])
job_id, attempt = job.result(timeout=10)
print(job_id == job.id, attempt)  # its own id, and 0 on the first try
print(job.progress)  # the last report, kept as long as its result

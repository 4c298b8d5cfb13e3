"""Set the scene for the CLI page: a queue 'cli-demo' with two tasks done and one failed, from zero."""

import logging
import os

import yotaq

logging.disable(logging.CRITICAL)  # this script only sets the scene: no worker logs
r = yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))
for key in r.scan_iter(match="{yotaq:cli-demo}:*"):  # start from zero: a queue is only its keys
    r.delete(key)

queue = yotaq.Queue(r, "cli-demo")
queue.enqueue(divmod, 7, 2)
queue.options(job_id="report-1").enqueue(str.upper, "monthly report")
queue.options(job_id="bad-input").enqueue(int, "x")
yotaq.Worker(r, queues=["cli-demo"], burst=True).run()
print("3 tasks run on cli-demo")

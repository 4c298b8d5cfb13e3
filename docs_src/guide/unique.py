"""A job id of your own: while that job is pending, scheduled or active, enqueueing it again returns it."""

import os

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))

report = queue.options(job_id="report-2026-11", delay=1)
first = report.enqueue(str.upper, "monthly report")
again = report.enqueue(str.upper, "monthly report")
print(first == again, first.id)
print(first.result(timeout=10))
print(queue.job("report-2026-11").status)

"""depends_on: a report runs once three imports are done; a failed parent cancels its dependent."""

import os

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))


def load(name):
    if name == "broken":
        raise ValueError(f"cannot read {name}")
    return name


imports = [queue.enqueue(load, name) for name in ("orders", "refunds", "stock")]
report = queue.options(depends_on=imports).enqueue(str.upper, "report: every import is in")
print(report.result(timeout=10))

broken = queue.enqueue(load, "broken")
after = queue.options(depends_on=[broken]).enqueue(print, "never printed")
anyway = queue.options(depends_on=[broken.id], allow_failure=True).enqueue(len, "runs anyway")
try:
    after.result(timeout=10)
except yotaq.JobCancelled as error:
    print(error.reason)
print(anyway.result(timeout=10))

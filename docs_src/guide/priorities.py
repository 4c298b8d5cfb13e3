"""A worker given several queues always takes from the first non-empty one."""

import os

import yotaq

r = yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))
high, low = yotaq.Queue(r, "high"), yotaq.Queue(r, "low")

for n in range(3):
    low.enqueue(print, "low", n)
for n in range(3):
    high.enqueue(print, "high", n)

# What `python -m yotaq worker --queue high --queue low --burst` does, in this process:
yotaq.Worker(r, queues=["high", "low"], burst=True).run()

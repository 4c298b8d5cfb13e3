"""One Settings for the producers and the workers of a deployment: a signed queue over 4 shards."""

import os

import yotaq

r = yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))
settings = yotaq.Settings(secret=os.environ.get("YOTAQ_SECRET", "change me"), shards=4)

queue = yotaq.Queue(r, "settings-demo", settings=settings)
jobs = [queue.enqueue(pow, 2, n) for n in range(8)]
yotaq.Worker(r, ["settings-demo"], settings=settings, burst=True).run()
print([job.result(timeout=10) for job in jobs])

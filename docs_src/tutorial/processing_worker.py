"""The walkthrough's worker made "reliable" the usual first way: one shared processing list.

BLMOVE moves a task from 'tasks' to 'processing' as it is taken, so a crash no longer loses it, and a
worker that starts puts whatever is in 'processing' back on 'tasks': the tasks of a worker that died.
"""

import os

import dill
import redis

r = redis.Redis.from_url(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))

# Recover: the tasks in 'processing' were left there by a worker that died... or were they?
while r.lmove("processing", "tasks", "RIGHT", "LEFT"):
    pass

while True:
    data = r.blmove("tasks", "processing", 0, "RIGHT", "LEFT")
    d_fun, d_args = dill.loads(data)
    d_fun(*d_args)
    r.lrem("processing", 1, data)  # done: only now does the task leave Redis

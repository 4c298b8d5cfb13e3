"""The walkthrough's worker.py, as it was written (only the Redis address comes from the environment)."""

import os

import dill
import redis

# Configure our redis client
r = redis.Redis.from_url(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0"))

while True:
    # Wait until there's an element in the 'tasks' queue
    key, data = r.brpop("tasks")

    # Deserialize the task
    d_fun, d_args = dill.loads(data)

    # Run the task
    d_fun(*d_args)

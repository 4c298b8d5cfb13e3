"""No queue at all: the worker of the latency floor. It waits on a list and answers on the signal key."""

import redis
from _common import FLOOR_KEY, SIGNAL_KEY, redis_url

client = redis.Redis.from_url(redis_url())
while True:
    client.blpop([FLOOR_KEY])
    client.rpush(SIGNAL_KEY, 1)

"""huey for benchmarks/fleet.py: one RedisHuey per queue of the fleet, each with the no-op task.

A huey instance is one queue and ``huey_consumer`` serves one instance, so a huey worker cannot serve
several queues: the fleet runs one consumer per queue, ``huey_consumer fleet_huey.q2``, each at huey's
defaults (one worker thread). The queues are named in ``BENCH_FLEET_QUEUES``.
"""

from _common import fleet_queues, noop, redis_url
from huey import RedisHuey

tasks = {}
for _name in fleet_queues():
    globals()[_name] = _huey = RedisHuey(_name, url=redis_url())
    tasks[_name] = _huey.task(name="noop")(noop)

"""dramatiq for benchmarks/fleet.py: the no-op actor declared once on each queue of the fleet.

A dramatiq actor belongs to one queue, and a worker consumes every queue its actors are declared on
(``--queues`` picks some of them), each with its delay queue: ``dramatiq fleet_dramatiq --queues q1 q2``.
The queues are named in ``BENCH_FLEET_QUEUES``.
"""

import dramatiq
from _common import fleet_queues, noop, redis_url
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(url=redis_url())
dramatiq.set_broker(broker)
actors = {name: dramatiq.actor(noop, actor_name=f"noop_{name}", queue_name=name) for name in fleet_queues()}

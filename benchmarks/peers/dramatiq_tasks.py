"""dramatiq's actors on its RedisBroker, for ``dramatiq dramatiq_tasks``."""

import _common
import dramatiq
from dramatiq.brokers.redis import RedisBroker

dramatiq.set_broker(RedisBroker(url=_common.redis_url()))
noop, ping, sleepy, fetch = (
    dramatiq.actor(task) for task in (_common.noop, _common.ping, _common.sleepy, _common.fetch)
)

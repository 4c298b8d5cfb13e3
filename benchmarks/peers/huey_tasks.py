"""huey's tasks and its RedisHuey instance, for ``huey_consumer huey_tasks.huey``."""

import _common
from huey import RedisHuey

huey = RedisHuey("bench", url=_common.redis_url())
noop, ping, sleepy, fetch = (huey.task()(task) for task in (_common.noop, _common.ping, _common.sleepy, _common.fetch))

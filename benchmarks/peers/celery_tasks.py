"""celery's app and tasks on the Redis broker, for ``celery -A celery_tasks worker``."""

import _common
from celery import Celery

app = Celery("bench", broker=_common.redis_url())
noop, ping, sleepy, fetch = (app.task(task) for task in (_common.noop, _common.ping, _common.sleepy, _common.fetch))

"""arq for benchmarks/fleet.py: one WorkerSettings class per queue of the fleet, ``arq fleet_arq.q2``.

An arq worker takes jobs from one queue (``queue_name``), so the fleet runs one worker per queue, each at
arq's defaults otherwise. The queues are named in ``BENCH_FLEET_QUEUES``.
"""

from _common import fleet_queues
from arq_tasks import WorkerSettings, noop

for _name in fleet_queues():
    # arq reads the settings from the class's own __dict__: every one is set here, not inherited
    globals()[_name] = type(
        _name, (), {"functions": [noop], "redis_settings": WorkerSettings.redis_settings, "queue_name": _name}
    )

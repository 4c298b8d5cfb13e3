"""The consumer side, split by job: the loop (``loop``), its signals and stop (``stopping``), the lease
batch (``batch``), the maintenance threads (``maintenance``) and the heartbeat (``liveness``), time
limits (``timelimit``), and waiting on several queues at once (``watch``)."""

from .liveness import reap
from .loop import HEARTBEAT_INTERVAL_S, LIVENESS_TIMEOUT_S, MAX_DELIVERIES, Worker
from .timelimit import Watchdog

__all__ = ["HEARTBEAT_INTERVAL_S", "LIVENESS_TIMEOUT_S", "MAX_DELIVERIES", "Watchdog", "Worker", "reap"]

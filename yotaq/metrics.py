"""Prometheus metrics for yotaq's queues (the ``metrics`` extra): ``python -m yotaq metrics``, and
``/metrics`` on the dashboard.

Every value is read from Redis at each scrape by a custom collector; the exporter keeps no state, so
any number of exporters (or a restarted one) report the same numbers, and the counters are Redis's
own, counted by the scripts that move the jobs. The task duration histogram is made from the
per-second time series and covers its last hour only: see ``docs/guide/dashboard.md``.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from . import monitor
from .broker import Broker, QueueKeys, connect
from .exceptions import ConfigurationError, YotaqError
from .info import QueueInfo

# Task duration buckets, in seconds: from a few milliseconds to five minutes.
DURATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
GAUGES = {  # QueueInfo field -> (metric, help)
    "pending": ("yotaq_pending_jobs", "Jobs waiting on the queue."),
    "scheduled": ("yotaq_scheduled_jobs", "Jobs waiting for their time: delayed, or between retries."),
    "active": ("yotaq_active_jobs", "Jobs leased by a worker (running, or about to)."),
    "failed": ("yotaq_failed_jobs", "Jobs that raised on their last try, as long as their records are kept."),
    "dead": ("yotaq_dead_jobs", "Jobs set aside without a result, as long as their records are kept."),
}
COUNTERS = {  # stats field -> (metric without _total, help)
    "done": ("yotaq_tasks_done", "Tasks that ran to completion."),
    "failed": ("yotaq_tasks_failed", "Tasks that raised on their last try."),
    "retried": ("yotaq_tasks_retried", "Tries that raised and were scheduled again."),
    "redelivered": ("yotaq_tasks_redelivered", "Tasks given back to the queue because their worker died."),
    "invalid": ("yotaq_messages_invalid", "Messages set aside unrun: invalid, unsigned, or killing their workers."),
    "cancelled": ("yotaq_tasks_cancelled", "Running tasks interrupted because they were cancelled."),
}


class QueueCollector(Collector):
    """Reads every queue's counts, counters, workers and time series from Redis at each scrape."""

    def __init__(self, broker: Broker, queues: Sequence[str] | None = None) -> None:
        self.broker = broker
        self.queues = None if queues is None else list(queues)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("yotaq_up", "Whether Redis answered this scrape (1) or not (0).")
        try:
            families = self._read()
        except YotaqError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[Metric]:
        gauges = {field: GaugeMetricFamily(name, text, labels=["queue"]) for field, (name, text) in GAUGES.items()}
        counters = {
            field: CounterMetricFamily(name, text, labels=["queue"]) for field, (name, text) in COUNTERS.items()
        }
        workers = GaugeMetricFamily("yotaq_workers", "Workers registered on the queue.", labels=["queue"])
        ages = GaugeMetricFamily(
            "yotaq_worker_heartbeat_age_seconds",
            "Seconds since the worker's last heartbeat, on Redis's clock.",
            labels=["queue", "worker"],
        )
        durations = GaugeHistogramMetricFamily(
            "yotaq_task_duration_seconds",
            "Durations of the tasks done in the last hour, from the per-second time series: each second's "
            "tasks are counted at that second's mean duration.",
            labels=["queue"],
        )
        for name in self.queues if self.queues is not None else self.broker.queue_names():
            shards = monitor.shards_of(self.broker, name)
            info = QueueInfo.merged([self.broker.info(keys) for keys in shards])
            for field, family in gauges.items():
                family.add_metric([name], getattr(info, field))
            stats = monitor.counters(self.broker, shards)
            for field, counter in counters.items():
                counter.add_metric([name], stats.get(field, 0))
            workers.add_metric([name], len(info.workers))
            for worker in info.workers:
                ages.add_metric([name, worker.id], max(0, info.server_time_ms - worker.last_heartbeat_ms) / 1000)
            buckets, total_s = duration_buckets(monitor.series(self.broker, shards, info.server_time_ms))
            durations.add_metric([name], buckets, gsum_value=total_s)
        return [*gauges.values(), *counters.values(), workers, ages, durations]


def duration_buckets(seconds: Sequence[monitor.Second]) -> tuple[list[tuple[str, float]], float]:
    """The cumulative buckets (``le`` -> count) and the sum (s) of the tasks in ``seconds``, each
    second's tasks at that second's mean duration."""
    counts = [0] * (len(DURATION_BUCKETS_S) + 1)
    for second in (second for second in seconds if second.done > 0):
        mean_s = second.duration_ms / second.done / 1000
        n = next((n for n, bound in enumerate(DURATION_BUCKETS_S) if mean_s <= bound), len(DURATION_BUCKETS_S))
        counts[n] += second.done
    cumulative, running = [], 0
    for bound, count in zip([*map(floatToGoString, DURATION_BUCKETS_S), "+Inf"], counts, strict=True):
        running += count
        cumulative.append((bound, float(running)))
    return cumulative, sum(second.duration_ms for second in seconds) / 1000


def registry(broker: Broker, queues: Sequence[str] | None = None) -> CollectorRegistry:
    """A registry holding only yotaq's collector (no process metrics: they would be this exporter's)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(broker, queues))
    return registry


def exposition(broker: Broker, queues: Sequence[str] | None = None) -> tuple[bytes, str]:
    """The metrics in Prometheus's text format, and their content type."""
    return generate_latest(registry(broker, queues)), CONTENT_TYPE_LATEST


def main(url: str, *, host: str, port: int, queues: list[str] | None) -> None:
    """Serve ``/metrics`` until SIGINT or SIGTERM: what ``python -m yotaq metrics`` runs.

    Raises:
        ConfigurationError: a bad queue name, or it cannot listen there (the port taken, say).
    """
    for name in queues or []:
        QueueKeys(name)  # a bad name is refused before anything starts
    stop = threading.Event()

    def stopping(signum: int, frame: FrameType | None) -> None:
        stop.set()

    with connect(url) as client:
        monitor.warn_of_unknown(Broker(client), queues or [])
        try:
            server, thread = start_http_server(port, addr=host, registry=registry(Broker(client), queues))
        except OSError as exc:  # the port taken, or the address not this machine's
            raise ConfigurationError(f"cannot listen on {host} port {port}: {exc.strerror or exc}") from None
        previous = {signum: signal.signal(signum, stopping) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            shown = f"[{host}]" if ":" in host else host
            print(f"yotaq metrics on http://{shown}:{port}/metrics", file=sys.stderr, flush=True)
            stop.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            server.shutdown()
            server.server_close()
            thread.join()

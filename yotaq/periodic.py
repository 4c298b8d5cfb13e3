"""Periodic tasks: schedules kept in Redis, each tick enqueued once by whichever worker gets there first.

A schedule is a signed record (its timing and the function's message body) in a hash, and its next
run in a sorted set. Every worker's time thread learns from the promote script when the next tick
is due; then it computes the run after that in Python (``every=`` seconds, or a cron expression
read by croniter) and claims the tick with a compare-and-set on the next run, enqueueing it in the
same script (``tick-4.lua``): any number of workers enqueue each tick once. A tick missed while no
worker ran (an outage, a deploy) runs once when one is back, not once per missed tick.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import time
import zoneinfo
from dataclasses import dataclass
from typing import Any

from . import outcomes, serializer
from .broker import Broker, QueueKeys
from .broker.keys import shard_of
from .exceptions import ConfigurationError, InvalidMessage

logger = logging.getLogger(__name__)

MIN_EVERY_S = 0.1
MAX_EVERY_S = 366 * 86_400.0


@dataclass(frozen=True)
class Schedule:
    """A periodic schedule as ``Queue.periodics`` lists it."""

    name: str
    every: float | None
    cron: str | None
    tz: str
    next_run_ms: int


def timing(every: float | None, cron: str | None, tz: str) -> dict[str, Any]:
    """A schedule's timing, checked: ``every`` seconds, or a cron expression in a time zone."""
    if (every is None) == (cron is None):
        raise ConfigurationError("give every= (seconds) or cron= (an expression), one of them")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f"unknown time zone tz={tz!r}") from exc
    if every is not None:
        if isinstance(every, bool) or not isinstance(every, (int, float)) or not MIN_EVERY_S <= every <= MAX_EVERY_S:
            raise ConfigurationError(f"every must be seconds from {MIN_EVERY_S} to {MAX_EVERY_S:g}, got {every!r}")
        return {"every": every, "tz": tz}
    _croniter()
    if not isinstance(cron, str) or not _croniter().is_valid(cron):
        raise ConfigurationError(f"invalid cron expression {cron!r}")
    return {"cron": cron, "tz": tz}


def _croniter() -> Any:
    try:
        import croniter  # the "cron" extra
    except ImportError as exc:
        raise ConfigurationError("cron= schedules need croniter: pip install 'yotaq[cron]'") from exc
    return croniter.croniter


def next_run_ms(spec: dict[str, Any], now_ms: int, due_ms: int | None = None) -> int:
    """The first run strictly after ``now_ms``: on the grid of ``every`` from ``due_ms`` (or from now),
    or the cron expression's next time in its time zone."""
    if "every" in spec:
        step: int = max(1, math.ceil(spec["every"] * 1000))
        start = now_ms if due_ms is None else due_ms
        return start + step * (max(0, now_ms - start) // step + 1)
    now = datetime.datetime.fromtimestamp(now_ms / 1000, zoneinfo.ZoneInfo(spec["tz"]))
    following: datetime.datetime = _croniter()(spec["cron"], now).get_next(datetime.datetime)
    return math.ceil(following.timestamp() * 1000)


def register(
    broker: Broker, keys: QueueKeys, secret: bytes | None, name: str, spec: dict[str, Any], body: bytes
) -> None:
    """Keep a schedule in Redis (replacing one of the same name), in the shard its name hashes to
    (``keys``)."""
    timing_json = json.dumps(spec, sort_keys=True).encode()
    record = outcomes.encode_schedule(name, timing_json, body, secret, keys.queue)
    broker.schedule(keys, name, record, timing_json.decode(), next_run_ms(spec, int(time.time() * 1000)))


def listed(broker: Broker, shards: list[QueueKeys]) -> list[Schedule]:
    """Every schedule of the queue, with its next run."""
    schedules = []
    for keys in shards:
        for name, record, next_ms in broker.schedules(keys):
            spec = json.loads(outcomes.decode_schedule(name, record, None, keys.queue)[0])
            schedules.append(Schedule(name, spec.get("every"), spec.get("cron"), spec["tz"], next_ms))
    return sorted(schedules, key=lambda schedule: schedule.name)


def tick(broker: Broker, keys: QueueKeys, shards: int, secret: bytes | None) -> None:
    """Enqueue every tick due now on this shard that no other worker has enqueued yet."""
    for name, due, record in broker.due_ticks(keys):
        due_ms = int(float(due))
        try:
            timing_json, body = outcomes.decode_schedule(name, record, secret, keys.queue)
            spec = json.loads(timing_json)
        except (InvalidMessage, ValueError) as exc:
            logger.error("periodic schedule %s on %r cannot be used: %s", name, keys.queue, exc)
            continue
        job_id = _tick_id(name, due_ms, keys, shards)
        message = serializer.message_for(job_id, body, secret, keys.queue, spec.get("limit", serializer.NO_LIMIT))
        following = next_run_ms(spec, int(time.time() * 1000), due_ms)
        if broker.tick(keys, name, due, following, job_id, message):
            logger.info("periodic %s: enqueued job %s", name, job_id)


def _tick_id(name: str, due_ms: int, keys: QueueKeys, shards: int) -> str:
    """The job id of a tick: the schedule's name and due time, made to land in the schedule's own
    shard (a script touches one shard's keys only), with a suffix where the queue is sharded."""
    job_id = f"{name}@{due_ms}"
    suffix = 0
    while shard_of(job_id, shards) != (keys.shard or 0):
        suffix += 1
        job_id = f"{name}@{due_ms}.{suffix}"
    return job_id

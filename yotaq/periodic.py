"""Periodic tasks: schedules kept in Redis, each tick enqueued once by whichever worker gets there first.

A schedule is a signed record (its timing and the function's message body) in a hash, and its next
run in a sorted set. Every worker's time thread learns from the promote script when the next tick
is due; then it computes the run after that in Python (``every=`` seconds, or a cron expression
read by croniter) and claims the tick with a compare-and-set on the next run, enqueueing it in the
same script (``tick-6.lua``): any number of workers enqueue each tick once. A tick missed while no
worker ran (an outage, a deploy) runs once when one is back, not once per missed tick; a tick due
while the one before it still waits to run is skipped, and counted. A schedule that cannot be used
(a timing no registration would take, a record whose signature does not hold) is disabled, with one
warning, never retried; registering it again enables it.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import time
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import outcomes, serializer
from .broker import Broker, QueueKeys
from .broker.commands import ScheduleRecord
from .broker.keys import shard_of
from .exceptions import ConfigurationError, InvalidMessage

logger = logging.getLogger(__name__)

MIN_EVERY_S = 0.1
MAX_EVERY_S = 366 * 86_400.0
CRON_ALIASES = frozenset(("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"))
MAX_REPEATED_RUNS = 24 * 60  # runs passed over in an hour a clock turned back repeats, at most


@dataclass(frozen=True)
class Schedule:
    """A periodic schedule as ``Queue.periodics`` lists it."""

    name: str
    every: float | None
    cron: str | None
    tz: str
    next_run_ms: int  # 0 when disabled
    skipped: int = 0  # ticks not enqueued because the one before was still waiting to run
    disabled: str | None = None  # why no tick of it is enqueued any more, when none is


def timing(every: float | None, cron: str | None, tz: str) -> dict[str, Any]:
    """A schedule's timing, checked: ``every`` seconds, or a cron expression in a time zone."""
    if (every is None) == (cron is None):
        raise ConfigurationError("give every= (seconds) or cron= (an expression), one of them")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"unknown time zone tz={tz!r}") from exc
    if every is not None:
        if isinstance(every, bool) or not isinstance(every, (int, float)) or not MIN_EVERY_S <= every <= MAX_EVERY_S:
            raise ConfigurationError(f"every must be seconds from {MIN_EVERY_S} to {MAX_EVERY_S:g}, got {every!r}")
        return {"every": every, "tz": tz}
    if not isinstance(cron, str) or not (len(cron.split()) == 5 or cron in CRON_ALIASES):
        raise ConfigurationError(f"cron must be five fields or one of {', '.join(sorted(CRON_ALIASES))}, got {cron!r}")
    if not _croniter().is_valid(cron):
        raise ConfigurationError(f"invalid cron expression {cron!r}")
    next_run_ms({"cron": cron, "tz": tz}, int(time.time() * 1000))  # one that never fires raises here
    return {"cron": cron, "tz": tz}


def _croniter() -> Any:
    try:
        import croniter  # the "cron" extra
    except ImportError as exc:
        raise ConfigurationError("cron= schedules need croniter: pip install 'yotaq[cron]'") from exc
    return croniter.croniter


def next_run_ms(spec: dict[str, Any], now_ms: int, due_ms: int | None = None) -> int:
    """The first run strictly after ``now_ms``: on the grid of ``every`` from ``due_ms`` (or from now),
    or the cron expression's next time in its time zone.

    Raises:
        ConfigurationError: the cron expression has no next run.
    """
    if "every" in spec:
        step: int = max(1, math.ceil(spec["every"] * 1000))
        start = now_ms if due_ms is None else due_ms
        return start + step * (max(0, now_ms - start) // step + 1)
    zone = zoneinfo.ZoneInfo(spec["tz"])
    for _ in range(MAX_REPEATED_RUNS):
        now = datetime.datetime.fromtimestamp(now_ms / 1000, zone)
        try:
            following: datetime.datetime = _croniter()(spec["cron"], now).get_next(datetime.datetime)
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:  # croniter's errors are ValueErrors
            raise ConfigurationError(f"cron expression {spec['cron']!r} has no run after {now}: {exc}") from exc
        now_ms = math.ceil(following.timestamp() * 1000)
        if not (_names_its_hours(spec["cron"]) and _repeated(now_ms, zone)):
            return now_ms
    raise ConfigurationError(f"cron expression {spec['cron']!r} has no run outside a repeated hour")


def _names_its_hours(cron: str) -> bool:
    """Whether the expression runs at given hours (``30 1 * * *``), rather than every hour or every few
    (``0 * * * *``, ``*/15 */2 * * *``): as in cron, only those run once in an hour that a clock turned
    back repeats, at its first occurrence; the others keep their pace in real time."""
    cron = cron.strip()
    return cron != "@hourly" and (cron.startswith("@") or not cron.split()[1].startswith("*"))


def _repeated(at_ms: int, zone: zoneinfo.ZoneInfo) -> bool:
    """Whether ``at_ms`` is the second occurrence of its wall-clock time (the clock was turned back)."""
    local = datetime.datetime.fromtimestamp(at_ms / 1000, zone)
    return local.replace(fold=0).timestamp() * 1000 < at_ms - 1


def checked(timing_json: bytes) -> dict[str, Any]:
    """A stored schedule's timing, checked as registering it would have.

    Raises:
        ConfigurationError: it is not one registering would take (an older or a hostile producer's).
    """
    try:
        spec = json.loads(timing_json)
    except ValueError as exc:
        raise ConfigurationError(f"timing {timing_json[:200]!r} is not JSON") from exc
    if not isinstance(spec, dict):
        raise ConfigurationError(f"timing {timing_json[:200]!r} is not a JSON object")
    return {**spec, **timing(spec.get("every"), spec.get("cron"), str(spec.get("tz")))}


def record_of(
    keys: QueueKeys, secret: bytes | None, name: str, spec: dict[str, Any], body: bytes
) -> tuple[bytes, str, int]:
    """What ``Broker.schedule`` keeps of a schedule, in the shard its name hashes to (``keys``): its
    signed record, its timing as JSON, and its first run (ms)."""
    timing_json = json.dumps(spec, sort_keys=True).encode()
    record = outcomes.encode_schedule(name, timing_json, body, secret, keys.queue)
    return record, timing_json.decode(), next_run_ms(spec, int(time.time() * 1000))


def listed(queue: str, records: Iterable[ScheduleRecord]) -> list[Schedule]:
    """The schedules of ``records`` (each shard's, as ``Broker.schedules`` reads them) by name, with their
    next run, their skipped ticks, and whether they are disabled."""
    schedules = []
    for name, record, next_ms, skipped, disabled in records:
        spec = json.loads(outcomes.decode_schedule(name, record, None, queue)[0])
        spec = spec if isinstance(spec, dict) else {}
        every, cron, tz = spec.get("every"), spec.get("cron"), str(spec.get("tz"))
        every = every if isinstance(every, (int, float)) else None
        schedules.append(Schedule(name, every, cron, tz, next_ms, skipped, disabled))
    return sorted(schedules, key=lambda schedule: schedule.name)


def tick(broker: Broker, keys: QueueKeys, shards: int, secret: bytes | None) -> None:
    """Enqueue every tick due now on this shard that no other worker has enqueued yet."""
    for name, due, record in broker.due_ticks(keys):
        due_ms = int(float(due))
        try:
            timing_json, body = outcomes.decode_schedule(name, record, secret, keys.queue)
            spec = checked(timing_json)
            following = next_run_ms(spec, int(time.time() * 1000), due_ms)
        except (InvalidMessage, ConfigurationError) as exc:  # registering it again enables it
            if broker.disable_schedule(keys, name, due, str(exc)):
                logger.warning("periodic schedule %s on %r disabled, no tick of it will run: %s", name, keys.queue, exc)
            continue
        job_id = _tick_id(name, due_ms, keys, shards)
        message = serializer.message_for(job_id, body, secret, keys.queue, spec.get("limit", serializer.NO_LIMIT))
        outcome = broker.tick(keys, name, due, following, job_id, message)
        if outcome == "enqueued":
            logger.info("periodic %s: enqueued job %s", name, job_id)
        elif outcome == "skipped":
            logger.info("periodic %s: skipped the tick due at %d, the one before is still waiting to run", name, due_ms)


def _tick_id(name: str, due_ms: int, keys: QueueKeys, shards: int) -> str:
    """The job id of a tick: the schedule's name and due time, made to land in the schedule's own
    shard (a script touches one shard's keys only), with a suffix where the queue is sharded."""
    job_id = f"{name}@{due_ms}"
    suffix = 0
    while shard_of(job_id, shards) != (keys.shard or 0):
        suffix += 1
        job_id = f"{name}@{due_ms}.{suffix}"
    return job_id

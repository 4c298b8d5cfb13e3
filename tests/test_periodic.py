"""Periodic schedules that misbehave: expressions that never fire, schedules in Redis no registration
would take, clocks turned back or forward, and ticks that come faster than they run; against a real
Redis and real worker processes."""

from __future__ import annotations

import datetime
import json
import logging
import time
import zoneinfo
from pathlib import Path

import pytest

import yotaq
from yotaq import outcomes, periodic, serializer

from . import tasks
from .helpers import wait_for

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def runs_between(cron: str, start: datetime.datetime, end: datetime.datetime) -> list[datetime.datetime]:
    """The runs of ``cron`` in New York from ``start`` to ``end``, one ``next_run_ms`` after the other."""
    spec, at_ms, runs = {"cron": cron, "tz": "America/New_York"}, int(start.timestamp() * 1000), []
    while (at_ms := periodic.next_run_ms(spec, at_ms)) < end.timestamp() * 1000:
        runs.append(datetime.datetime.fromtimestamp(at_ms / 1000, NEW_YORK))
    return runs


def store_schedule(queue: yotaq.Queue, name: str, timing: dict[str, object], due_ms: int) -> None:
    """Write a schedule straight into Redis, as an older or hostile producer could, unchecked."""
    timing_json = json.dumps(timing).encode()
    body = serializer.task_body(queue._functions.dumps(print), (), {}, {})
    record = outcomes.encode_schedule(name, timing_json, body, None, queue.name)
    queue.broker.schedule(queue.keys, name, record, timing_json.decode(), due_ms)


def waiting_ticks(r, queue: yotaq.Queue) -> int:
    """The ticks enqueued and not started: pending, waiting for a slot, or scheduled."""
    states = r.hgetall(queue.keys.state)
    return sum(1 for job_id, state in states.items() if b"@" in job_id and state in (b"pending", b"scheduled"))


def slow_tick(path: str, seconds: float) -> None:
    tasks.note(path, "start", yotaq.current_job().id)
    time.sleep(seconds)


# -- cron expressions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cron",
    ["0 0 30 2 *", "0 0 31 4 *", "* * * * * *", "* * * * * * *", "0 0 1 1 * 0 2020", "@reboot", " @daily", "", 5, None],
)
def test_a_cron_expression_that_never_fires_is_refused_at_registration(queue, cron):
    with pytest.raises(yotaq.ConfigurationError, match="cron"):
        queue.periodic(cron=cron, name="never")(print)
    assert queue.periodics() == []


def test_the_cron_aliases_are_taken(queue):
    queue.periodic(cron="@daily", tz="America/New_York", name="daily")(print)
    [schedule] = queue.periodics()
    midnight = datetime.datetime.fromtimestamp(schedule.next_run_ms / 1000, NEW_YORK)
    assert (midnight.hour, midnight.minute) == (0, 0)


def test_a_daily_cron_runs_once_on_the_fall_back_day_and_the_hour_skipped_in_spring_runs_once_after_it():
    # Fall-back, 2026-11-01: 01:30 happens twice in New York (EDT, then EST); it runs at the first.
    fall = runs_between(
        "30 1 * * *", datetime.datetime(2026, 10, 31, tzinfo=NEW_YORK), datetime.datetime(2026, 11, 3, tzinfo=NEW_YORK)
    )
    assert [(run.isoformat()) for run in fall] == [
        "2026-10-31T01:30:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]
    # An expression that runs every hour keeps its pace through the repeated hour: 25 runs that day.
    day = (datetime.datetime(2026, 11, 1, tzinfo=NEW_YORK), datetime.datetime(2026, 11, 2, tzinfo=NEW_YORK))
    hourly = runs_between("0 * * * *", day[0] - datetime.timedelta(seconds=1), day[1] - datetime.timedelta(seconds=1))
    assert len(hourly) == 25 and len({run.timestamp() for run in hourly}) == 25
    # Spring-forward, 2026-03-08: 02:30 does not exist (02:00 becomes 03:00); it runs once, at 03:00.
    spring = runs_between(
        "30 2 * * *", datetime.datetime(2026, 3, 7, tzinfo=NEW_YORK), datetime.datetime(2026, 3, 10, tzinfo=NEW_YORK)
    )
    assert [(run.isoformat()) for run in spring] == [
        "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]
    # The skipped hour's runs of an every-30-minutes expression come together, once, at 03:00.
    half_hours = runs_between(
        "*/30 * * * *",
        datetime.datetime(2026, 3, 8, 1, 0, tzinfo=NEW_YORK),
        datetime.datetime(2026, 3, 8, 4, 0, tzinfo=NEW_YORK),
    )
    assert [run.strftime("%H:%M%z") for run in half_hours] == ["01:30-0500", "03:00-0400", "03:30-0400"]


# -- schedules in Redis that no registration would take ---------------------------------------


BAD_TIMINGS = {
    "feb-30": {"cron": "0 0 30 2 *", "tz": "UTC"},
    "seven-fields": {"cron": "0 0 1 1 * 0 2020", "tz": "UTC"},
    "every-0": {"every": 0, "tz": "UTC"},
    "no-zone": {"cron": "* * * * *"},
}


def test_a_stored_schedule_without_a_next_run_is_disabled_with_one_warning_and_the_worker_serves_on(
    queue, spawn, queue_name, r
):
    # Given schedules, due now, that cannot work out a next run, written straight into Redis
    due_ms = int(time.time() * 1000) - 1_000
    for name, timing in BAD_TIMINGS.items():
        store_schedule(queue, name, timing, due_ms)
    # When a worker runs, with a task on the queue too
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name)
    assert queue.enqueue(divmod, 7, 2).result(timeout=10) == (3, 1)
    # Then each schedule is disabled, out of the rotation, and listed as such
    wait_for(lambda: all(s.disabled for s in queue.periodics()), what="the schedules to be disabled")
    assert r.zcard(queue.keys.schedule_next) == 0 and r.hlen(queue.keys.state) == 0
    assert {s.name: s.next_run_ms for s in queue.periodics()} == dict.fromkeys(BAD_TIMINGS, 0)
    # and the worker keeps serving its queue, without a loop: one warning each, and little CPU
    assert queue.enqueue(divmod, 9, 2).result(timeout=10) == (4, 1)
    cpu_before = _cpu_s(worker.pid)
    time.sleep(1.0)  # what is measured: the worker's CPU over a second of doing nothing
    cpu_s = _cpu_s(worker.pid) - cpu_before
    log = worker.output()
    for name in BAD_TIMINGS:
        assert log.count(f"periodic schedule {name} on {queue_name!r} disabled") == 1, log[-2000:]
    assert log.count("\n") < 100 and cpu_s < 0.5, (cpu_s, log[-2000:])
    listing = spawn("-m", "yotaq", "periodic", "--queue", queue_name)
    assert listing.wait(30) == 0
    assert "feb-30  cron '0 0 30 2 *' (UTC)  disabled: cron expression '0 0 30 2 *'" in listing.output()


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (USER_HZ, 100 on Linux)


def test_a_disabled_schedule_registered_again_runs_and_removing_it_leaves_nothing(queue, r):
    store_schedule(queue, "report", BAD_TIMINGS["feb-30"], int(time.time() * 1000) - 1_000)
    periodic.tick(queue.broker, queue.keys, 1, None)
    periodic.tick(queue.broker, queue.keys, 1, None)  # already disabled: nothing due, nothing logged
    [schedule] = queue.periodics()
    assert schedule.disabled and schedule.next_run_ms == 0
    queue.periodic(every=60, name="report")(print)
    [schedule] = queue.periodics()
    assert schedule.disabled is None and schedule.next_run_ms > time.time() * 1000
    assert queue.remove_periodic("report")
    assert all(not r.exists(key) for key in queue.keys.schedule_keys)


# -- ticks that come faster than they run -----------------------------------------------------


@pytest.mark.parametrize("concurrency", [None, 1])
def test_a_periodic_task_longer_than_its_period_keeps_at_most_one_tick_waiting(
    queue, spawn, queue_name, r, tmp_path, concurrency
):
    # Given a tick every 0.2 s of a task that runs 1 s (limited to one at a time, or not)
    journal = tmp_path / "journal"
    options = {} if concurrency is None else {"concurrency": concurrency}
    queue.options(**options).periodic(every=0.2, name="slow")(lambda: slow_tick(str(journal), 1.0))
    # When two workers run it for more than two runs' time
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    most_waiting = 0

    def ran_three_times() -> bool:
        nonlocal most_waiting
        most_waiting = max(most_waiting, waiting_ticks(r, queue))
        return len(tasks.events(journal, "start")) >= 3 and queue.periodics()[0].skipped >= 5

    wait_for(ran_three_times, timeout=20, what="three runs and five skipped ticks")
    # Then at most one tick ever waited, and the ticks skipped meanwhile are counted
    assert most_waiting <= 1
    [schedule] = queue.periodics()
    assert schedule.skipped >= 5
    listing = spawn("-m", "yotaq", "periodic", "--queue", queue_name)
    assert listing.wait(30) == 0 and "  skipped " in listing.output()


def test_a_schedule_whose_record_cannot_be_verified_is_disabled_with_one_warning(r, queue_name, caplog):
    # Given a schedule signed with one secret, come due for a worker holding another
    signed = yotaq.Queue(r, queue_name, secret="the producers'")
    signed.periodic(every=60, name="report")(print)
    r.zadd(signed.keys.schedule_next, {"report": int(time.time() * 1000) - 1_000})
    # When that worker's time comes round twice
    with caplog.at_level(logging.WARNING, logger="yotaq.periodic"):
        for _ in range(2):
            periodic.tick(signed.broker, signed.keys, 1, b"another secret")
    # Then the schedule is disabled, once, with the reason, rather than read and refused again and again
    [schedule] = signed.periodics()
    assert schedule.disabled and "signature" in schedule.disabled and schedule.next_run_ms == 0
    assert [record.levelno for record in caplog.records] == [logging.WARNING]

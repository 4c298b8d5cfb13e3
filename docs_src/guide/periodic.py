"""Run functions periodically: the schedule lives in Redis, and one worker of the queue enqueues each tick."""

import datetime
import os
import time
import zoneinfo

import yotaq

queue = yotaq.Queue(yotaq.connect(os.environ.get("YOTAQ_REDIS_URL", "redis://localhost:6379/0")))


@queue.periodic(every=3600)  # its name: the function's, "__main__.clean_up"
def clean_up():
    return "cleaned up"


def send_report():
    return "report sent"


try:
    # Without a decorator, with options and a name of your own (cron= needs croniter: the cron extra)
    weekdays = queue.options(retries=2, timeout=60).periodic(cron="0 7 * * mon-fri", tz="Europe/Paris", name="report")
    weekdays(send_report)

    for schedule in queue.periodics():
        if schedule.every is not None:
            next_in_s = schedule.next_run_ms / 1000 - time.time()
            print(f"{schedule.name}: every {schedule.every} s, next in {next_in_s:.0f} s")
        else:
            local = datetime.datetime.fromtimestamp(schedule.next_run_ms / 1000, zoneinfo.ZoneInfo(schedule.tz))
            print(f"{schedule.name}: cron {schedule.cron!r} ({schedule.tz}), next {local:%A %H:%M}")
finally:  # a schedule stays in Redis until removed: this example leaves none behind, even when it fails
    removed = queue.remove_periodic("__main__.clean_up"), queue.remove_periodic("report")

print(*removed)
print(queue.periodics())

"""The dashboard's screenshots in the docs (docs/img/dashboard-*.png), taken as a person would see it.

Starts a redis-server of its own, two queues with real worker processes running tasks (some of which
fail), the dashboard, and headless chromium (Debian's, driven by Playwright); waits a few seconds of
work, then shoots the main page and a failed job's page. So that the hour-long charts have more than
a few seconds to show, the hour before the workers started is written into each queue's time series
by this script (made-up numbers, shaped like a day's load); the seconds after it are the workers' own.

    .venv/bin/python scripts/dashboard_screenshots.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

import yotaq
from yotaq.dashboard.app import create_app
from yotaq.server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.web import CHROMIUM, CHROMIUM_ARGS, served  # noqa: E402 - after the path is set

WORK_S = 6  # of real work before the shots


def send_email(to: str) -> str:
    time.sleep(random.uniform(0.02, 0.08))
    if to.startswith("bounce"):
        raise ConnectionRefusedError(f"smtp.example.com:25 refused the message for {to}")
    return f"sent to {to}"


def render_report(month: str) -> dict[str, object]:
    time.sleep(random.uniform(0.3, 0.9))
    return {"month": month, "pages": random.randint(3, 40)}


def history(queue: yotaq.Queue, rate: float, mean_ms: float, until_s: int) -> None:
    """An hour before ``until_s`` of made-up seconds in the queue's series: a rate that swells and ebbs."""
    fields = {}
    for second in range(until_s - 3600, until_s):
        phase = (second - until_s) / 3600 * 2 * math.pi
        done = max(0, round(rate * (1 + 0.45 * math.sin(phase * 2.5)) + random.gauss(0, rate * 0.12)))
        if done:
            ms = round(done * mean_ms * (1 + 0.3 * math.sin(phase * 1.7 + 1) + random.gauss(0, 0.05)))
            fields[second % 3600] = f"{second} {done} {ms}"
    queue.redis.hset(queue.keys.series, mapping=fields)  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    random.seed(7)
    with tempfile.TemporaryDirectory(prefix="yotaq-shots-") as data, EmbeddedRedis(Path(data)) as server:
        client = yotaq.connect(server.url)
        emails, reports = yotaq.Queue(client, "emails"), yotaq.Queue(client, "reports")
        now_s = int(client.time()[0])
        history(emails, 22, 48, now_s)
        history(reports, 1.2, 610, now_s)
        addresses = [f"user{n}@example.com" for n in range(1500)]
        addresses[40:40] = ["bounce@example.org"]  # two that fail early, to be seen in the list
        addresses[90:90] = ["bounce-2@example.net"]
        emails.options(retries=0).enqueue_many(send_email, [(to,) for to in addresses])
        emails.options(delay=1800).enqueue(send_email, "<script>alert('hi')</script>@example.com")
        reports.enqueue_many(render_report, [(f"2026-{month:02d}",) for month in range(1, 13)] * 5)
        env = {name: value for name, value in os.environ.items() if not name.startswith("YOTAQ_")}
        env |= {"YOTAQ_REDIS_URL": server.url}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "yotaq", "worker", "--queue", queue],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for queue in ("emails", "emails", "reports", "reports")
        ]
        try:
            with served(create_app(client)) as url, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1360, "height": 900}, device_scale_factor=1)
                page.goto(url)
                time.sleep(WORK_S)
                page.reload()
                page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
                time.sleep(1.5)  # a poll or two: the live stamp and counts as they are
                args.out.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.out / "dashboard-overview.png", full_page=True)
                page.locator('[data-list="failed"] a').first.click()
                page.wait_for_selector("pre.traceback")
                page.screenshot(path=args.out / "dashboard-job.png", full_page=True)
                browser.close()
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(10)
            client.close()
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

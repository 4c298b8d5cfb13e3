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


def kill_own_worker() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def events(path: Path, event: str) -> list[tuple[str, int]]:
    """The (value, pid) of each line noting ``event``."""
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(value, int(pid)) for kind, value, pid in rows if kind == event]

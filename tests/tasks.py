"""Task functions for tests with worker processes. Each writes a line to a file, so what ran
is known even while Redis is down; O_APPEND keeps concurrent short lines whole."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path


def note(path: str, event: str, value: object) -> None:
    with open(path, "a") as out:
        out.write(f"{event} {value} {os.getpid()}\n")


_GATES: dict[str, tuple[list[int], asyncio.Event]] = {}  # per gate, in this worker process


async def gathered(path: str, value: object, gate: str, count: int, then: float = 0.0) -> None:
    """Note the start; wait until ``count`` coroutines of ``gate`` have started (on this worker's
    event loop), and ``then`` seconds more; note the end: ``count`` of them are in flight at once,
    or none ends."""
    started, full = _GATES.setdefault(gate, ([0], asyncio.Event()))
    note(path, "start", value)
    started[0] += 1
    if started[0] >= count:
        full.set()
    await full.wait()
    await asyncio.sleep(then)
    note(path, "done", value)


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


class SlowToPickle:
    """A value whose pickling notes that it has begun, then takes ``seconds``."""

    def __init__(self, path: str, seconds: float) -> None:
        self.path, self.seconds = path, seconds

    def __reduce__(self) -> tuple[object, ...]:
        note(self.path, "pickling", 0)
        time.sleep(self.seconds)
        return (str, ("pickled",))


class SlowToUnpickle:
    """An argument whose unpickling notes that it has begun, then takes ``seconds``."""

    def __init__(self, path: str, seconds: float) -> None:
        self.path, self.seconds = path, seconds

    def __getstate__(self) -> tuple[str, float]:
        return (self.path, self.seconds)

    def __setstate__(self, state: tuple[str, float]) -> None:
        self.path, self.seconds = state
        note(self.path, "unpickling", 0)
        time.sleep(self.seconds)


def returns_slow_to_pickle(path: str, seconds: float) -> SlowToPickle:
    return SlowToPickle(path, seconds)


def takes(argument: object) -> str:
    return "ran"


def exit_code(pid: int, timeout: float) -> int | None:
    """The exit code of the child ``pid`` (minus the signal that ended it), waited for at most
    ``timeout`` seconds; None if it is still running then."""
    import select

    with os.fdopen(os.pidfd_open(pid), "rb") as ended:
        if not select.select([ended], [], [], timeout)[0]:
            return None
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def forks() -> tuple[str, int, int | None]:
    """Fork: the child returns at once; the parent returns the child's pid and how it exited."""
    child = os.fork()
    if child == 0:
        return ("child", os.getpid(), None)
    return ("parent", child, exit_code(child, 5))


async def forks_async() -> tuple[str, int, int | None]:
    return forks()


def forks_a_waiting_child(path: str) -> int | None:
    """Fork a child that notes its pid and sleeps on in the task; return how it exited."""
    child = os.fork()
    if child == 0:
        note(path, "child", os.getpid())
        time.sleep(30)
        return None
    return exit_code(child, 10)


def raises_long(size: int) -> None:
    raise RuntimeError("x" * size)


def square(path: str, n: int, gate: str = "") -> int:
    """Note the start; wait (a minute at most) until the file ``gate`` exists, if given; note the end; n²."""
    note(path, "start", n)
    deadline = time.monotonic() + 60
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    note(path, "done", n)
    return n * n


def passed_on(value: int, path: str, gate: str) -> int:
    """A chain's step: note the start with ``value``, the one before's result; wait (a minute at most)
    until the file ``gate`` exists; note the end; ``value``."""
    note(path, "start", value)
    deadline = time.monotonic() + 60
    while not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.01)
    note(path, "done", value)
    return value


def collect(results: object, path: str) -> object:
    """A callback: note what it was given (without spaces), at the time; return it."""
    note(path, "callback", repr(results).replace(" ", ""))
    return results


_THREAD_GATES: dict[str, tuple[list[int], threading.Lock, threading.Event]] = {}


def gathered_in_threads(path: str, value: object, gate: str, count: int, then: float = 0.0) -> str:
    """Note the start; wait (10 s at most) until ``count`` calls of ``gate`` have started in this worker
    process, and ``then`` seconds more; note the end; return the job's id as ``current_job()`` says."""
    import yotaq

    started, lock, full = _THREAD_GATES.setdefault(gate, ([0], threading.Lock(), threading.Event()))
    note(path, "start", value)
    with lock:
        started[0] += 1
        if started[0] >= count:
            full.set()
    full.wait(10)
    time.sleep(then)
    note(path, "done", value)
    return yotaq.current_job().id

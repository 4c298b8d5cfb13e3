"""The task functions the load test enqueues: ``noop``, ``sleep`` (10 ms asleep) and ``cpu`` (~1 ms of arithmetic).

They must reach the workers **by value**. dill pickles a function by reference (module and name)
whenever its module can be imported in the sending process, and this one can (as ``_tasks``, since
locust puts ``loadtest/`` on ``sys.path`` while it imports the locustfiles), but not in a worker
started with ``python -m yotaq worker``, which would fail with ``No module named '_tasks'``. dill
pickles functions of ``__main__`` by value, so each function below is marked as belonging to
``__main__``; with yotaq's ``recurse=True`` the globals a function uses travel with it: here two
numbers and the ``time`` module (which travels by reference, as ``import time``).
``tests/test_loadtest.py`` checks with real workers that they run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

SLEEP_S = 0.01
CPU_ROUNDS = 20_000  # ~1 ms of pure-Python arithmetic on a 2020s x86 core (0.99 ms measured here)


def noop() -> None:
    """Nothing: what is left is yotaq's own cost per task."""
    return None


def sleep() -> None:
    """10 ms of waiting without using the CPU, like a task that waits on I/O."""
    time.sleep(SLEEP_S)


def cpu() -> int:
    """About 1 ms of pure-Python arithmetic, holding the GIL throughout, like a CPU-bound task."""
    x = 0
    for i in range(CPU_ROUNDS):
        x = (x * 31 + i) % 1_000_003
    return x


TASKS: dict[str, Callable[..., Any]] = {"noop": noop, "sleep": sleep, "cpu": cpu}

for _fn in TASKS.values():
    _fn.__module__ = "__main__"  # pickled by value; see the module docstring

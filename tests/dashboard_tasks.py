"""Tasks for the dashboard's and the metrics' tests, importable by the worker processes they start."""

from __future__ import annotations

import time
from pathlib import Path


def fail_first(flag: str) -> str:
    """Fail on the first try (leaving a flag file), succeed on the next."""
    path = Path(flag)
    if not path.exists():
        path.write_text("tried once")
        raise RuntimeError(f"first try fails on purpose: {path.name} was not there yet")
    return "second try ok"


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def fail(text: str) -> None:
    raise ValueError(text)


def fail_at_length(size: int) -> None:
    raise ValueError("x" * size)


def raise_named(name: str) -> None:
    """Raise the built-in exception of that name (ValueError, KeyError, ...)."""
    raise {"ValueError": ValueError, "KeyError": KeyError, "TypeError": TypeError}[name](f"raised {name}")


def add(a: int, b: int = 0) -> int:
    return a + b

"""Task functions for the executor's tests (tests/test_executor.py), run by real workers."""

from __future__ import annotations

import time

from .tasks import note


class NotAPage(Exception):
    """An exception class of the tests' own: a future raises it, as the task did."""


def square(x: int) -> int:
    return x * x


def fails(message: str) -> None:
    raise ValueError(message)


def fails_with_own_error(message: str) -> None:
    raise NotAPage(message)


def noted(path: str, value: object) -> object:
    note(path, "ran", value)
    return value


def naps(seconds: float) -> float:
    time.sleep(seconds)
    return seconds

"""Hooks for ``python -m yotaq worker --hooks tests.cli_hooks:...``: each notes what it saw in the file
named by $HOOKS_LOG, so the test reads what a worker process did."""

from __future__ import annotations

import os
from collections.abc import Sequence

import yotaq
from yotaq import CurrentJob


class Noting(yotaq.Hook):
    def __init__(self, name: str = "made") -> None:
        self.name = name

    def _note(self, line: str) -> None:
        with open(os.environ["HOOKS_LOG"], "a") as out:
            out.write(f"{self.name} {line}\n")

    def on_worker_start(self, worker: str, queues: Sequence[str]) -> None:
        self._note("start")

    def after_task(self, job: CurrentJob, outcome: str, error: BaseException | None, seconds: float) -> None:
        self._note(outcome)


instance = Noting("instance")


def factory() -> Noting:
    return Noting("factory")


not_a_hook = 42


def returns_a_string() -> str:
    return "no hook"

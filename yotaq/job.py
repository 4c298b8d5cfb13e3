"""The handle ``Queue.enqueue`` returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    """A task on a queue, known by its id."""

    id: str
    queue: str

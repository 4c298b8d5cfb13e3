"""Every Redis key yotaq uses, built here and nowhere else.

All keys of queue ``Q`` share the hash tag ``{yotaq:Q}``, so they live in one Redis Cluster slot
and every Lua script can be given all of them in ``KEYS``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .exceptions import ConfigurationError

_VALID_NAME = re.compile(r"[^\s{}]+")


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it can be part of a key, else raise ``ConfigurationError``."""
    if not isinstance(name, str) or not _VALID_NAME.fullmatch(name):
        raise ConfigurationError(
            f"invalid {kind} name {name!r}: it must be a non-empty string without whitespace, '{{' or '}}'"
        )
    return name


@dataclass(frozen=True)
class QueueKeys:
    """The keys of one queue."""

    queue: str

    def __post_init__(self) -> None:
        check_name("queue", self.queue)

    @functools.cached_property
    def _prefix(self) -> str:
        return f"{{yotaq:{self.queue}}}"

    @property
    def pending(self) -> str:
        """List of messages waiting to run, oldest at the head."""
        return f"{self._prefix}:pending"

    def active(self, worker: str) -> str:
        """List of messages leased by ``worker`` and not yet acknowledged."""
        return f"{self._prefix}:active:{check_name('worker', worker)}"

    @property
    def workers(self) -> str:
        """Sorted set of worker ids, scored by heartbeat deadline (ms, Redis server time)."""
        return f"{self._prefix}:workers"

    @property
    def heartbeats(self) -> str:
        """Hash of worker id to the time of its last heartbeat (ms, Redis server time)."""
        return f"{self._prefix}:heartbeats"

    @property
    def deliveries(self) -> str:
        """Hash of job id to the number of times a worker died while holding it."""
        return f"{self._prefix}:deliveries"

    @property
    def dead(self) -> str:
        """Hash of job id to the message of a task set aside for good."""
        return f"{self._prefix}:dead"

    @property
    def dead_reasons(self) -> str:
        """Hash of job id to a JSON record of why and when it was set aside."""
        return f"{self._prefix}:dead:reasons"

    @property
    def scheduled(self) -> str:
        """Sorted set of job ids waiting for their time (delayed tasks, retries), scored by run-at (ms)."""
        return f"{self._prefix}:scheduled"

    @property
    def scheduled_messages(self) -> str:
        """Hash of job id to the message of a scheduled task."""
        return f"{self._prefix}:scheduled:messages"

    def result(self, job_id: str) -> str:
        """List holding the one result envelope of a finished job, until it expires."""
        return f"{self._prefix}:result:{check_name('job id', job_id)}"

    def unique(self, job_id: str) -> str:
        """Exists while a job enqueued with ``job_id`` (or requeued when dead) is pending, scheduled or active."""
        return f"{self._prefix}:unique:{check_name('job id', job_id)}"

    @property
    def stats(self) -> str:
        """Hash of counters: done, failed, retried, invalid, redelivered."""
        return f"{self._prefix}:stats"

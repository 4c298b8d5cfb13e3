"""Every Redis key yotaq uses, built here and nowhere else.

All keys of queue ``Q`` share the hash tag ``{yotaq:Q}``, so they live in one Redis Cluster slot
and every Lua script can be given all of them in ``KEYS``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..exceptions import ConfigurationError
from ..info import Buried
from ..serializer import MAX_ID_LENGTH, VALID_ID


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it can be part of a key, else raise ``ConfigurationError``."""
    if not isinstance(name, str) or not name.isascii() or not VALID_ID.fullmatch(name.encode()):
        raise ConfigurationError(
            f"invalid {kind} {name!r}: it must be 1 to {MAX_ID_LENGTH} printable ASCII characters, "
            "without spaces, '{' or '}'"
        )
    return name


@dataclass(frozen=True)
class QueueKeys:
    """The keys of one queue."""

    queue: str

    def __post_init__(self) -> None:
        check_name("queue name", self.queue)

    @functools.cached_property
    def _prefix(self) -> str:
        return f"{{yotaq:{self.queue}}}"

    @property
    def pending(self) -> str:
        """List of messages waiting to run, oldest at the head."""
        return f"{self._prefix}:pending"

    def active(self, worker: str) -> str:
        """List of messages leased by ``worker`` and not yet acknowledged."""
        return f"{self._prefix}:active:{check_name('worker name', worker)}"

    @property
    def state(self) -> str:
        """Hash of job id to ``pending``, ``scheduled`` or ``active``, for every job not finished yet."""
        return f"{self._prefix}:state"

    @property
    def scheduled(self) -> str:
        """Sorted set of job ids waiting for their time (delayed tasks, retries), scored by run-at (ms)."""
        return f"{self._prefix}:scheduled"

    @property
    def scheduled_messages(self) -> str:
        """Hash of job id to the message of a scheduled task."""
        return f"{self._prefix}:scheduled:messages"

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

    def buried(self, kind: Buried) -> str:
        """Sorted set of the job ids set aside as ``kind``, scored by when their record expires (ms)."""
        return f"{self._prefix}:{kind}"

    def buried_messages(self, kind: Buried) -> str:
        """Hash of job id to the message of a job set aside as ``kind``, to requeue it."""
        return f"{self._prefix}:{kind}:messages"

    def buried_reasons(self, kind: Buried) -> str:
        """Hash of job id to a JSON record of why and when it was set aside."""
        return f"{self._prefix}:{kind}:reasons"

    def result(self, job_id: str) -> str:
        """List holding the one result envelope of a finished job, until it expires."""
        return f"{self._prefix}:result:{check_name('job id', job_id)}"

    @property
    def stats(self) -> str:
        """Hash of counters: done, failed, retried, invalid, redelivered."""
        return f"{self._prefix}:stats"

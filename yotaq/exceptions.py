"""Every error yotaq raises, on one screen."""

from __future__ import annotations

import builtins


class YotaqError(Exception):
    """Base class of every error raised by yotaq."""


class ConfigurationError(YotaqError, ValueError):
    """Raised when a queue, worker or command is given an invalid setting."""


class SerializationError(YotaqError, TypeError):
    """Raised at enqueue time when a task or its arguments cannot travel to a worker."""


class ConnectionError(YotaqError, builtins.ConnectionError):  # noqa: A001 - the name users expect
    """Raised when Redis cannot be reached within the enqueue deadline."""


class InvalidMessage(YotaqError):
    """Raised when a message on the queue cannot be turned back into a task; the reason says why."""


class ServerError(YotaqError):
    """Raised when the embedded Redis server cannot be found or started."""

"""yotaq: Your Own Task Queue. Functions travel by value with dill; Redis holds every state.

queue = yotaq.Queue(yotaq.connect("redis://localhost:6379/0"))
job = queue.enqueue(divmod, 7, 2)      # anywhere
yotaq.Worker(queue.redis).run()        # elsewhere: runs divmod(7, 2)
job.result(timeout=10)                 # (3, 1)
"""

__version__ = "0.1.0"  # the package's version: pyproject.toml reads it from here

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from . import exceptions
from .broker import connect
from .current import CurrentJob, Hook, current_job
from .exceptions import (
    BrokerError,
    ConfigurationError,
    InvalidMessage,
    JobCancelled,
    JobFailed,
    JobIdInUse,
    RedisUnavailable,
    ResultTimeout,
    Retry,
    SerializationError,
    ServerError,
    YotaqError,
)
from .job import Job, Options, Status
from .producing import Settings
from .queue import Queue, TaskFunction, WithOptions
from .worker import Worker

if TYPE_CHECKING:
    from .aio import AsyncJob, AsyncQueue, AsyncTaskFunction, AsyncWithOptions
    from .executor import Executor, JobFuture
    from .groups import AsyncGroup, Group
    from .info import FailedJob, QueueInfo, WorkerInfo
    from .workflows import Call

_LAZY = {  # imported when used: a process that enqueues a task and runs it in a worker needs none of them
    **dict.fromkeys(("Executor", "JobFuture"), "executor"),
    **dict.fromkeys(("AsyncJob", "AsyncQueue", "AsyncTaskFunction", "AsyncWithOptions"), "aio"),
    **dict.fromkeys(("AsyncGroup", "Group"), "groups"),
    **dict.fromkeys(("FailedJob", "QueueInfo", "WorkerInfo"), "info"),
    "Call": "workflows",
}
_RENAMED = {"BuriedJob": "FailedJob", **exceptions.DEPRECATED_NAMES}  # old names, for one release

__all__ = [
    "AsyncGroup",
    "AsyncJob",
    "AsyncQueue",
    "AsyncTaskFunction",
    "AsyncWithOptions",
    "BrokerError",
    "Call",
    "ConfigurationError",
    "CurrentJob",
    "Executor",
    "FailedJob",
    "Group",
    "Hook",
    "InvalidMessage",
    "Job",
    "JobCancelled",
    "JobFailed",
    "JobFuture",
    "JobIdInUse",
    "Options",
    "Queue",
    "QueueInfo",
    "RedisUnavailable",
    "ResultTimeout",
    "Retry",
    "SerializationError",
    "ServerError",
    "Settings",
    "Status",
    "TaskFunction",
    "WithOptions",
    "Worker",
    "WorkerInfo",
    "YotaqError",
    "__version__",
    "connect",
    "current_job",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _RENAMED:  # kept for one release, with a warning
        new = _RENAMED[name]
        warnings.warn(f"yotaq.{name} is deprecated, use yotaq.{new}", DeprecationWarning, stacklevel=2)
        return globals()[new] if new in globals() else __getattr__(new)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""yotaq: Your Own Task Queue. Functions travel by value with dill; Redis holds every state.

queue = yotaq.Queue(yotaq.connect("redis://localhost:6379/0"))
job = queue.enqueue(divmod, 7, 2)      # anywhere
yotaq.Worker(queue.redis).run()        # elsewhere: runs divmod(7, 2)
job.result(timeout=10)                 # (3, 1)
"""

__version__ = "0.1.0"  # the package's version: pyproject.toml reads it from here

from .connection import connect
from .exceptions import (
    ConfigurationError,
    ConnectionError,
    InvalidMessage,
    JobFailed,
    ResultTimeout,
    Retry,
    SerializationError,
    ServerError,
    YotaqError,
)
from .job import Job, Options, Status
from .queue import DeadJob, Queue, QueueInfo, TaskFunction, WorkerInfo
from .worker import Worker

__all__ = [
    "ConfigurationError",
    "ConnectionError",
    "DeadJob",
    "InvalidMessage",
    "Job",
    "JobFailed",
    "Options",
    "Queue",
    "QueueInfo",
    "ResultTimeout",
    "Retry",
    "SerializationError",
    "ServerError",
    "Status",
    "TaskFunction",
    "Worker",
    "WorkerInfo",
    "YotaqError",
    "__version__",
    "connect",
]

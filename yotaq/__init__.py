"""yotaq: Your Own Task Queue. Functions travel by value with dill; Redis holds every state.

queue = yotaq.Queue(yotaq.connect("redis://localhost:6379/0"))
queue.enqueue(print, "hello")          # anywhere
yotaq.Worker(queue.redis).run()        # elsewhere: prints hello
"""

from .connection import connect
from .exceptions import (
    ConfigurationError,
    ConnectionError,
    InvalidMessage,
    SerializationError,
    ServerError,
    YotaqError,
)
from .job import Job
from .queue import DeadJob, Queue, QueueInfo, WorkerInfo
from .worker import Worker

__all__ = [
    "ConfigurationError",
    "ConnectionError",
    "DeadJob",
    "InvalidMessage",
    "Job",
    "Queue",
    "QueueInfo",
    "SerializationError",
    "ServerError",
    "Worker",
    "WorkerInfo",
    "YotaqError",
    "connect",
]

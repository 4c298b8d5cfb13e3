"""The producer side for asyncio: ``AsyncQueue``, ``Queue``'s twin whose every call to Redis is awaited.

The same methods, messages, options, signatures, keys and scripts as ``Queue``: the same workers run
what either enqueues, and either reads the other's jobs, schedules and records (``queue.job(id)``,
``aq.job(id)``). Only the waiting differs: an ``await`` on Redis lets the event loop serve everything
else meanwhile. What reads or writes Redis is a coroutine here, so ``Job``'s properties that read it
(``status``, ``progress``) are ``AsyncJob`` methods, and ``aq.periodic(...)(fn)`` is awaited.
"""

from .job import AsyncJob
from .queue import AsyncQueue, AsyncTaskFunction, AsyncWithOptions

__all__ = ["AsyncJob", "AsyncQueue", "AsyncTaskFunction", "AsyncWithOptions"]

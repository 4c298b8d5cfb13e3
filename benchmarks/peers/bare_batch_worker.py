"""The yardstick of the drain: a worker with no guarantees at all, redis-py only (and dill for the functions).

    python bare_batch_worker.py        # run as many as the drain has processes; SIGTERM stops it

It takes up to ``BATCH`` messages at a time off ``BARE_KEY`` (``LPOP key count``, Redis 6.2+), unpickles each
(``pickle``, the function by value with ``dill``, rebuilt once per distinct function as yotaq's workers do),
calls it, and acknowledges the batch with one ``INCRBY`` of ``BARE_ACKED_KEY`` sent in the same pipeline as the
next ``LPOP``: one round trip per batch. No lease survives the worker (a task taken by a worker that dies is
lost), no heartbeat, no delivery count, no signature, no result stored, no retry. The tasks themselves are the
drain's no-op tasks (``drive_bare.py``): each does ``INCR bench:done`` on its own connection, as every system's do.
When the list is empty it waits with ``BLPOP`` (1 s) instead of polling.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Callable
from typing import Any

import dill
import redis
from _common import BARE_ACKED_KEY, BARE_KEY, redis_url

BATCH = 64
WAIT_S = 1

client = redis.Redis.from_url(redis_url())
functions: dict[bytes, Callable[..., Any]] = {}


def run(message: bytes) -> None:
    function_bytes, args, kwargs = pickle.loads(message)
    function = functions.get(function_bytes)
    if function is None:
        function = functions[function_bytes] = dill.loads(zlib.decompress(function_bytes))
    function(*args, **kwargs)


def main() -> None:
    finished = 0
    while True:
        pipe = client.pipeline(transaction=False)
        if finished:
            pipe.incrby(BARE_ACKED_KEY, finished)  # the acknowledgement of the last batch...
        pipe.lpop(BARE_KEY, BATCH)  # ...and the lease of the next, in one round trip
        batch = pipe.execute()[-1]
        if not batch:
            popped = client.blpop([BARE_KEY], timeout=WAIT_S)
            batch = [popped[1]] if popped else []
        for message in batch:
            run(message)
        finished = len(batch)


if __name__ == "__main__":
    main()

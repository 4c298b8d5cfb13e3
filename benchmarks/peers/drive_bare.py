"""The bare batch worker's driver (``bare_batch_worker.py``): it only fills its list, for the drain.

Its messages carry what a yotaq message carries for the same call, without the envelope: the function by
value (dill with ``recurse=True``, compressed, as ``yotaq.functions.dumps_function`` does) and the
arguments, pickled together. The task is the same no-op as ``drive_yotaq.py``'s: defined here, in
``__main__``, so that it travels by value; its Redis client is made on the worker on first use and kept
in the rebuilt function's globals.
"""

from __future__ import annotations

import pickle
import zlib

import dill
import redis
from _common import BARE_KEY, main, redis_url

FILL_CHUNK = 1000

_client = None


def _redis():
    global _client
    if _client is None:
        import os

        import redis

        _client = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
    return _client


def noop() -> int:
    return _redis().incr("bench:done")


def fill(n: int) -> dict:
    message = pickle.dumps((zlib.compress(dill.dumps(noop, recurse=True)), (), {}), protocol=pickle.HIGHEST_PROTOCOL)
    client = redis.Redis.from_url(redis_url())
    for start in range(0, n, FILL_CHUNK):
        client.rpush(BARE_KEY, *([message] * min(FILL_CHUNK, n - start)))
    client.close()
    return {"n": n, "bytes": len(message)}


main(
    {
        "version": lambda n: {"version": f"redis-py {redis.__version__}"},
        "fill": fill,
    }
)

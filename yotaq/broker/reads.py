"""The broker's read-only commands for looking at queues from outside (the dashboard, the metrics
exporter, the command line): the queues there are, whether one is, the time series, what workers hold,
the counters, the newest records and what is kept of one job. Mixed into ``Broker``. Replies come back
raw; ``yotaq.monitor`` reads them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..exceptions import ConfigurationError
from .connection import Client, translated
from .keys import KINDS, FleetKeys, QueueKeys
from .scripts import keys_for

if TYPE_CHECKING:
    from ..info import FailedOrDead
    from .scripts import Scripts

T = TypeVar("T")

SCAN_COUNT = 1_000  # keys per SCAN step when looking for queues

# The keys that show a queue exists: one with workers, pending jobs, counters or records.
_DISCOVERY: tuple[Callable[[QueueKeys], str], ...] = (
    lambda keys: keys.workers,
    lambda keys: keys.pending,
    lambda keys: keys.stats,
    lambda keys: keys.jobs_of("failed"),
    lambda keys: keys.jobs_of("dead"),
)


class Reads:
    """Read-only looks at queues, for ``Broker``. Nothing here writes."""

    client: Client

    if TYPE_CHECKING:
        _scripts: Scripts

        def _call(self, command: Callable[[Client], T], *, own: bool = False, write: bool = False) -> T: ...

    def queue_names(self) -> list[str]:
        """The names of the queues in Redis, found with ``SCAN`` (on every node of a cluster): those with
        workers, pending jobs, counters or failed/dead records. A sharded queue is named once."""
        probe = QueueKeys("*")
        names: set[str] = set()
        with translated():
            for pattern in (key_of(probe) for key_of in _DISCOVERY):
                head, tail = pattern.split("*")
                for key in self.client.scan_iter(match=pattern, count=SCAN_COUNT):
                    text = key.decode(errors="replace") if isinstance(key, bytes) else str(key)
                    name = text[len(head) : len(text) - len(tail)]
                    base, mark, shard = name.rpartition("#")
                    if mark and shard.isdigit():
                        name = base
                    with contextlib.suppress(ConfigurationError):  # not one of ours: a worker name, say
                        names.add(QueueKeys(name).queue)
        return sorted(names)

    def holds_anything(self, shards: Sequence[QueueKeys]) -> bool:
        """Whether Redis holds anything of the queue of these shards (``QueueKeys.traces``): one ``EXISTS``
        a shard, pipelined, however many jobs it has."""
        return any(self._pipelined(shards, lambda pipe, keys: pipe.exists(*keys.traces)))

    def series_values(self, shards: Sequence[QueueKeys]) -> list[bytes]:
        """Every field's value of each shard's time series (``QueueKeys.series``, written by the
        acknowledgement script as ``b"<second> <done> <sum of ms>"``)."""
        per_shard = self._pipelined(shards, lambda pipe, keys: pipe.hvals(keys.series))
        return [value for values in per_shard for value in values]

    def active_heads(self, shards: Sequence[QueueKeys], workers: Sequence[str]) -> list[bytes | None]:
        """The head of each worker's active list on each shard, worker by worker, shard by shard."""

        def read(client: Client) -> list[Any]:
            with client.pipeline(transaction=False) as pipe:
                for worker in workers:
                    for keys in shards:
                        pipe.lindex(keys.active(worker), 0)
                return cast(list[Any], pipe.execute())

        return self._call(read) if workers else []

    def stats_hashes(self, shards: Sequence[QueueKeys]) -> list[dict[bytes, bytes]]:
        """Each shard's counters hash (``QueueKeys.stats``)."""
        return self._pipelined(shards, lambda pipe, keys: pipe.hgetall(keys.stats))

    def newest_of(
        self, keys: QueueKeys, kind: FailedOrDead, count: int, now_ms: int
    ) -> list[tuple[bytes, float, bytes | None]]:
        """At most ``count`` records of ``kind`` not expired at ``now_ms``, kept longest first, as
        (job id, kept until ms, reason) in two round trips, however many are kept."""
        ranked = cast(
            list[tuple[bytes, float]],
            self._call(
                lambda c: c.zrevrangebyscore(
                    keys.jobs_of(kind), "+inf", f"({now_ms}", start=0, num=count, withscores=True
                )
            ),
        )
        if not ranked:
            return []
        ids = [job_id for job_id, _ in ranked]
        reasons = cast(list[bytes | None], self._call(lambda c: c.hmget(keys.reasons_of(kind), ids)))
        return [(job_id, expires, reason) for (job_id, expires), reason in zip(ranked, reasons, strict=True)]

    def kept(self, keys: QueueKeys, job_id: str) -> list[bytes | None]:
        """In one round trip: the job's scheduled message and run time, then for each of ``KINDS`` its
        message, kept-until time and reason there (None where absent)."""

        def read(client: Client) -> list[Any]:
            with client.pipeline(transaction=False) as pipe:
                pipe.hget(keys.scheduled_messages, job_id)
                pipe.zscore(keys.scheduled, job_id)
                for kind in KINDS:
                    pipe.hget(keys.messages_of(kind), job_id)
                    pipe.zscore(keys.jobs_of(kind), job_id)
                    pipe.hget(keys.reasons_of(kind), job_id)
                return cast(list[Any], pipe.execute())

        return self._call(read)

    # -- listings of jobs by state (the dashboard's /jobs) ------------------------------------------

    def scored_page(
        self, zset: str, hashes: Sequence[str], low: str, start: int, count: int
    ) -> tuple[int, list[tuple[bytes, float, list[bytes | None]]]]:
        """A page of a sorted set of job ids (one of one queue shard's), highest score first, from ``low``
        up (as ``ZRANGEBYSCORE`` takes it), each with its value in each of ``hashes``: how many there are,
        and the page (``page-1+n.lua``, one call)."""
        total, flat = self._call(
            lambda c: self._scripts.page([*keys_for("page", zset=zset), *hashes], [low, start, count], client=c)
        )
        width = 2 + len(hashes)
        rows = [flat[n : n + width] for n in range(0, len(flat), width)]
        return int(total), [(row[0], float(row[1]), list(row[2:])) for row in rows]

    def list_page(self, key: str, start: int, count: int) -> tuple[int, list[bytes]]:
        """The list's length, and ``count`` of its items from ``start`` counted from its tail, tail first
        (the newest first, for lists pushed at their tail): one ``MULTI``."""

        def read(client: Client) -> list[Any]:
            with client.pipeline(transaction=True) as pipe:
                pipe.llen(key)
                pipe.lrange(key, -(start + count), -(start + 1))
                return cast(list[Any], pipe.execute())

        length, items = self._call(read) if count > 0 else (self._call(lambda c: c.llen(key)), [])
        return int(length), list(reversed(items))

    def lengths(self, keys: Sequence[str]) -> list[int]:
        """The length of each list, pipelined."""

        def read(client: Client) -> list[Any]:
            with client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.llen(key)
                return cast(list[Any], pipe.execute())

        return [int(length) for length in self._call(read)] if keys else []

    def find_message(self, key: str, job_id: str, limit: int) -> bytes | None:
        """A job's message in a list, among its newest ``limit`` (``find-1.lua``), or None."""
        return cast(
            bytes | None,
            self._call(lambda c: self._scripts.find(keys_for("find", list=key), [job_id, limit], client=c)),
        )

    def hash_values(self, key: str, fields: Sequence[str | bytes]) -> list[bytes | None]:
        """The values of ``fields`` in a hash (None where absent): one ``HMGET``."""
        return cast(list[bytes | None], self._call(lambda c: c.hmget(key, list(fields)))) if fields else []

    def registered_workers(self, keys: QueueKeys) -> list[str]:
        """The workers registered on the queue (shard), alive or not yet reaped, by name."""
        members = cast(list[bytes], self._call(lambda c: c.zrange(keys.workers, 0, -1)))
        return [member.decode(errors="replace") for member in members]

    def worker_records(self, fleet: FleetKeys, workers: Sequence[str]) -> list[bytes | None]:
        """What each worker last said of itself at a heartbeat (``FleetKeys.worker``), None where nothing."""

        def read(client: Client) -> list[Any]:
            with client.pipeline(transaction=False) as pipe:
                for worker in workers:
                    pipe.get(fleet.worker(worker))
                return cast(list[Any], pipe.execute())

        return self._call(read) if workers else []

    def about_job(self, keys: QueueKeys, job_id: str) -> list[bytes | None]:
        """In one round trip: how many times a worker died holding the job, what the lists of finished jobs
        keep of it, and until when it is listed as done, and as cancelled (ms)."""

        def read(client: Client) -> list[Any]:
            with client.pipeline(transaction=False) as pipe:
                pipe.hget(keys.deliveries, job_id)
                pipe.hget(keys.finished_jobs, job_id)
                pipe.zscore(keys.finished("done"), job_id)
                pipe.zscore(keys.finished("cancelled"), job_id)
                return cast(list[Any], pipe.execute())

        return self._call(read)

    def _pipelined(self, shards: Sequence[QueueKeys], command: Callable[[Any, QueueKeys], Any]) -> list[Any]:
        def read(client: Client) -> list[Any]:
            with client.pipeline(transaction=False) as pipe:
                for keys in shards:
                    command(pipe, keys)
                return cast(list[Any], pipe.execute())

        return self._call(read)

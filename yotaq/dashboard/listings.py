"""The dashboard's listings, as plain data read through the broker: a queue's jobs in one state, a page at a
time, newest first (failures filtered by exception type), the workers, and what is known of one job
beyond its state. Blocking calls (the routes run them in a thread); every page bounded in size."""

from __future__ import annotations

import collections
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from .. import monitor, outcomes, serializer
from ..broker import Broker, QueueKeys
from ..broker.keys import Finished
from ..exceptions import JobFailed, YotaqError
from ..info import FailedOrDead
from ..queue import Queue
from .views import LISTED_WORKERS, REASON_CHARS, Board, iso, last_line, shortened

STATES = ("pending", "scheduled", "active", "done", "failed", "dead", "cancelled")
PAGE_SIZE = 100  # jobs a page
MAX_PAGE = 10_000  # the furthest page asked for (a page number is a query string's)
FILTER_SCAN = 2_000  # failed records looked at, newest first, per shard, for a filter by exception type
FIND_LIMIT = 10_000  # messages looked at, newest first, for a pending job's page
NAME_CHARS = 200  # of a function's or exception's name in a list
ACTIVE_SHOWN = 10  # a worker's current jobs shown
NAMES_KEPT = 4_096  # function names and exception types kept read, by a digest of what they were read from


class BadListing(ValueError):
    """Raised when a listing is asked for a state, page or filter that is not one."""


@dataclass
class Listings:
    """The listings of the queues of ``board``."""

    board: Board
    _names: collections.OrderedDict[bytes, str] = field(default_factory=collections.OrderedDict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @property
    def broker(self) -> Broker:
        return self.board.broker

    # -- jobs by state ---------------------------------------------------------------------------

    def jobs(self, queue: Queue, state: str, page: int, exception: str | None) -> dict[str, Any]:
        """One page of the queue's jobs in ``state``, newest first: ``{"jobs": [...], "total": N, ...}``.
        A sharded queue lists its shards one after the other. ``exception`` (failed jobs only) keeps those
        that raised that type (by name), among the newest ``FILTER_SCAN`` of each shard.

        Raises:
            BadListing: not a state, a page from 1 to ``MAX_PAGE``, or a filter of failed jobs.
        """
        if state not in STATES:
            raise BadListing(f"state must be one of {', '.join(STATES)}")
        if not 1 <= page <= MAX_PAGE:
            raise BadListing(f"page must be a whole number from 1 to {MAX_PAGE:,}")
        if exception is not None and state != "failed":
            raise BadListing("only failed jobs are filtered by exception")
        now_ms = self.broker.clock(self.broker.fleet(queue.shards[0]))
        start = (page - 1) * PAGE_SIZE
        scanned_all = True
        if exception is not None:
            jobs, total, scanned_all = self._filtered(queue, exception, start, now_ms)
        elif state in ("pending", "active"):
            jobs, total = self._listed(queue, state, start)
        else:
            jobs, total = self._scored(queue, state, start, now_ms)
        return {
            "queue": queue.name,
            "state": state,
            "exception": exception,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "page_size": PAGE_SIZE,
            "total": total,
            "complete": scanned_all,
            "jobs": jobs,
        }

    def _listed(self, queue: Queue, state: str, start: int) -> tuple[list[dict[str, Any]], int]:
        """Pending jobs (the pending lists, newest at the tail) or active ones (the workers' active lists)."""
        lists: list[tuple[QueueKeys, str, str | None]] = [(keys, keys.pending, None) for keys in queue.shards]
        if state == "active":
            lists = [
                (keys, keys.active(worker), worker)
                for keys in queue.shards
                for worker in self.broker.registered_workers(keys)
            ]
        jobs: list[dict[str, Any]] = []
        total = 0
        lengths = self.broker.lengths([key for _, key, _ in lists])
        for (keys, key, worker), length in zip(lists, lengths, strict=True):
            skip, wanted = max(0, start - total), PAGE_SIZE - len(jobs)
            total += length
            if wanted > 0 and skip < length:
                _, messages = self.broker.list_page(key, skip, wanted)
                jobs += [self._message_row(keys, message, state, worker=worker) for message in messages]
        return jobs, total

    def _scored(self, queue: Queue, state: str, start: int, now_ms: int) -> tuple[list[dict[str, Any]], int]:
        """Jobs kept in a sorted set: scheduled (by run time), failed and dead (by when their record
        expires), done and cancelled (by when their result expires), highest first."""
        jobs: list[dict[str, Any]] = []
        total = 0
        for keys in queue.shards:
            zset, hashes, low = self._sorted_set(keys, state, now_ms)
            skip, wanted = max(0, start - total), PAGE_SIZE - len(jobs)
            count, rows = self.broker.scored_page(zset, hashes, low, skip, max(wanted, 0))
            total += count
            for job_id, score, values in rows if wanted > 0 else []:
                jobs.append(self._scored_row(keys, state, job_id.decode(errors="replace"), score, values))
        return jobs, total

    @staticmethod
    def _sorted_set(keys: QueueKeys, state: str, now_ms: int) -> tuple[str, list[str], str]:
        if state == "scheduled":
            return keys.scheduled, [keys.scheduled_messages], "-inf"
        if state in ("failed", "dead"):
            kind = cast(FailedOrDead, state)
            return keys.jobs_of(kind), [keys.messages_of(kind), keys.reasons_of(kind)], f"({now_ms}"
        return keys.finished(cast(Finished, state)), [keys.finished_jobs], f"({now_ms}"

    def _scored_row(
        self, keys: QueueKeys, state: str, job_id: str, score: float, values: list[bytes | None]
    ) -> dict[str, Any]:
        if state == "scheduled":
            return self._message_row(keys, values[0], state) | {"id": job_id, "run_at": iso(score)}
        if state in ("failed", "dead"):
            row = self._message_row(keys, values[0], state) | {"id": job_id, "kept_until": iso(score)}
            at_ms, _, envelope = (values[1] or b"").partition(b" ")
            kind, reason = self._failure(keys, job_id, envelope)
            return row | {"at": iso(int(at_ms)) if at_ms.isdigit() else None, "exception": kind, "reason": reason}
        shown = finished_record(values[0])
        return {"id": job_id, "state": state, "enqueued_at": None, "kept_until": iso(score), **shown}

    def _filtered(
        self, queue: Queue, exception: str, start: int, now_ms: int
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """Failed jobs that raised ``exception``, among the newest ``FILTER_SCAN`` of each shard: the page,
        how many match, and whether every record was looked at."""
        matching = self.matching(queue, exception, now_ms)
        page = matching[0][start : start + PAGE_SIZE]
        jobs = []
        for keys, job_id in page:
            (message,) = self.broker.hash_values(keys.messages_of("failed"), [job_id])
            (record,) = self.broker.hash_values(keys.reasons_of("failed"), [job_id])
            row = self._message_row(keys, message, "failed") | {"id": job_id}
            at_ms, _, envelope = (record or b"").partition(b" ")
            kind, reason = self._failure(keys, job_id, envelope)
            jobs.append(row | {"at": iso(int(at_ms)) if at_ms.isdigit() else None, "exception": kind, "reason": reason})
        return jobs, len(matching[0]), matching[1]

    def matching(self, queue: Queue, exception: str, now_ms: int) -> tuple[list[tuple[QueueKeys, str]], bool]:
        """The failed jobs (shard, id) that raised ``exception``, newest first, among the newest
        ``FILTER_SCAN`` of each shard, and whether those were all."""
        found: list[tuple[QueueKeys, str]] = []
        complete = True
        for keys in queue.shards:
            total, rows = self.broker.scored_page(
                keys.jobs_of("failed"), [keys.reasons_of("failed")], f"({now_ms}", 0, FILTER_SCAN
            )
            complete = complete and total <= FILTER_SCAN
            for job_id, _, (record,) in rows:
                envelope = (record or b"").partition(b" ")[2]
                if self._failure(keys, job_id.decode(errors="replace"), envelope)[0] == exception:
                    found.append((keys, job_id.decode(errors="replace")))
        return found, complete

    def _message_row(
        self, keys: QueueKeys, message: bytes | None, state: str, *, worker: str | None = None
    ) -> dict[str, Any]:
        """What a list shows of a job from its message: id, function, when it was enqueued (or due)."""
        if message is None:
            return {"id": None, "state": state, "function": None, "enqueued_at": None, "attempt": None}
        header = message.split(b" ", 5)
        due_at = None
        if len(header) == 6 and header[4].isdigit():
            due_at = iso((int(header[4]) - serializer.MESSAGE_VALIDITY_S) * 1000)
        attempt = int(header[3]) + 1 if len(header) == 6 and header[3].isdigit() else None
        row = {
            "id": serializer.message_id(message),
            "state": state,
            "function": self._function(keys, message),
            "enqueued_at": due_at,
            "attempt": attempt,
        }
        return row | ({"worker": worker} if worker is not None else {})

    def _function(self, keys: QueueKeys, message: bytes) -> str:
        """The name of a message's function (its signature checked first with a secret), read once."""
        digest = hashlib.blake2b(message, digest_size=16).digest()
        with self._lock:
            if (name := self._names.get(digest)) is not None:
                return name
        call = monitor.describe_call(message, self.board.secret, keys.queue)
        name = shortened(call.function or f"(cannot be read: {call.error})", NAME_CHARS)
        self._keep(digest, name)
        return name

    def _failure(self, keys: QueueKeys, job_id: str, envelope: bytes) -> tuple[str | None, str]:
        """The exception type (``Dead`` for a dead job) and the last line of a failure record, read once."""
        digest = b"f" + hashlib.blake2b(job_id.encode() + b" " + envelope, digest_size=16).digest()
        with self._lock:
            if (kept := self._names.get(digest)) is not None:
                name, _, text = kept.partition("\n")
                return name or None, text
        kind: str | None
        try:
            outcomes.decode_result(job_id, envelope, self.board.secret, keys.queue)
            kind, reason = None, ""
        except JobFailed as failed:
            kind = shortened(failed.type, NAME_CHARS)
            reason = shortened(last_line(failed.traceback or f"{failed.type}: {failed.message}"), REASON_CHARS)
        except YotaqError as exc:
            kind, reason = None, shortened(f"(its record cannot be read: {exc})", REASON_CHARS)
        self._keep(digest, f"{kind or ''}\n{reason}")
        return kind, reason

    def _keep(self, digest: bytes, value: str) -> None:
        with self._lock:
            self._names[digest] = value
            while len(self._names) > NAMES_KEPT:
                self._names.popitem(last=False)

    # -- one job ---------------------------------------------------------------------------------

    def about(self, queue: Queue, job_id: str, view: dict[str, Any]) -> dict[str, Any]:
        """What the job page shows beyond ``Board.job_view``'s: its message where only a bounded search
        finds it (pending, active), the worker, when it started and finished, how long it ran, its
        deliveries; and its function from the list of finished jobs once its message is gone."""
        keys = monitor.keys_of_job(queue.shards, job_id)
        deliveries, finished, _, _ = self.broker.about_job(keys, job_id)
        extra: dict[str, Any] = {"worker": None, "started_at": None, "finished_at": None, "runtime_ms": None}
        extra["function"] = None
        extra["deliveries"] = int(deliveries) + 1 if deliveries and deliveries.isdigit() else None
        status, message = view["status"], None
        if status == "pending":
            message = self.broker.find_message(keys.pending, job_id, FIND_LIMIT)
        elif status == "active":
            for worker in self.broker.registered_workers(keys):
                message = self.broker.find_message(keys.active(worker), job_id, FIND_LIMIT)
                if message is not None:
                    extra["worker"] = worker
                    break
        elif status in ("done", "cancelled") and finished is not None:
            shown = finished_record(finished)
            extra |= {name: shown[name] for name in ("worker", "started_at", "finished_at", "runtime_ms")}
            extra["function"] = shown["function"]
        if view["record"] is not None:
            extra["finished_at"], extra["worker"] = view["record"]["at"], view["record"]["by"]
        if view["call"] is None and message is not None:
            extra["call"] = monitor.describe_call(message, self.board.secret, queue.name)
            call = extra["call"]
            extra["due_at"] = None if call.due_at_ms is None else iso(call.due_at_ms)
            extra["attempt"] = None if call.attempt is None else call.attempt + 1
            extra["tries"] = call.tries
        return extra

    # -- workers -----------------------------------------------------------------------------------

    def workers(self, queues: Sequence[Queue]) -> list[dict[str, Any]]:
        """Every worker registered on these queues, by name: what it said of itself at its last beat
        (host, pid, queues, since when, tasks done and failed), its last beat and its current jobs."""
        seen: dict[str, dict[str, Any]] = {}
        for queue in queues:
            info = queue.info()
            for worker in sorted(info.workers, key=lambda worker: worker.id)[:LISTED_WORKERS]:
                shown = seen.setdefault(worker.id, {"id": worker.id, "jobs": [], "held": 0, "queues": []})
                shown["last_heartbeat"] = iso(worker.last_heartbeat_ms) if worker.last_heartbeat_ms else None
                shown["heartbeat_age_s"] = round(max(0, info.server_time_ms - worker.last_heartbeat_ms) / 1000, 1)
                shown["late"] = worker.deadline_ms < info.server_time_ms
                shown["held"] += worker.active
                for keys in queue.shards:
                    if len(shown["jobs"]) < ACTIVE_SHOWN:
                        _, messages = self.broker.list_page(keys.active(worker.id), 0, ACTIVE_SHOWN)
                        ids = [serializer.message_id(message) for message in reversed(messages)]
                        shown["jobs"] += [{"queue": queue.name, "id": job_id} for job_id in ids]
                shown["jobs"] = shown["jobs"][:ACTIVE_SHOWN]
                shown["queues"].append(queue.name)
            fleet = self.broker.fleet(queue.shards[0])
            named = [name for name in seen if "host" not in seen[name]]
            for name, record in zip(named, self.broker.worker_records(fleet, named), strict=True):
                seen[name] |= worker_record(record)
        return sorted(seen.values(), key=lambda worker: worker["id"])


def worker_record(record: bytes | None) -> dict[str, Any]:
    """What a worker said of itself at its last beat (``FleetKeys.worker``), or blanks."""
    blank: dict[str, Any] = {"host": None, "pid": None, "started": None, "done": None, "failed": None}
    try:
        said = json.loads(record) if record is not None else {}
    except ValueError:
        said = {}
    if not isinstance(said, dict):
        return blank
    started = said.get("started_ms")
    return blank | {
        "host": shortened(str(said["host"]), NAME_CHARS) if "host" in said else None,
        "pid": said.get("pid") if isinstance(said.get("pid"), int) else None,
        "started": iso(started) if isinstance(started, int) else None,
        **{name: said[name] for name in ("done", "failed", "retried", "cancelled") if isinstance(said.get(name), int)},
    }


def finished_record(value: bytes | None) -> dict[str, Any]:
    """What the lists of finished jobs keep of one (``QueueKeys.finished_jobs``):
    ``<state> <finished ms> <worker> <ran ms> <function>``, with ``-`` for what is unknown."""
    parts = (value or b"").decode(errors="replace").split(" ", 4)
    if len(parts) != 5 or not parts[1].isdigit():
        return {"function": None, "finished_at": None, "started_at": None, "worker": None, "runtime_ms": None}
    _, finished_ms, worker, ran_ms, function = parts
    ran = int(ran_ms) if ran_ms.isdigit() else None
    return {
        "function": None if function == "-" else shortened(function, NAME_CHARS),
        "finished_at": iso(int(finished_ms)),
        "started_at": None if ran is None else iso(int(finished_ms) - ran),
        "worker": None if worker == "-" else worker,
        "runtime_ms": ran,
    }

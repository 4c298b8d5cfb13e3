"""What the dashboard's pages show, as plain data read from Redis: a queue's counts, workers, records
and time series, and one job. Blocking calls (the routes run them in a thread)."""

from __future__ import annotations

import collections
import datetime
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from .. import monitor, outcomes
from ..broker import Broker
from ..broker.connection import Client, translated
from ..exceptions import InvalidMessage, JobCancelled, JobFailed, ResultTimeout, YotaqError
from ..info import FailedOrDead, QueueInfo
from ..job import Status
from ..queue import Queue
from ..workflows import links_of

DISCOVERY_TTL_S = 5.0  # how long a SCAN for queues is reused
SERIES_TTL_S = 4.0  # how long a read of a queue's series (up to 3600 fields) is reused, by every page open
LISTED_RECORDS = 25  # failed or dead jobs listed per queue, newest first
LISTED_WORKERS = 100  # workers listed per queue (all are counted)
REASON_CHARS = 500  # of a record's reason in a list, polled every second: its page has more
OUTCOME_CHARS = 64 * 1024  # of a result's repr or a traceback on a job's page
REASONS_KEPT = 1024  # records' reasons kept read, by record: a record never changes
COUNTS = ("pending", "scheduled", "active", "done", "failed", "dead", "cancelled")
EMPTY_COUNTS = ("pending", "scheduled", "active", "failed", "dead")  # none of these, no worker: shown folded
RATE_WINDOW_S = 60  # the rate in the summary: tasks done per second over the last minute
FINISHED = {Status.DONE, Status.FAILED, Status.DEAD, Status.CANCELLED}
CANCELLABLE = {Status.PENDING, Status.SCHEDULED, Status.ACTIVE}


def iso(ms: float | None) -> str | None:
    """A time in ms since the epoch as ISO 8601 UTC, to the second (``2025-01-31T12:00:00Z``): every time
    the dashboard shows is this, with the browser's local time as its tooltip (``<time>``, dashboard.js)."""
    if ms is None:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def shortened(text: str, chars: int) -> str:
    """``text`` cut to ``chars`` characters, saying how long it was, so that no page grows with it."""
    return text if len(text) <= chars else f"{text[:chars]}… ({len(text):,} characters)"


@dataclass
class Board:
    """The queues the dashboard shows (``fixed``, or found in Redis), read through one client."""

    client: Client
    secret: bytes | None
    fixed: list[str] | None = None
    broker: Broker = field(init=False)
    _queues: dict[str, Queue] = field(default_factory=dict, init=False)
    _found: tuple[float, list[str]] = field(default=(0.0, []), init=False)
    _series: dict[str, tuple[float, list[bytes], int]] = field(default_factory=dict, init=False)
    _reasons: collections.OrderedDict[tuple[str, bytes], str] = field(
        default_factory=collections.OrderedDict, init=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.broker = Broker(self.client)

    def names(self, *, fresh: bool = False) -> list[str]:
        """The queues to show: those given, else those in Redis (a SCAN at most every few seconds)."""
        if self.fixed is not None:
            return self.fixed
        with self._lock:
            at, found = self._found
            if fresh or time.monotonic() - at > DISCOVERY_TTL_S:
                found = self.broker.queue_names()
                self._found = (time.monotonic(), found)
            return found

    def queue(self, name: str) -> Queue | None:
        """The queue ``name`` if the dashboard shows it (looked for again once when not known yet)."""
        if name not in self.names() and name not in self.names(fresh=True):
            return None
        with self._lock:
            queue = self._queues.get(name)
        if queue is None:
            shards = len(monitor.shards_of(self.broker, name))
            queue = Queue(self.client, name, secret=self.secret, shards=shards)
            with self._lock:
                self._queues[name] = queue
        return queue

    # -- a queue -------------------------------------------------------------------------------

    def overview(self) -> list[dict[str, Any]]:
        return [view for view in (self.queue_view(name) for name in self.names()) if view is not None]

    def queue_view(self, name: str) -> dict[str, Any] | None:
        queue = self.queue(name)
        if queue is None:
            return None
        info = queue.info()
        workers = sorted(info.workers, key=lambda worker: worker.id)[:LISTED_WORKERS]
        running = monitor.running(self.broker, queue.shards, [worker.id for worker in workers])
        values, now_s = self._series_values(queue, info.server_time_ms)
        last_hour = monitor.seconds_of(values, now_s * 1000)
        done = sum(second.done for second in last_hour)
        last_minute = sum(second.done for second in last_hour if second.at_s > now_s - RATE_WINDOW_S)
        listed = counts(info)
        return {
            "name": name,
            "time_ms": info.server_time_ms,
            "counts": listed,
            "rate": round(last_minute / RATE_WINDOW_S, 2),
            "empty": not info.workers and not done and not any(listed[name] for name in EMPTY_COUNTS),
            "workers": [
                {
                    "id": worker.id,
                    "heartbeat_age_s": round(max(0, info.server_time_ms - worker.last_heartbeat_ms) / 1000, 1),
                    "late": worker.deadline_ms < info.server_time_ms,
                    "active": worker.active,
                    "running": running.get(worker.id),
                }
                for worker in workers
            ],
            "worker_count": len(info.workers),
            "failed": self.records(queue, "failed", info.server_time_ms) if info.failed else [],
            "dead": self.records(queue, "dead", info.server_time_ms) if info.dead else [],
            "last_hour": {
                "done": done,
                "mean_ms": round(sum(second.duration_ms for second in last_hour) / done, 1) if done else None,
            },
        }

    def records(self, queue: Queue, kind: FailedOrDead, now_ms: int) -> list[dict[str, Any]]:
        """The newest failed or dead records, each with the last line of its traceback or reason."""
        records = [
            record
            for keys in queue.shards
            for record in monitor.newest_records(self.broker, keys, kind, LISTED_RECORDS, now_ms)
        ]
        return [
            {"id": record.job_id, "reason": self._reason(record.job_id, record.envelope, queue.name),
             "at": iso(record.at_ms), "at_ms": record.at_ms}
            for record in sorted(records, key=lambda record: record.at_ms, reverse=True)[:LISTED_RECORDS]
        ]  # fmt: skip

    def _reason(self, job_id: str, envelope: bytes, queue: str) -> str:
        """The last line of a record's traceback or reason, shortened: unpickled once per record, not
        once a second, and kept by a digest of the record, not the record (which may be megabytes)."""
        key = (job_id, hashlib.blake2b(envelope, digest_size=16).digest())
        with self._lock:
            if (kept := self._reasons.get(key)) is not None:
                self._reasons.move_to_end(key)
                return kept
        try:
            reason = shortened(last_line(outcomes.failure_text(job_id, envelope, self.secret, queue)), REASON_CHARS)
        except YotaqError as exc:
            reason = shortened(f"(its record cannot be read: {exc})", REASON_CHARS)
        with self._lock:
            self._reasons[key] = reason
            while len(self._reasons) > REASONS_KEPT:
                self._reasons.popitem(last=False)
        return reason

    def series(self, name: str, by_minute: bool = False) -> tuple[list[monitor.Second], int] | None:
        """The queue's time series, by second over the last hour or by minute over the last day, and
        Redis's time then (s)."""
        queue = self.queue(name)
        if queue is None:
            return None
        with translated():
            seconds, micros = self.client.time()
        values, now_s = self._series_values(queue, int(seconds) * 1000 + int(micros) // 1000)
        return (monitor.minutes_of if by_minute else monitor.seconds_of)(values, now_s * 1000), now_s

    def _series_values(self, queue: Queue, now_ms: int) -> tuple[list[bytes], int]:
        """The series read at most every ``SERIES_TTL_S`` whatever the number of pages open: the
        charts and the hour's sums move little in a few seconds, and a read is up to 5,040 fields."""
        with self._lock:
            kept = self._series.get(queue.name)
        if kept is not None and time.monotonic() - kept[0] < SERIES_TTL_S:
            return kept[1], kept[2]
        values = self.broker.series_values(queue.shards)
        with self._lock:
            self._series[queue.name] = (time.monotonic(), values, now_ms // 1000)
        return values, now_ms // 1000

    # -- a job ---------------------------------------------------------------------------------

    def find(self, job_id: str) -> str | None:
        """The first queue shown on which a job of this id is known."""
        for name in self.names():
            queue = self.queue(name)
            if queue is not None and _status(queue, job_id)[0] is not Status.NOT_FOUND:
                return name
        return None

    def job_status(self, name: str, job_id: str) -> str | None:
        queue = self.queue(name)
        return None if queue is None else str(_status(queue, job_id)[0])

    def job_view(self, name: str, job_id: str) -> dict[str, Any] | None:
        queue = self.queue(name)
        if queue is None:
            return None
        status, unreadable = _status(queue, job_id)
        job = queue.job(job_id)
        kept = monitor.kept(self.broker, monitor.keys_of_job(queue.shards, job_id), job_id)
        call = None if kept.message is None else monitor.describe_call(kept.message, self.secret, name)
        outcome = _outcome(queue, job_id, status, kept, self.secret)
        try:
            progress = job.progress
        except (YotaqError, ValueError):
            progress = None
        record = kept.record
        return {
            "queue": name,
            "id": job_id,
            "status": str(status),
            "unreadable": unreadable,
            "where": kept.where,
            "call": call,
            "verified": self.secret is not None,
            "attempt": None if call is None or call.attempt is None else call.attempt + 1,
            "tries": None if call is None else call.tries,
            "due_at": None if call is None else iso(call.due_at_ms),
            "run_at": iso(kept.run_at_ms) if status is Status.SCHEDULED else None,
            "record": None
            if record is None
            else {"kind": record[0], "at": iso(record[1]), "until": iso(record[2]), "by": recorded_by(record[3])},
            "progress": None if progress is None else monitor.safe_repr(json.dumps(progress))[:2000],
            "outcome": None if outcome is None else {**outcome, "text": shortened(outcome["text"], OUTCOME_CHARS)},
            "finished": status in FINISHED,
            "requeue_kind": record[0] if record is not None and status in (Status.FAILED, Status.DEAD) else None,
            "cancellable": status in CANCELLABLE,
            "links": _links(queue, job_id),
        }


def recorded_by(envelope: bytes) -> str | None:
    """The worker a result envelope (``yr1 <kind> <by> ...``) says recorded it (not checked: a name shown)."""
    parts = envelope.split(b" ", 3)
    return parts[2].decode(errors="replace")[:200] if len(parts) == 4 and parts[0] == b"yr1" else None


def _links(queue: Queue, job_id: str) -> dict[str, Any]:
    """Its parents and dependents, each with its page, and how many of its parents are over."""
    links = links_of(queue, job_id)

    def listed(jobs: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [
            {"queue": name, "id": other, "href": "/job?" + urlencode({"queue": name, "id": other})}
            for name, other in jobs
        ]

    return {"parents": listed(links.parents), "dependents": listed(links.dependents), "over": links.parents_over}


def counts(info: QueueInfo) -> dict[str, int]:
    return {name: int(getattr(info, name)) for name in COUNTS}


def _status(queue: Queue, job_id: str) -> tuple[Status, str | None]:
    """The job's status, or (NOT_FOUND, why) when its outcome cannot be read (forged, or another secret)."""
    try:
        return queue.job(job_id).status, None
    except InvalidMessage as exc:
        return Status.NOT_FOUND, str(exc)


def _outcome(
    queue: Queue, job_id: str, status: Status, kept: monitor.Kept, secret: bytes | None
) -> dict[str, str] | None:
    """The result's repr, or the failure's traceback or reason, as text."""
    if status not in FINISHED:
        return None
    try:
        if kept.record is not None:  # kept longer than the result: read it first
            outcomes.decode_result(job_id, kept.record[3], secret, queue.name)
        return {"kind": "result", "text": monitor.safe_repr(queue.job(job_id).result(timeout=0))}
    except JobFailed as failed:
        text = failed.traceback.rstrip() or f"{failed.type}: {failed.message}"
        return {"kind": "traceback" if failed.traceback else "reason", "text": text}
    except JobCancelled as cancelled:
        return {"kind": "reason", "text": str(cancelled)}
    except ResultTimeout:
        return {"kind": "reason", "text": "its result has expired"}
    except YotaqError as exc:
        return {"kind": "reason", "text": f"its outcome cannot be read: {exc}"}

"""What a job's run came to, as it is stored: result envelopes (done, failed, dead, cancelled) and the
records of periodic schedules, each signed so that no one without the secret can forge one.

A result envelope is ``b"yr1 <done|failed|dead|cancelled> <by> <signature> <body>"``, ``by`` naming
the worker that recorded it, signed over the job id, the queue, the header and the body. It is
unpickled only once its signature holds (when there is a secret).
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import pickle
import traceback
from types import TracebackType
from typing import Any

from .exceptions import (
    Interrupted,
    InvalidMessage,
    JobCancelled,
    JobFailed,
    SerializationError,
    describe,
    message_of,
)
from .functions import dumps_value
from .serializer import MAX_DIGITS, UNSIGNED, sign

logger = logging.getLogger(__name__)

RESULT_MAGIC = b"yr1"
RESULT_KINDS = (b"done", b"failed", b"dead", b"cancelled")
MAX_RESULT_BYTES = 32 * 1024 * 1024  # a result bigger than this is recorded as a failure instead
# Each text of a failure too large to store is cut to this many characters: three such (type, message,
# traceback), even of 4-byte characters, stay under 1 MiB, the smallest argument Redis can be set to take.
MAX_FAILURE_TEXT = 50_000
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def failure(exc: BaseException) -> tuple[str, str, str, str]:
    """The outcome of a task that raised ``exc``: ``("failed", type name, message, traceback)``, made
    safely whatever the exception does when it is turned into text."""
    frames = _from_the_task(exc.__traceback__)
    try:
        trace = "".join(traceback.format_exception(type(exc), exc, frames))
    except Interrupted:
        raise
    except BaseException:
        trace = "".join(traceback.format_tb(frames)) + describe(exc) + "\n"
    return ("failed", type(exc).__name__, message_of(exc), trace)


def _from_the_task(frames: TracebackType | None) -> TracebackType | None:
    """The traceback from the task's own first frame: the worker's frames that called it tell its
    reader nothing. A failure raised in yotaq alone keeps its last frame."""
    while frames is not None and frames.tb_next is not None and frames.tb_frame.f_code.co_filename.startswith(_PACKAGE):
        frames = frames.tb_next
    return frames


def encode_result(
    job_id: str, outcome: tuple[Any, ...], secret: bytes | None, queue: str, by: str, max_bytes: int | None = None
) -> tuple[str, bytes]:
    """The kind and envelope ``yr1 <kind> <by> <signature> <body>`` of ``("done", value)``,
    ``("failed", type name, message, traceback)`` or ``("dead", reason)``, recorded by ``by`` (a
    worker's name). A value that cannot travel, or is too large (over ``MAX_RESULT_BYTES``, or an
    envelope over ``max_bytes``, the largest argument Redis takes), becomes a failure that says so;
    the texts of a failure that is too large are cut short."""
    overhead = len(RESULT_MAGIC) + len(by) + len(b"cancelled") + (64 if secret else 1) + 4  # the head, signed
    limit = MAX_RESULT_BYTES if max_bytes is None else min(MAX_RESULT_BYTES, max_bytes - overhead)
    try:
        body = dumps_value(outcome, "return value")
        if len(body) > limit and outcome[0] != "done":
            outcome = (outcome[0], *(_cut(text) for text in outcome[1:]))
            body = dumps_value(outcome)
        if max_bytes is not None and len(body) > max_bytes - overhead:
            raise SerializationError(
                f"result of {_megabytes(len(body))} exceeds the server's limit "
                f"(proto-max-bulk-len {_megabytes(max_bytes)})"
            )
        if len(body) > MAX_RESULT_BYTES:
            raise SerializationError(f"the result is {len(body):,} bytes, over the limit of {MAX_RESULT_BYTES:,}")
    except Interrupted:  # the worker stopping while it pickles: the task is given back, its outcome unchanged
        raise
    except BaseException as exc:  # a __reduce__ may raise anything, SystemExit included
        reason = message_of(exc) if isinstance(exc, SerializationError) else describe(exc)
        outcome = ("failed", "SerializationError", _cut(reason), "")
        body = dumps_value(outcome)
    head = b"%s %s %s " % (RESULT_MAGIC, outcome[0].encode(), by.encode())
    signature = sign(secret, job_id.encode(), b" ", queue.encode(), b" ", head, body) if secret else UNSIGNED
    return outcome[0], head + signature + b" " + body


def _cut(text: Any) -> Any:
    """A failure's text, cut short to fit wherever a result must (``MAX_FAILURE_TEXT``)."""
    if not isinstance(text, str) or len(text) <= MAX_FAILURE_TEXT:
        return text
    return f"{text[:MAX_FAILURE_TEXT]}... ({len(text) - MAX_FAILURE_TEXT:,} more characters cut)"


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f} MB"  # as Redis counts them: its "1mb" is 1,048,576 bytes


def _open_result(job_id: str, envelope: bytes, secret: bytes | None, queue: str) -> tuple[str, bytes]:
    """The kind and body of an envelope whose signature holds (when there is a secret)."""
    parts = envelope.split(b" ", 4)
    if len(parts) != 5 or parts[0] != RESULT_MAGIC or parts[1] not in RESULT_KINDS:
        raise InvalidMessage(f"job {job_id}: not a yotaq result")
    _, kind, by, signature, body = parts
    if secret and signature == UNSIGNED:
        raise InvalidMessage(f"job {job_id}: its result is unsigned: the worker that recorded it has no secret")
    if secret:
        head = b"%s %s %s " % (RESULT_MAGIC, kind, by)
        if not hmac.compare_digest(signature, sign(secret, job_id.encode(), b" ", queue.encode(), b" ", head, body)):
            raise InvalidMessage(f"job {job_id}: its result has a bad signature (forged, or another job's)")
    return kind.decode(), body


def result_kind(job_id: str, envelope: bytes, secret: bytes | None, queue: str) -> str:
    """ "done", "failed" or "dead", from an envelope whose signature holds."""
    return _open_result(job_id, envelope, secret, queue)[0]


def decode_result(job_id: str, envelope: bytes, secret: bytes | None, queue: str) -> Any:
    """Return the value in ``envelope``, or raise ``JobFailed`` for a job that failed or was set aside.

    Raises:
        InvalidMessage: the envelope is malformed or its signature does not hold.
    """
    _, body = _open_result(job_id, envelope, secret, queue)
    if not secret:
        warn_unsigned()
    try:
        outcome = pickle.loads(body)
    except Interrupted:
        raise
    except BaseException as exc:
        raise InvalidMessage(f"job {job_id}: cannot read its result: {describe(exc)}") from None
    if outcome[0] == "done":
        return outcome[1]
    if outcome[0] == "dead":
        raise JobFailed(job_id, "Dead", outcome[1], "")
    if outcome[0] == "cancelled":
        raise JobCancelled(job_id, outcome[1])
    raise JobFailed(job_id, *outcome[1:])


def failure_text(job_id: str, envelope: bytes, secret: bytes | None, queue: str) -> str:
    """Why a failed or dead job was set aside: its traceback, or its reason."""
    try:
        decode_result(job_id, envelope, secret, queue)
    except JobFailed as failed:
        return failed.traceback or failed.message
    return ""


@functools.cache
def warn_unsigned() -> None:
    """Warn once per process that results are unpickled without a signature to check."""
    logger.warning(
        "no secret set: this process unpickles results as they come, so anyone who can write to this "
        "Redis can run code here (set YOTAQ_SECRET or secret=)"
    )


SCHEDULE_MAGIC = b"ys1"


def encode_schedule(name: str, timing: bytes, body: bytes, secret: bytes | None, queue: str) -> bytes:
    """A periodic schedule's record, ``ys1 <timing length> <signature> <timing><body>``, signed over its
    name, queue, timing and body: a worker mints and signs a message from it at every tick, so it
    must come from whoever holds the secret."""
    head = b"%s %d " % (SCHEDULE_MAGIC, len(timing))
    signature = sign(secret, name.encode(), b" ", queue.encode(), b" ", head, timing, body) if secret else UNSIGNED
    return head + signature + b" " + timing + body


def decode_schedule(name: str, record: bytes, secret: bytes | None, queue: str) -> tuple[bytes, bytes]:
    """The timing and body of a schedule's record whose signature holds.

    Raises:
        InvalidMessage: the record is malformed or its signature does not hold.
    """
    parts = record.split(b" ", 3)
    if len(parts) != 4 or parts[0] != SCHEDULE_MAGIC or not parts[1].isdigit() or len(parts[1]) > MAX_DIGITS:
        raise InvalidMessage(f"schedule {name}: not a yotaq schedule")
    _, size, signature, rest = parts
    timing, body = rest[: int(size)], rest[int(size) :]
    if secret:
        head = b"%s %s " % (SCHEDULE_MAGIC, size)
        expected = sign(secret, name.encode(), b" ", queue.encode(), b" ", head, timing, body)
        if not hmac.compare_digest(signature, expected):
            raise InvalidMessage(f"schedule {name}: bad signature")
    return timing, body

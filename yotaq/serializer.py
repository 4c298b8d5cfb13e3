"""Turn a function call into a message, and a result into an envelope, and back.

A message is ``b"yq1 <python> <job id> <attempt> <expires> <limit> <signature> <body>"``: a
readable header, then the body; ``limit`` is the task's concurrency or rate limit for the lease
script to read (``<key>,<concurrency>,<count>/<period ms>``, ``-`` for a part it has not, ``-``
for none). The body holds the function by value (see ``functions``), then the
arguments and options. The function is pickled on its own so that a bulk enqueue pickles it once
and a worker can reuse a function it has already rebuilt from the same bytes. It is also
compressed (zlib): a pickled function is mostly bytecode, padded with zeros since Python 3.11,
and names, so it shrinks by about a third, and every copy of the message (into Redis, its
append-only file, a worker) is that much cheaper.

The header is checked before anything is unpickled: its shape, the Python minor version (bytecode
differs between versions), the time after which the message is refused (``expires``, seconds
since the epoch), and, with a secret, the signature: keyed BLAKE2b over the body, the header and
the name of the queue it was sent to, so that a message copied to another queue is refused too.
Unpickling runs code, so a message that fails a check is never unpickled.

Outcomes (result envelopes) and periodic schedules' records are in ``outcomes``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import pickle
import re
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from .exceptions import ConfigurationError, Interrupted, InvalidMessage, SerializationError, describe
from .functions import FunctionCache, dumps_function, dumps_value

logger = logging.getLogger(__name__)

MAGIC = b"yq1"
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}".encode()
UNSIGNED = b"-"
# Job ids and queue names: printable ASCII without space, '{' or '}' (they are part of keys and of
# a space-separated header), at most MAX_ID_LENGTH characters. One rule, at enqueue and on the worker.
VALID_ID = re.compile(rb"[\x21-\x7a\x7c\x7e]{1,200}")
MAX_ID_LENGTH = 200
MAX_MESSAGE_BYTES = 32 * 1024 * 1024  # a message bigger than this is refused at enqueue
MESSAGE_VALIDITY_S = 30 * 86_400  # a message not run this long after its time is refused, not run
_FIELDS = 8  # magic, python version, job id, attempt, expires, limit, signature, body
NO_LIMIT = "-"
_HEAD_START = b"%s %s " % (MAGIC, PYTHON_VERSION)
_VALID_LIMIT = re.compile(rb"-|[\x21-\x2b\x2d-\x7a\x7c\x7e]{1,200},(?:\d{1,9}|-),(?:\d{1,9}/\d{1,12}|-)")
MAX_DIGITS = 12  # of the attempt and expires fields: far below int()'s limit


class Task(NamedTuple):
    """A function call as it travels between client and worker (a tuple: made once per task)."""

    id: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    options: dict[str, Any] = {}  # noqa: RUF012 - only those that differ from the defaults; never mutated
    attempt: int = 0  # how many times it has failed and been retried
    expires: int = 0  # seconds since the epoch after which a worker refuses it (0: from now)
    limit: str = NO_LIMIT  # its concurrency or rate limit, as the header carries it


def expires_at(run_at_s: float | None = None) -> int:
    """When a message to run at ``run_at_s`` (now by default) stops being valid."""
    return int(max(run_at_s or 0, time.time())) + MESSAGE_VALIDITY_S


def encode(task: Task, secret: bytes | None, queue: str, function: bytes | None = None) -> bytes:
    """Return the message for ``task`` on ``queue``, signed when a secret is given.

    ``function`` is ``dumps_function(task.fn)`` when the caller already has it.

    Raises:
        SerializationError: the function or an argument cannot travel, or the message is too large.
    """
    function = function if function is not None else dumps_function(task.fn)
    call = dumps_value((task.args, task.kwargs, task.options))
    sized_function, signer = _function_start(secret, function)
    expires = task.expires or expires_at()
    return _message(task.id, task.attempt, expires, task.limit, signer, queue, sized_function, call)


def encode_call(
    job_id: str,
    function: bytes,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    options: dict[str, Any],
    secret: bytes | None,
    queue: str,
    *,
    expires: int,
    limit: str = NO_LIMIT,
) -> bytes:
    """``encode`` of a first try, ``function`` being ``dumps_function`` of its function: what an enqueue sends.

    Raises:
        SerializationError: an argument cannot travel, or the message is too large.
    """
    sized_function, signer = _function_start(secret, function)
    return _message(job_id, 0, expires, limit, signer, queue, sized_function, dumps_value((args, kwargs, options)))


def encode_calls(
    function: bytes,
    job_ids: list[str],
    arguments: list[tuple[Any, ...]],
    options: dict[str, Any],
    secret: bytes | None,
    queue: str,
    limit: str = NO_LIMIT,
) -> list[bytes]:
    """The messages for calls of one function, one per job id and its arguments: ``encode``, with what
    they share made once.

    Raises:
        SerializationError: an argument cannot travel, or a message is too large.
    """
    sized_function, signer = _function_start(secret, function)
    expires = expires_at()
    return [
        _message(job_id, 0, expires, limit, signer, queue, sized_function, dumps_value((args, {}, options)))
        for job_id, args in zip(job_ids, arguments, strict=True)
    ]


def task_body(function: bytes, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> bytes:
    """A message's body: the sized function, then the call. What a periodic schedule keeps, to make
    the message of each tick."""
    return b"%d %s%s" % (len(function), function, dumps_value((args, kwargs, options)))


def message_for(job_id: str, body: bytes, secret: bytes | None, queue: str, limit: str = NO_LIMIT) -> bytes:
    """The message of a first try of ``body`` under ``job_id``, signed."""
    return _message(job_id, 0, expires_at(), limit, _signer(secret, body), queue, body)


def with_attempt(task: Task, body: bytes, secret: bytes | None, queue: str, run_at_s: float) -> bytes:
    """The message for ``task``'s next try: its body with a new header (the attempt, and a validity
    from when it runs), signed again; how a retry re-signs a task without re-pickling it."""
    return _message(task.id, task.attempt + 1, expires_at(run_at_s), task.limit, _signer(secret, body), queue, body)


@functools.lru_cache(maxsize=256)
def _function_start(secret: bytes | None, function: bytes) -> tuple[bytes, hashlib.blake2b | None]:
    """The start of the body of every message of a pickled function (``function``: its size, then it),
    and their MAC with that start absorbed (``_signer``): the same for every enqueue of one function.
    Keyed by the pickle's bytes, not the function, so that a function pickled anew to other bytes (its
    closure changed) is another entry; ``_signed`` copies the MAC, which stays as it is here."""
    sized_function = b"%d %s" % (len(function), function)
    return sized_function, _signer(secret, sized_function)


def _signer(secret: bytes | None, body_start: bytes) -> hashlib.blake2b | None:
    """The MAC of messages whose body starts with ``body_start``, with that much already absorbed;
    ``None`` without a secret. The body is signed before the header so that the messages of a bulk
    enqueue, which share most of their bytes (the sized function, first), each hash only their own."""
    if not secret:
        return None
    mac = _keyed(secret).copy()
    mac.update(body_start)
    return mac


def _message(
    job_id: str,
    attempt: int,
    expires: int,
    limit: str,
    signer: hashlib.blake2b | None,
    queue: str,
    body: bytes,
    body_end: bytes = b"",
) -> bytes:
    """The header, its signature, then the body, which may come in two pieces (the sized function and
    the call), joined once. The signature is over the body, the header, then the queue's name: a
    header is self-delimiting (it starts with the magic and has exactly seven spaces), so the parts
    split one way only."""
    head = b"%s%s %d %d %s " % (_HEAD_START, job_id.encode(), attempt, expires, limit.encode())
    signature = UNSIGNED if signer is None else _signed(signer, body_end, head, queue.encode())
    message = b"%s%s %s%s" % (head, signature, body, body_end)
    if len(message) > MAX_MESSAGE_BYTES:
        raise SerializationError(
            f"the task's message would be {len(message):,} bytes, over the limit of {MAX_MESSAGE_BYTES:,}: "
            "pass large data by reference (a path, a key, a URL) rather than by value"
        )
    return message


@functools.lru_cache(maxsize=8)
def _keyed(secret: bytes) -> hashlib.blake2b:
    """Keyed BLAKE2b with the key already absorbed: each signature starts from a copy of it.

    Keyed BLAKE2b is a MAC by design (RFC 7693), and Python's documentation offers it as the
    faster, simpler replacement for HMAC. It is what signs here because a signature is made or
    checked between two network round trips, with the CPU caches cold: there, HMAC-SHA256 through
    OpenSSL took about 10 µs and BLAKE2b about 5 µs. A key longer than BLAKE2b's 64 bytes is
    hashed first, as HMAC does with a key longer than its block.
    """
    key = secret if len(secret) <= hashlib.blake2b.MAX_KEY_SIZE else hashlib.blake2b(secret).digest()
    return hashlib.blake2b(key=key, digest_size=32)


def sign(secret: bytes, *parts: bytes | memoryview) -> bytes:
    """The hex keyed BLAKE2b of the concatenated ``parts`` (hashed in place, not joined first)."""
    return _signed(_keyed(secret), *parts)


def _signed(start: hashlib.blake2b, *parts: bytes | memoryview) -> bytes:
    """The hex digest of ``start`` (left as it is) with ``parts`` absorbed after what it holds."""
    mac = start.copy()
    for part in parts:
        mac.update(part)
    return mac.hexdigest().encode()


def invalid_id(message: bytes) -> str:
    """The id a message that cannot be trusted is recorded under: its own digest, never the id in its
    header, so that it cannot touch another job's records."""
    return "invalid-" + hashlib.sha1(message).hexdigest()


def message_id(message: bytes) -> str:
    """Return the job id in a message's header, or ``invalid_id`` when there is none."""
    parts = message.split(b" ", _FIELDS - 1)
    if len(parts) == _FIELDS and parts[0] == MAGIC and VALID_ID.fullmatch(parts[2]):
        return parts[2].decode()
    return invalid_id(message)


def message_body(message: bytes) -> bytes:
    return message.split(b" ", _FIELDS - 1)[-1]


_NO_CACHE = FunctionCache(0)


def decode(message: bytes, secret: bytes | None, queue: str, functions: FunctionCache | None = None) -> Task:
    """Return the task in ``message``, leased from ``queue``, checking its header before unpickling anything.

    Raises:
        InvalidMessage: with the reason, for anything that cannot or must not run; its ``job_id``
            is the id to record it under (``invalid_id`` unless the message is authentic).
    """
    parts = message.split(b" ", _FIELDS - 1)
    if (
        len(parts) != _FIELDS
        or parts[0] != MAGIC
        or not (parts[3].isdigit() and parts[4].isdigit())
        or max(len(parts[3]), len(parts[4])) > MAX_DIGITS
        or not _VALID_LIMIT.fullmatch(parts[5])
    ):
        raise InvalidMessage("not a yotaq message (bad header)", invalid_id(message))
    _, version, job_id, attempt, expires, limit, signature, body = parts
    if not VALID_ID.fullmatch(job_id):
        raise InvalidMessage("not a yotaq message (bad job id)", invalid_id(message))
    if secret:
        head = memoryview(message)[: len(message) - len(body) - len(signature) - 1]
        if not hmac.compare_digest(signature, sign(secret, body, head, queue.encode())):
            reason = "unsigned message" if signature == UNSIGNED else "signature does not match (or another queue's)"
            raise InvalidMessage(f"bad signature: {reason}", invalid_id(message))
    elif signature != UNSIGNED:
        raise InvalidMessage(
            "signed message, but this worker has no secret to check it with (set YOTAQ_SECRET)", job_id.decode()
        )
    if version != PYTHON_VERSION:
        raise InvalidMessage(
            f"enqueued by Python {version.decode(errors='replace')}, this worker runs "
            f"Python {PYTHON_VERSION.decode()}: bytecode differs between versions",
            job_id.decode(),
        )
    if int(expires) < time.time():
        raise InvalidMessage(f"expired: its validity ended at {int(expires)} s since the epoch", job_id.decode())
    space = body.find(b" ")
    size = body[:space]
    if space < 1 or not size.isdigit() or len(size) > MAX_DIGITS or space + 1 + int(size) > len(body):
        raise InvalidMessage("malformed task: the body does not start with the function's size", job_id.decode())
    calls_at = space + 1 + int(size)
    try:
        fn = (functions or _NO_CACHE).load(body[space + 1 : calls_at])
        call = pickle.loads(memoryview(body)[calls_at:])
    except Interrupted:  # the worker stopping: the task is given back, not set aside
        raise
    except BaseException as exc:  # unpickling runs code: whatever it raises, the worker goes on
        raise InvalidMessage(f"cannot rebuild the task: {describe(exc)}", job_id.decode()) from None
    if not (
        callable(fn)
        and isinstance(call, tuple)
        and len(call) == 3
        and isinstance(call[0], tuple)
        and isinstance(call[1], dict)
        and isinstance(call[2], dict)
    ):
        raise InvalidMessage(
            f"malformed task: expected a function and (args, kwargs, options), got {type(fn).__name__} "
            f"and {type(call).__name__}",
            job_id.decode(),
        )
    args, kwargs, options = call
    return Task(job_id.decode(), fn, args, kwargs, options, int(attempt), int(expires), limit.decode())


def as_secret(secret: str | bytes | None) -> bytes | None:
    """Return the signing key as bytes, ``None`` for no signing; an empty secret is a mistake."""
    if secret is None:
        return None
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, bytes) or not secret:
        raise ConfigurationError("secret must be a non-empty str or bytes (or None to sign nothing)")
    return secret

"""Turn a function call into a message, and a result into an envelope, and back.

A message is ``b"yq1 <python> <job id> <attempt> <signature> <body>"``: a readable header, then
the body. The body holds the function by value (see ``functions``), then the arguments and
options. The function is pickled on its own so that a bulk enqueue pickles it once and a worker
can reuse a function it has already rebuilt from the same bytes. It is also compressed (zlib): a
pickled function is mostly bytecode, padded with zeros since Python 3.11, and names, so it
shrinks by about a third, and every copy of the message (into Redis, its append-only file, a
worker) is that much cheaper.

The header is checked before anything is unpickled: the Python minor version (bytecode differs
between versions) and, with a secret, the signature (keyed BLAKE2b) over body and header. Unpickling
runs code, so a message that fails either check is never unpickled.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import pickle
import re
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

from .exceptions import ConfigurationError, InvalidMessage, JobFailed, SerializationError
from .functions import FunctionCache, dumps_function, dumps_value

MAGIC = b"yq1"
RESULT_MAGIC = b"yr1"
DEAD_MAGIC = b"yd1"  # the result of a job set aside without running, made by the Lua scripts; never unpickled
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}".encode()
UNSIGNED = b"-"
_VALID_ID = re.compile(rb"[\x21-\x7a\x7c\x7e]+")  # printable ASCII, no space, '{' or '}'
_FIELDS = 6  # magic, python version, job id, attempt, signature, body


class Task(NamedTuple):
    """A function call as it travels between client and worker (a tuple: made once per task)."""

    id: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    options: dict[str, Any] = {}  # noqa: RUF012 - only those that differ from the defaults; never mutated
    attempt: int = 0  # how many times it has failed and been retried


def encode(task: Task, secret: bytes | None, function: bytes | None = None) -> bytes:
    """Return the message for ``task``, signed when a secret is given.

    ``function`` is ``dumps_function(task.fn)`` when the caller already has it.

    Raises:
        SerializationError: the function or an argument cannot travel.
    """
    function = function if function is not None else dumps_function(task.fn)
    call = dumps_value((task.args, task.kwargs, task.options))
    sized_function = b"%d %s" % (len(function), function)
    return _message(task.id, task.attempt, _signer(secret, sized_function), sized_function, call)


def encode_calls(
    function: bytes,
    job_ids: list[str],
    arguments: list[tuple[Any, ...]],
    options: dict[str, Any],
    secret: bytes | None,
) -> list[bytes]:
    """The messages for calls of one function, one per job id and its arguments: ``encode``, with what
    they share made once.

    Raises:
        SerializationError: an argument cannot travel.
    """
    sized_function = b"%d %s" % (len(function), function)
    signer = _signer(secret, sized_function)
    return [
        _message(job_id, 0, signer, sized_function, dumps_value((args, {}, options)))
        for job_id, args in zip(job_ids, arguments, strict=True)
    ]


def with_attempt(job_id: str, attempt: int, body: bytes, secret: bytes | None) -> bytes:
    """The message for ``body`` with this header: how a retry re-signs a task without re-pickling it."""
    return _message(job_id, attempt, _signer(secret, body), body)


def _signer(secret: bytes | None, body_start: bytes) -> hashlib.blake2b | None:
    """The MAC of messages whose body starts with ``body_start``, with that much already absorbed;
    ``None`` without a secret. The body is signed before the header so that the messages of a bulk
    enqueue, which share most of their bytes (the sized function, first), each hash only their own."""
    if not secret:
        return None
    mac = _keyed(secret).copy()
    mac.update(body_start)
    return mac


def _message(job_id: str, attempt: int, signer: hashlib.blake2b | None, body: bytes, body_end: bytes = b"") -> bytes:
    """The header, its signature, then the body, which may come in two pieces (the sized function and
    the call), joined once. The signature is over the body, then the header: a header is
    self-delimiting (it starts with the magic and has exactly four spaces), so body and header
    split one way only."""
    head = b"%s %s %s %d " % (MAGIC, PYTHON_VERSION, job_id.encode(), attempt)
    signature = UNSIGNED if signer is None else _signed(signer, body_end, head)
    return b"%s%s %s%s" % (head, signature, body, body_end)


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


def _sign(secret: bytes, *parts: bytes | memoryview) -> bytes:
    """The hex keyed BLAKE2b of the concatenated ``parts`` (hashed in place, not joined first)."""
    return _signed(_keyed(secret), *parts)


def _signed(start: hashlib.blake2b, *parts: bytes | memoryview) -> bytes:
    """The hex digest of ``start`` (left as it is) with ``parts`` absorbed after what it holds."""
    mac = start.copy()
    for part in parts:
        mac.update(part)
    return mac.hexdigest().encode()


def message_id(message: bytes) -> str:
    """Return the job id in a message's header, or a digest of the bytes when there is none."""
    parts = message.split(b" ", _FIELDS - 1)
    if len(parts) == _FIELDS and parts[0] == MAGIC and _VALID_ID.fullmatch(parts[2]):
        return parts[2].decode()
    return "invalid-" + hashlib.sha1(message).hexdigest()


def message_body(message: bytes) -> bytes:
    return message.split(b" ", _FIELDS - 1)[-1]


_NO_CACHE = FunctionCache(0)


def decode(message: bytes, secret: bytes | None, functions: FunctionCache | None = None) -> Task:
    """Return the task in ``message``, checking its header before unpickling anything.

    Raises:
        InvalidMessage: with the reason, for anything that cannot or must not run.
    """
    parts = message.split(b" ", _FIELDS - 1)
    if len(parts) != _FIELDS or parts[0] != MAGIC or not parts[3].isdigit():
        raise InvalidMessage("not a yotaq message (bad header)")
    _, version, job_id, attempt, signature, body = parts
    if not _VALID_ID.fullmatch(job_id):
        raise InvalidMessage("not a yotaq message (bad job id)")
    if version != PYTHON_VERSION:
        raise InvalidMessage(
            f"enqueued by Python {version.decode(errors='replace')}, this worker runs "
            f"Python {PYTHON_VERSION.decode()}: bytecode differs between versions"
        )
    if secret:
        head = memoryview(message)[: len(message) - len(body) - len(signature) - 1]
        if not hmac.compare_digest(signature, _sign(secret, body, head)):
            reason = "unsigned message" if signature == UNSIGNED else "signature does not match"
            raise InvalidMessage(f"bad signature: {reason}")
    space = body.find(b" ")
    size = body[:space]
    if space < 1 or not size.isdigit() or space + 1 + int(size) > len(body):
        raise InvalidMessage("malformed task: the body does not start with the function's size")
    calls_at = space + 1 + int(size)
    try:
        fn = (functions or _NO_CACHE).load(body[space + 1 : calls_at])
        call = pickle.loads(memoryview(body)[calls_at:])
    except (Exception, SystemExit, KeyboardInterrupt, GeneratorExit) as exc:
        raise InvalidMessage(f"cannot rebuild the task: {type(exc).__name__}: {exc}") from exc
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
            f"and {type(call).__name__}"
        )
    args, kwargs, options = call
    return Task(job_id.decode(), fn, args, kwargs, options, int(attempt))


# -- results -------------------------------------------------------------------------------------


def encode_result(job_id: str, outcome: tuple[Any, ...], secret: bytes | None) -> bytes:
    """The envelope ``yr1 <done|failed> <signature> <body>`` for ``("done", value)`` or
    ``("failed", type name, message, traceback)``; a value that cannot travel becomes a failure."""
    try:
        body = dumps_value(outcome, "return value")
    except SerializationError as exc:
        outcome = ("failed", "SerializationError", str(exc), "")
        body = dumps_value(outcome)
    head = b"%s %s " % (RESULT_MAGIC, outcome[0].encode())
    signature = _sign(secret, job_id.encode(), b" ", head, body) if secret else UNSIGNED
    return head + signature + b" " + body


def result_kind(envelope: bytes) -> str:
    """ "done", "failed" or "dead", read from the envelope's header alone."""
    magic, kind = envelope.split(b" ", 2)[:2]
    return "dead" if magic == DEAD_MAGIC else kind.decode()


def decode_result(job_id: str, envelope: bytes, secret: bytes | None) -> Any:
    """Return the value in ``envelope``, or raise ``JobFailed`` for a job that failed or was set aside."""
    magic, _, rest = envelope.partition(b" ")
    if magic == DEAD_MAGIC:
        raise JobFailed(job_id, "Dead", rest.decode(errors="replace"), "")
    kind, signature, body = rest.split(b" ", 2)
    if magic != RESULT_MAGIC:
        raise InvalidMessage(f"job {job_id}: not a yotaq result")
    signed_parts = (job_id.encode(), b" ", magic, b" ", kind, b" ", body)
    if secret and not hmac.compare_digest(signature, _sign(secret, *signed_parts)):
        raise InvalidMessage(f"job {job_id}: result has a bad signature")
    outcome = pickle.loads(body)
    if outcome[0] == "done":
        return outcome[1]
    raise JobFailed(job_id, *outcome[1:])


def as_secret(secret: str | bytes | None) -> bytes | None:
    """Return the signing key as bytes, ``None`` for no signing; an empty secret is a mistake."""
    if secret is None:
        return None
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, bytes) or not secret:
        raise ConfigurationError("secret must be a non-empty str or bytes (or None to sign nothing)")
    return secret

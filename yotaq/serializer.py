"""Turn a function call into a message and back.

A message is ``b"yq1 <python> <job id> <signature> " + body``: a readable header, then the call
pickled by dill with ``recurse=True``. Functions travel by value, and ``recurse=True`` makes the
module globals a function uses (the walkthrough's ``logger``) travel with it; dill's default would
drop them and the worker would fail with ``NameError``.

The header is checked before anything is unpickled: the Python minor version (bytecode differs
between versions) and, with a secret, the HMAC-SHA256 signature over header and body. Unpickling
runs code, so a message that fails either check is never unpickled.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dill
from dill._dill import MetaCatchingDict

from .exceptions import ConfigurationError, InvalidMessage, SerializationError

MAGIC = b"yq1"
PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}".encode()
UNSIGNED = b"-"
_FIELDS = 5  # magic, python version, job id, signature, body


@dataclass(frozen=True)
class Task:
    """A function call as it travels between client and worker."""

    id: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def _refuse(pickler: Any, obj: Any) -> None:
    raise SerializationError(
        f"cannot send a {type(obj).__module__}.{type(obj).__qualname__} to a worker: "
        "it only has meaning inside this process"
    )


class _Pickler(dill.Pickler):  # type: ignore[misc]
    """dill, minus the objects it would copy into something meaningless in another process.

    dill happily pickles a lock (a new, unrelated lock comes out) or an open file (reopened by
    path on the worker, if that path exists there). Both are bugs waiting to happen in a task
    queue, so they are refused at enqueue time.
    """

    dispatch = MetaCatchingDict(dill.Pickler.dispatch.copy())


for _type in (
    type(threading.Lock()),
    type(threading.RLock()),
    io.FileIO,
    io.BufferedReader,
    io.BufferedWriter,
    io.BufferedRandom,
    io.TextIOWrapper,
):
    _Pickler.dispatch[_type] = _refuse


def _dumps(obj: Any) -> bytes:
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, dill.settings["protocol"], recurse=True).dump(obj)
    except SerializationError:
        raise
    except Exception as exc:
        raise SerializationError(f"cannot serialise the task: {exc}") from exc
    return buffer.getvalue()


def _sign(secret: bytes, signed_part: bytes) -> bytes:
    return hmac.new(secret, signed_part, hashlib.sha256).hexdigest().encode()


def encode(task: Task, secret: bytes | None) -> bytes:
    """Return the message for ``task``, signed when a secret is given.

    Raises:
        SerializationError: the function or an argument cannot be pickled by value.
    """
    body = _dumps((task.fn, task.args, task.kwargs))
    head = b"%s %s %s " % (MAGIC, PYTHON_VERSION, task.id.encode())
    signature = _sign(secret, head + body) if secret else UNSIGNED
    return head + signature + b" " + body


def message_id(message: bytes) -> str:
    """Return the job id in a message's header, or a digest of the bytes when there is none."""
    parts = message.split(b" ", _FIELDS - 1)
    if len(parts) == _FIELDS and parts[0] == MAGIC and parts[2].isalnum():
        return parts[2].decode()
    return "invalid-" + hashlib.sha1(message).hexdigest()


def decode(message: bytes, secret: bytes | None) -> Task:
    """Return the task in ``message``, checking its header before unpickling anything.

    Raises:
        InvalidMessage: with the reason, for anything that cannot or must not run.
    """
    parts = message.split(b" ", _FIELDS - 1)
    if len(parts) != _FIELDS or parts[0] != MAGIC:
        raise InvalidMessage("not a yotaq message (bad header)")
    _, version, job_id, signature, body = parts
    if version != PYTHON_VERSION:
        raise InvalidMessage(
            f"enqueued by Python {version.decode(errors='replace')}, this worker runs "
            f"Python {PYTHON_VERSION.decode()}: bytecode differs between versions"
        )
    if secret:
        signed_part = message[: len(message) - len(body) - len(signature) - 1]
        if not hmac.compare_digest(signature, _sign(secret, signed_part + body)):
            reason = "unsigned message" if signature == UNSIGNED else "signature does not match"
            raise InvalidMessage(f"bad signature: {reason}")
    try:
        call = dill.loads(body)
    except Exception as exc:
        raise InvalidMessage(f"cannot rebuild the task: {type(exc).__name__}: {exc}") from exc
    if not (
        isinstance(call, tuple)
        and len(call) == 3
        and callable(call[0])
        and isinstance(call[1], tuple)
        and isinstance(call[2], dict)
    ):
        raise InvalidMessage(f"malformed task: expected (function, args, kwargs), got {type(call).__name__}")
    fn, args, kwargs = call
    return Task(job_id.decode(), fn, args, kwargs)


def as_secret(secret: str | bytes | None) -> bytes | None:
    """Return the signing key as bytes, ``None`` for no signing; an empty secret is a mistake."""
    if secret is None:
        return None
    if isinstance(secret, str):
        secret = secret.encode()
    if not isinstance(secret, bytes) or not secret:
        raise ConfigurationError("secret must be a non-empty str or bytes (or None to sign nothing)")
    return secret

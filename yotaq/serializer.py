"""Turn a function call into a message, and a result into an envelope, and back.

A message is ``b"yq1 <python> <job id> <attempt> <signature> <body>"``: a readable header, then
the body. The body holds the function pickled by dill with ``recurse=True`` (functions travel by
value, and the module globals they use, such as the walkthrough's ``logger``, travel with them;
dill's default would drop those and the worker would fail with ``NameError``), then the
arguments and options. The function is pickled on its own so that a bulk enqueue pickles it
once and a worker can reuse a function it has already rebuilt from the same bytes. It is also
compressed (zlib): a pickled function is mostly bytecode, padded with zeros since Python 3.11,
and names, so it shrinks by about a third, and every copy of the message (into Redis, its
append-only file, a worker, and back in the acknowledgement) is that much cheaper.

The header is checked before anything is unpickled: the Python minor version (bytecode differs
between versions) and, with a secret, the signature (keyed BLAKE2b) over body and header. Unpickling
runs code, so a message that fails either check is never unpickled.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import io
import itertools
import logging
import operator
import pickle
import re
import sys
import threading
import types
import weakref
import zlib
from collections.abc import Callable
from typing import Any, NamedTuple

import dill
from dill._dill import MetaCatchingDict

from .exceptions import ConfigurationError, InvalidMessage, JobFailed, SerializationError

MAGIC = b"yq1"
RESULT_MAGIC = b"yr1"
DEAD_MAGIC = b"yd1"  # a result envelope for a job that was set aside; plain text, never unpickled
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


def _dill(obj: Any, what: str) -> bytes:
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, dill.settings["protocol"], recurse=True).dump(obj)
    except SerializationError:
        raise
    except Exception as exc:
        raise SerializationError(f"cannot serialise the {what}: {exc}") from exc
    return buffer.getvalue()


def dumps_function(fn: Callable[..., Any]) -> bytes:
    """The function, by value (with the globals it uses) unless importable by name; compressed."""
    if not callable(fn):
        raise SerializationError(f"cannot enqueue a {type(fn).__name__}: it is not callable")
    return zlib.compress(_dill(fn, "function"))


_FROZEN_TYPES = (type(None), bool, int, float, complex, str, bytes, range, types.ModuleType, logging.Logger)


def _by_reference(obj: Any) -> bool:
    """Whether dill pickles ``obj`` (a function or class) by module and name rather than by value."""
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    if module is None or module.__name__ == "__main__":
        return False
    found: Any = module
    for part in getattr(obj, "__qualname__", "<locals>").split("."):
        found = getattr(found, part, None)
    return found is obj


@functools.lru_cache(maxsize=1024)
def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """The names a code object (and the code nested in it) may look up as globals."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.update(_global_names(const))
    return tuple(sorted(names))


_ABSENT = object()  # a global name a function uses but its module does not define (yet)
_MAX_NESTED = 64


def _parts(fn: types.FunctionType) -> list[Any]:
    """What a by-value pickle of ``fn`` is made of: its code, and every object it captures (the
    globals its code names, or ``_ABSENT``; defaults; closure contents), by identity."""
    names = _global_names(fn.__code__)
    parts: list[Any] = [fn.__code__, fn.__defaults__, fn.__kwdefaults__, bool(fn.__dict__)]
    parts += map(fn.__globals__.get, names, itertools.repeat(_ABSENT, len(names)))  # at C speed: every enqueue
    if fn.__defaults__:
        parts += fn.__defaults__
    if fn.__kwdefaults__:
        for item in fn.__kwdefaults__.items():
            parts += item
    if fn.__closure__:
        parts += [cell.cell_contents for cell in fn.__closure__]
    return parts


def _nested(fn: Any) -> list[types.FunctionType] | None:
    """The other functions a by-value pickle of ``fn`` takes along by value, when everything
    these functions capture is immutable or pickled by reference; ``None`` when some of it
    could change in place (so a pickle made now could go stale without anything being rebound).
    """
    seen: list[types.FunctionType] = []
    todo = [fn]
    while todo:
        function = todo.pop()
        if not isinstance(function, types.FunctionType) or function.__dict__ or len(seen) > _MAX_NESTED:
            return None
        if any(function is other for other in seen):
            continue
        seen.append(function)
        for value in _parts(function)[4:]:
            if value is _ABSENT or isinstance(value, (*_FROZEN_TYPES, types.BuiltinFunctionType)):
                continue
            if isinstance(value, tuple | frozenset):
                if not all(isinstance(item, _FROZEN_TYPES) for item in value):
                    return None
            elif isinstance(value, types.FunctionType | type):
                if not _by_reference(value):
                    if not isinstance(value, types.FunctionType):
                        return None  # a class by value: its attributes could change
                    todo.append(value)
            else:
                return None
    return seen[1:]


def _snapshot(fn: types.FunctionType, nested: list[types.FunctionType]) -> list[Any]:
    parts = _parts(fn)
    for function in nested:
        parts += _parts(function)
    return parts


class FunctionPickles:
    """``dumps_function``, remembered for as long as the pickle would come out the same.

    Pickling a function by value is the slow part of an enqueue. A pickle is reused for the
    same function object only while everything it captured (globals it uses, defaults, closure
    cells, and the same for the functions it takes along) is the very same objects, all of them
    immutable or pickled by reference; a function that captures a list, a dict or any other
    mutable object is pickled every time.
    """

    def __init__(self) -> None:
        self._pickles: weakref.WeakKeyDictionary[Any, tuple[list[Any], list[Any], bytes]] = weakref.WeakKeyDictionary()

    def dumps(self, fn: Callable[..., Any]) -> bytes:
        if not isinstance(fn, types.FunctionType):  # a builtin, a method, a callable object: as it comes
            return dumps_function(fn)
        cached = self._pickles.get(fn)
        if cached is not None:
            nested, snapshot, data = cached
            try:
                now = _snapshot(fn, nested)  # type: ignore[arg-type]
            except ValueError:  # a closure cell was emptied
                now = []
            if len(now) == len(snapshot) and all(map(operator.is_, now, snapshot)):
                return data
        try:
            nested = _nested(fn)
            snapshot = _snapshot(fn, nested) if nested is not None else None  # type: ignore[arg-type]
        except Exception:
            snapshot = None
        data = dumps_function(fn)
        if snapshot is not None:  # taken before pickling: a change made meanwhile shows as a mismatch
            self._pickles[fn] = (nested, snapshot, data)  # type: ignore[assignment]
        else:
            self._pickles.pop(fn, None)
        return data


def dumps_value(value: Any, what: str = "arguments") -> bytes:
    """Plain pickle (C speed) where it is enough, dill where it is not.

    Plain pickle refers to functions and classes by module and name, which fails on a worker
    for anything defined in the producer's ``__main__``; such values go through dill too.
    """
    try:
        data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    except Exception:
        return _dill(value, what)
    return _dill(value, what) if b"__main__" in data else data


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


def _sign(secret: bytes, *parts: bytes) -> bytes:
    """The hex keyed BLAKE2b of the concatenated ``parts`` (hashed in place, not joined first)."""
    return _signed(_keyed(secret), *parts)


def _signed(start: hashlib.blake2b, *parts: bytes) -> bytes:
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


class FunctionCache:
    """Functions rebuilt from their pickled bytes, keyed by those bytes (the same bytes, the same function).

    A task's function is rebuilt once per worker rather than once per task. Tasks of one function
    therefore share the module globals that travelled with it, as they would in one process.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._functions: dict[bytes, Callable[..., Any]] = {}

    def load(self, data: bytes) -> Callable[..., Any]:
        fn = self._functions.get(data)
        if fn is None:
            fn = dill.loads(zlib.decompress(data))
            if self._size:
                if len(self._functions) >= self._size:
                    self._functions.pop(next(iter(self._functions)))
                self._functions[data] = fn
        return fn


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


def dead_result(reason: str) -> bytes:
    """The envelope of a job set aside without a result (the reap script writes the same)."""
    return DEAD_MAGIC + b" " + reason.encode()


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

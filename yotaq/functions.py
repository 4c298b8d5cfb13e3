"""Functions by value: how yotaq pickles a task's function and arguments (dill's policy), and the
caches that make that cheap on both sides.

Functions travel by value: dill with ``recurse=True`` takes along the module globals they use,
such as the walkthrough's ``logger`` (dill's default would drop those and the worker would fail
with ``NameError``). Objects that only have meaning inside one process (locks, open files) are
refused at enqueue time rather than copied into something meaningless.
"""

from __future__ import annotations

import functools
import importlib
import io
import itertools
import logging
import operator
import pickle
import sys
import threading
import types
import weakref
import zlib
from collections.abc import Callable
from typing import Any

import dill

from .exceptions import SerializationError

# Objects that only have meaning inside one process, by their exact type.
_REFUSED = frozenset(
    {
        type(threading.Lock()),
        type(threading.RLock()),
        io.FileIO,
        io.BufferedReader,
        io.BufferedWriter,
        io.BufferedRandom,
        io.TextIOWrapper,
    }
)


class _Pickler(dill.Pickler):  # type: ignore[misc]
    """dill, minus the objects it would copy into something meaningless in another process.

    dill happily pickles a lock (a new, unrelated lock comes out) or an open file (reopened by
    path on the worker, if that path exists there). Both are bugs waiting to happen in a task
    queue, so they are refused at enqueue time.
    """

    def reducer_override(self, obj: Any) -> Any:
        """The standard pickler's hook, asked before dill's table of types for each object not yet
        pickled: refuses what cannot travel, takes yotaq by name, and leaves the rest to dill."""
        kind = type(obj)
        if kind in _REFUSED:
            raise SerializationError(
                f"cannot send a {kind.__module__}.{kind.__qualname__} to a worker: "
                "it only has meaning inside this process"
            )
        if kind is types.ModuleType and (obj.__name__ == "yotaq" or obj.__name__.startswith("yotaq.")):
            # dill takes a module that is not installed in site-packages (yotaq run from a clone) to
            # be the user's own, possibly absent on the worker, and pickles its whole state; every
            # worker has yotaq, and its state holds objects that cannot travel.
            return importlib.import_module, (obj.__name__,)
        return NotImplemented


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
        self._pickles: weakref.WeakKeyDictionary[Any, tuple[list[types.FunctionType], list[Any], bytes]] = (
            weakref.WeakKeyDictionary()
        )

    def dumps(self, fn: Callable[..., Any]) -> bytes:
        if not isinstance(fn, types.FunctionType):  # a builtin, a method, a callable object: as it comes
            return dumps_function(fn)
        cached = self._pickles.get(fn)
        if cached is not None:
            nested, snapshot, data = cached
            try:
                now = _snapshot(fn, nested)
            except ValueError:  # a closure cell was emptied
                now = []
            if len(now) == len(snapshot) and all(map(operator.is_, now, snapshot)):
                return data
        found: tuple[list[types.FunctionType], list[Any]] | None = None
        try:
            if (now_nested := _nested(fn)) is not None:
                found = (now_nested, _snapshot(fn, now_nested))
        except Exception:
            found = None
        data = dumps_function(fn)
        if found is not None:  # taken before pickling: a change made meanwhile shows as a mismatch
            self._pickles[fn] = (*found, data)
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


def name_of(fn: Any) -> str:
    """A function's module and qualified name, as logs and the dashboard show it."""
    return f"{getattr(fn, '__module__', None) or '?'}.{getattr(fn, '__qualname__', type(fn).__name__)}"

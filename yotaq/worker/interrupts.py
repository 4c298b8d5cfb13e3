"""Raising an exception in another thread (``PyThreadState_SetAsyncExc``): how a worker with threads
interrupts a task past its time limit, or cancelled, and how a thread makes sure none is on its way to it
once its task has ended.

The exception is raised in the thread at its next bytecode: not while it is in a C call. CPython keeps
one flag for the whole interpreter that tells threads to look for theirs, and a thread that takes its
own resets it: another thread's may then wait unseen (until the next raise). So an interruption notes
its arrival (``_Reaching``), and is raised again until it has arrived.
"""

from __future__ import annotations

import ctypes
import threading

from .task import StopRequested
from .timelimit import TaskCancelled, TimeLimitExceeded

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc


def raise_in(ident: int, exc: type[BaseException]) -> None:
    """Have the thread ``ident`` raise ``exc`` at its next bytecode (in place of one on its way)."""
    _set_async_exc(ctypes.c_ulong(ident), ctypes.py_object(exc))


_CHECKS = 100  # turns of a loop, each a point where a thread takes an exception raised in it
RESIGNAL_S = 0.01  # an interruption not yet taken by its thread is raised again this often
REACHED: set[int] = set()  # the threads that the interruption raised last in them has reached


class Settled(BaseException):
    """Raised by a thread in itself once its task has ended, to let through an interruption on its way."""


class _Reaching(BaseException):
    """Notes, as it is raised in its thread, that it got there: until then it is raised again, as another
    thread taking its own resets the interpreter's flag that tells threads to look for theirs."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        REACHED.add(threading.get_ident())


class _TimeLimit(_Reaching, TimeLimitExceeded):
    """``TimeLimitExceeded``, raised in a thread."""


class _Cancel(_Reaching, TaskCancelled):
    """``TaskCancelled``, raised in a thread."""


class _Stop(_Reaching, StopRequested):
    """``StopRequested``, raised in a thread (the worker stops at once)."""


RAISED: dict[type[BaseException], type[BaseException]] = {
    TimeLimitExceeded: _TimeLimit,
    TaskCancelled: _Cancel,
    StopRequested: _Stop,
}


def let_through(ident: int) -> None:
    """In the thread ``ident`` itself, once nothing raises in it any more: let an interruption on its way
    through here. ``Settled`` takes its place: clearing it instead (``PyThreadState_SetAsyncExc`` with
    NULL) would leave the interpreter's flag set for good, which sends every thread down a slower path,
    and a profiled or traced one of CPython 3.11 into a loop that never ends."""
    while True:
        try:
            raise_in(ident, Settled)  # in place of one on its way
            for _ in range(_CHECKS):  # each turn of a loop looks for one
                pass
        except Settled:
            return
        except BaseException:  # the one on its way, just before: Settled follows
            continue

"""``Executor``: a ``concurrent.futures.Executor`` whose tasks run on a queue's workers.

Code written for ``ProcessPoolExecutor`` runs on a fleet by changing one line::

    with yotaq.Executor(queue) as executor:     # was: ProcessPoolExecutor()
        for page in executor.map(parse, urls):
            ...

Each ``submit`` enqueues a job and returns a ``concurrent.futures.Future`` of it; one watch per
executor (``broker.watch.ListWatch``) waits for all their results in one blocking read, so futures
waiting cost Redis nothing however many there are.
"""

from __future__ import annotations

import builtins
import concurrent.futures
import functools
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Self

from . import outcomes
from .broker.keys import shard_of
from .broker.watch import ListWatch
from .exceptions import ConfigurationError, JobCancelled, JobFailed
from .job import Job, Status
from .queue import Queue, WithOptions


class JobFuture(concurrent.futures.Future[Any]):
    """The future of one job (``job``). Its ``cancel()`` cancels the job, even a running one (which is
    interrupted in its worker); it returns False once the job has finished. A future of a job is never
    ``running()``: whether a worker has started it is the job's ``status``.
    """

    def __init__(self, job: Job[Any], executor: Executor) -> None:
        super().__init__()
        self.job = job
        self._executor = executor
        self._settling = threading.Lock()  # the collector and cancel() may both end it

    def cancel(self) -> bool:
        if self.done():
            return self.cancelled()
        if not self.job.cancel():
            return self.cancelled()  # it finished first: its result is on its way
        self._executor._forget(self)
        self._cancel_here()
        return True

    def _cancel_here(self) -> None:
        with self._settling:
            if not self.done() and super().cancel():
                self.set_running_or_notify_cancel()  # wakes wait() and as_completed(), as a pool's worker would

    def _settle(self, read: Callable[[], Any]) -> None:
        """End the future with what ``read()`` returns or raises (the job's result)."""
        try:
            value = read()
        except JobCancelled:
            self._cancel_here()
            return
        except JobFailed as failed:
            error: BaseException = remote_error(failed)
        except Exception as exc:  # a result that cannot be read or trusted (InvalidMessage)
            error = exc
        else:
            self._end(lambda: self.set_result(value))
            return
        self._end(lambda: self.set_exception(error))

    def _end(self, end: Callable[[], None]) -> None:
        with self._settling:
            if not self.done():
                end()


class Executor(concurrent.futures.Executor):
    """Run calls on ``queue``'s workers, as futures (``concurrent.futures``).

    Args:
        queue: a ``Queue``, or ``queue.options(...)`` for options every job gets (``timeout``,
            ``retries``, ...). Its secret, shards and eager mode are the executor's.

    A task that raises makes its future's ``result()`` raise the same type (``ValueError``, or a class
    of a module imported here), the remote traceback attached: as a note, and as its ``__cause__``, the
    ``yotaq.JobFailed`` (``.traceback``). A time limit raises ``TimeoutError``; a job that could not run
    (dead), or an exception whose type cannot be made here, raises ``JobFailed``. A job cancelled,
    here or anywhere, makes its future cancelled.
    """

    def __init__(self, queue: Queue | WithOptions) -> None:
        if not isinstance(queue, (Queue, WithOptions)):
            raise ConfigurationError(f"Executor needs a yotaq.Queue or queue.options(...), got {queue!r}")
        self._target = queue
        self._queue = queue if isinstance(queue, Queue) else queue.queue
        self._futures: dict[str, JobFuture] = {}  # those not done, by their job's result list
        self._lock = threading.Lock()
        self._watch: ListWatch | None = None
        self._shut_down = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> JobFuture:
        """Enqueue ``fn(*args, **kwargs)``; its future.

        Raises:
            RuntimeError: the executor was shut down.
            SerializationError: ``fn`` or an argument cannot travel; nothing was sent.
            RedisUnavailable: Redis could not be reached within a few seconds.
        """
        self._check_open()
        return self._follow([self._target.enqueue(fn, *args, **kwargs)])[0]

    def map(
        self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None, chunksize: int = 1
    ) -> Iterator[Any]:
        """``fn`` over the iterables, as ``concurrent.futures.Executor.map``: all enqueued at once (one
        transaction), the results in order, each within ``timeout`` seconds of this call (else
        ``TimeoutError``, the rest cancelled). ``chunksize`` calls go in each job, as in
        ``ProcessPoolExecutor``: fewer, larger jobs for many short calls."""
        if not isinstance(chunksize, int) or isinstance(chunksize, bool) or chunksize < 1:
            raise ConfigurationError(f"chunksize must be a whole number from 1, got {chunksize!r}")
        self._check_open()
        end_at = None if timeout is None else time.monotonic() + timeout
        calls = list(zip(*iterables, strict=False))
        if chunksize == 1:
            futures = self._follow(self._target.enqueue_many(fn, calls))
        else:
            chunks = [(calls[start : start + chunksize],) for start in range(0, len(calls), chunksize)]
            futures = self._follow(self._target.enqueue_many(functools.partial(_run_chunk, fn), chunks))
        return _in_order(futures, end_at, chunked=chunksize > 1)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more submits; with ``wait``, return once every future is done. ``cancel_futures`` cancels
        the jobs not started yet (pending or scheduled); running ones finish."""
        with self._lock:
            self._shut_down = True
            waiting = list(self._futures.values())
        if cancel_futures:
            for future in waiting:
                if future.job.status is not Status.ACTIVE:
                    future.cancel()
        if wait:
            concurrent.futures.wait(waiting)
        self._close_when_idle()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.shutdown(wait=True)

    def _check_open(self) -> None:
        if self._shut_down:
            raise RuntimeError("cannot schedule new futures after shutdown")

    def _follow(self, jobs: list[Job[Any]]) -> list[JobFuture]:
        """A future of each job, its result watched (one read for all of them)."""
        futures = [JobFuture(job, self) for job in jobs]
        if self._queue.eager:  # run already: each result is in its job
            for future in futures:
                future._settle(future.job.result)
            return futures
        keys = [self._result_key(future.job) for future in futures]
        with self._lock:
            self._futures.update(zip(keys, futures, strict=True))
            if self._watch is None:
                self._watch = self._queue.broker.watch_lists(self._arrived)
            watch = self._watch
        watch.watch(keys)
        return futures

    def _result_key(self, job: Job[Any]) -> str:
        shards = self._queue.shards
        return shards[shard_of(job.id, len(shards))].result(job.id)

    def _arrived(self, key: str, envelope: bytes) -> None:
        """A job's result came (in the watch's thread, or in ``watch``'s caller)."""
        with self._lock:
            future = self._futures.pop(key, None)
        if future is not None:
            queue = self._queue
            future._settle(lambda: outcomes.decode_result(future.job.id, envelope, queue._secret, queue.name))
            self._close_when_idle()

    def _forget(self, future: JobFuture) -> None:
        key = self._result_key(future.job)
        with self._lock:
            self._futures.pop(key, None)
            watch = self._watch
        if watch is not None:
            watch.forget(key)
            self._close_when_idle()

    def _close_when_idle(self) -> None:
        """After ``shutdown(wait=False)``, the watch stops once the last future is done."""
        with self._lock:
            if not self._shut_down or self._futures:
                return
            watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()


def _run_chunk(fn: Callable[..., Any], chunk: list[tuple[Any, ...]]) -> list[Any]:
    """What a job of ``map(..., chunksize=n)`` runs on its worker."""
    return [fn(*args) for args in chunk]


def _in_order(futures: list[JobFuture], end_at: float | None, *, chunked: bool) -> Iterator[Any]:
    """The futures' results in order, each by ``end_at`` (a ``time.monotonic()``); those left are
    cancelled when it stops early (a timeout, an exception, or the caller closing it)."""
    futures = futures[::-1]
    try:
        while futures:
            future = futures[-1]
            value = future.result() if end_at is None else future.result(end_at - time.monotonic())
            futures.pop()
            if chunked:
                yield from value
            else:
                yield value
    finally:
        for future in futures:
            future.cancel()


def remote_error(failed: JobFailed) -> BaseException:
    """The exception a task raised, as well as it can be made here: of its own type (a builtin, or a
    class of a module already imported here), with its message, the remote traceback as a note and
    ``failed`` as its cause; else ``failed`` itself."""
    cls = _exception_class(failed)
    if cls is None:
        return failed
    try:
        error = cls(failed.message)
    except Exception:  # a constructor that takes other arguments
        return failed
    error.__cause__ = failed
    if failed.traceback:
        error.add_note(f"remote traceback of job {failed.job_id}:\n{failed.traceback.rstrip()}")
    return error


def _exception_class(failed: JobFailed) -> type[Exception] | None:
    builtin = getattr(builtins, failed.type, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        return builtin
    # The traceback's line naming the exception gives its module: "package.module.Name: message".
    line = re.compile(rf"^([\w.]+)\.{re.escape(failed.type)}(?::|$)", re.MULTILINE)
    for match in reversed(list(line.finditer(failed.traceback))):
        path = match[1].split(".")
        for cut in range(len(path), 0, -1):  # the longest prefix that is a module: the rest are classes
            found: Any = sys.modules.get(".".join(path[:cut]))
            for name in [*path[cut:], failed.type]:
                found = getattr(found, name, None)
            if _is_task_error(found):
                return found  # type: ignore[no-any-return]
    main = getattr(sys.modules.get("__main__"), failed.type, None)  # no module named: the script's own
    return main if _is_task_error(main) else None


def _is_task_error(found: object) -> bool:
    return isinstance(found, type) and issubclass(found, Exception) and not issubclass(found, JobFailed)

"""Tasks that do what a worker must survive: fork, return what Redis refuses; with real worker processes."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

import yotaq

from . import tasks
from .helpers import wait_for


def _stray(pid: int) -> None:
    """Kill a forked child that went on as a worker (the code these tests guard against)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(("fn", "concurrency"), [(tasks.forks, 1), (tasks.forks_async, 1), (tasks.forks_async, 2)])
def test_a_task_that_forks_leaves_one_worker_and_one_outcome(queue, spawn, queue_name, fn, concurrency):
    # Given a worker, and a task that forks a child that returns from the task at once
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name, "--concurrency", str(concurrency))
    job = queue.enqueue(fn)
    kind, child, exited = job.result(timeout=20)
    try:
        # Then the child exited as it left the task (its parent reaped it), and the outcome is the parent's;
        # a child of the event loop may leave it by an error (asyncio does not carry on in a child)
        assert kind == "parent"
        assert exited == 0 if concurrency == 1 else exited in (0, 1)
        # and the next task runs in the worker itself, the one worker registered
        assert queue.enqueue(tasks.pid).result(timeout=10) == worker.pid
        assert [w.id.split(".")[1] for w in queue.info().workers] == [str(worker.pid)]
        assert worker.stop() == 0
        assert "stopped: {'done': 2}" in worker.output()
    finally:
        _stray(child)


def test_a_forked_child_still_in_its_task_answers_signals_as_a_plain_process(queue, spawn, queue_name, tmp_path):
    # Given a task whose forked child goes on in the task's code
    journal = tmp_path / "journal.txt"
    worker = spawn("-m", "yotaq", "worker", "--queue", queue_name)
    job = queue.enqueue(tasks.forks_a_waiting_child, str(journal))
    [(child, _)] = wait_for(lambda: tasks.events(journal, "child"), what="the child to start")
    try:
        # When the child gets SIGTERM, it ends at once (not the worker's handler: finish the task, then stop)
        os.kill(int(child), signal.SIGTERM)
        assert job.result(timeout=20) == -signal.SIGTERM
        assert job.status is yotaq.Status.DONE and worker.popen.poll() is None
    finally:
        _stray(int(child))

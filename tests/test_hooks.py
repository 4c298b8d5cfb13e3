"""Task hooks: told of the worker's start and stop and of every task, and never able to break either."""

from __future__ import annotations

import yotaq


class Recorder(yotaq.Hook):
    def __init__(self):
        self.events = []

    def on_worker_start(self, worker, queues):
        self.events.append(("start", tuple(queues)))

    def before_task(self, job):
        self.events.append(("before", job.id, job.attempt))

    def after_task(self, job, outcome, error, seconds):
        self.events.append(("after", job.id, outcome, type(error).__name__ if error else None, seconds >= 0))

    def on_worker_stop(self, worker):
        self.events.append(("stop",))


class Broken(yotaq.Hook):
    def before_task(self, job):
        raise RuntimeError("a hook that breaks")

    def after_task(self, job, outcome, error, seconds):
        raise RuntimeError("a hook that breaks")


def boom():
    raise ValueError("boom")


def test_hooks_are_told_of_the_worker_and_every_task_with_its_outcome(r, queue, queue_name):
    done = queue.enqueue(divmod, 7, 2)
    retried = queue.options(retries=1, retry_delay=0.01).enqueue(boom)
    recorder = Recorder()
    yotaq.Worker(r, [queue_name], burst=True, hooks=[recorder]).run()
    assert recorder.events[0] == ("start", (queue_name,)) and recorder.events[-1] == ("stop",)
    assert ("before", done.id, 0) in recorder.events
    assert ("after", done.id, "done", None, True) in recorder.events
    after = [event for event in recorder.events if event[0] == "after" and event[1] == retried.id]
    assert after == [
        ("after", retried.id, "retried", "ValueError", True),
        ("after", retried.id, "failed", "ValueError", True),
    ]


def test_a_hook_that_raises_breaks_neither_the_task_nor_the_worker(r, queue, queue_name, caplog):
    job = queue.enqueue(divmod, 7, 2)
    recorder = Recorder()
    worker = yotaq.Worker(r, [queue_name], burst=True, hooks=[Broken(), recorder])
    worker.run()
    assert job.result(timeout=1) == (3, 1) and worker.counts == {"done": 1}
    assert ("after", job.id, "done", None, True) in recorder.events  # the hooks after it still ran
    assert "a hook that breaks" in caplog.text

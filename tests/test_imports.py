"""Features hang off one task's path and are imported only when used (issue 28): a process that enqueues a
task and runs it in a burst worker loads none of them, and reads only the Lua scripts it runs."""

from __future__ import annotations

import subprocess
import sys

# What such a process loads, at most (issue 28 aims at 12): the core of enqueue, lease, run, acknowledge.
ONE_TASK_PATH = frozenset(
    (
        "yotaq",
        "yotaq.current",
        "yotaq.exceptions",
        "yotaq.functions",
        "yotaq.job",
        "yotaq.outcomes",
        "yotaq.producing",
        "yotaq.queue",
        "yotaq.serializer",
        "yotaq.broker",
        "yotaq.broker.broker",
        "yotaq.broker.commands",
        "yotaq.broker.connection",
        "yotaq.broker.control",
        "yotaq.broker.flows",
        "yotaq.broker.keys",
        "yotaq.broker.leases",
        "yotaq.broker.reads",
        "yotaq.broker.scripts",
        "yotaq.broker.upkeep",
        "yotaq.broker.urls",
        "yotaq.worker",
        "yotaq.worker.batch",
        "yotaq.worker.liveness",
        "yotaq.worker.loop",
        "yotaq.worker.maintenance",
        "yotaq.worker.shards",
        "yotaq.worker.stopping",
        "yotaq.worker.task",
        "yotaq.worker.timelimit",
    )
)
UNUSED = ("yotaq.aio", "yotaq.broker.aio", "yotaq.executor", "yotaq.broker.watch", "yotaq.dashboard", "yotaq.metrics")

_SCRIPT = """
import sys, yotaq
from yotaq.broker import scripts
queue = yotaq.Queue(yotaq.connect(sys.argv[1]), sys.argv[2])
job = queue.enqueue(divmod, 7, 2)
yotaq.Worker(queue.redis, [queue.name], burst=True).run()
assert job.result(timeout=5) == (3, 1)
print(" ".join(sorted(name for name in sys.modules if name.startswith("yotaq"))))
print(" ".join(sorted(scripts.loaded())))
"""


def _one_task(redis_url: str, queue_name: str) -> tuple[list[str], list[str]]:
    """The yotaq modules, and the Lua scripts read, after one task enqueued and run in a burst worker."""
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, redis_url, queue_name], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules, lua = done.stdout.splitlines()
    return modules.split(), lua.split()


def test_one_task_enqueued_and_run_in_a_burst_worker_imports_no_feature_it_does_not_use(redis_url, queue_name):
    loaded, _ = _one_task(redis_url, queue_name)
    assert "yotaq.worker.loop" in loaded  # (the check sees what was imported)
    assert [name for name in loaded if name.startswith(UNUSED)] == []


def test_one_task_enqueued_and_run_in_a_burst_worker_imports_only_the_modules_of_its_path(redis_url, queue_name):
    # Given a process that enqueues one plain task and runs it in a burst worker
    loaded, _ = _one_task(redis_url, queue_name)
    # Then it loaded no yotaq module beyond that path: workflows, groups, periodic, the pools and threads, the
    # queue watcher, the looks at a queue (info) are imported by what uses them
    assert sorted(set(loaded) - ONE_TASK_PATH) == []


def test_one_task_reads_only_the_lua_scripts_it_runs(redis_url, queue_name):
    # Given a process that enqueues one plain task and runs it in a burst worker
    _, lua = _one_task(redis_url, queue_name)
    # Then it read the scripts of leasing, acknowledging and giving back, and none of the others'
    assert "ack" in lua
    assert set(lua) <= {"ack", "activate", "clock", "promote", "push", "give_back", "reap", "lapsed", "trim"}

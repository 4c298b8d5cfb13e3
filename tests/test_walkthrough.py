"""The walkthrough, for real: client.py and worker.py as separate processes sharing no code."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

from .helpers import ROOT, wait_for

DONE_BY_WORKER = re.compile(r"stopped: \{'done': (\d+)")


def test_three_workers_run_the_clients_100_tasks_exactly_once_between_them(spawn, walkthrough_queue):
    # Given three workers waiting on the queue 'tasks'
    workers = [spawn("worker.py") for _ in range(3)]
    wait_for(lambda: len(walkthrough_queue.info().workers) == 3, what="3 workers to register")

    # When the client enqueues its 100 tasks (sleeping up to 50 ms instead of 1 s)
    client = spawn("client.py", YOTAQ_DEMO_MAX_SLEEP="0.05")
    assert client.wait(60) == 0, client.output()
    wait_for(lambda: walkthrough_queue.info().done == 100, timeout=60, what="100 tasks done")

    # Then every task ran exactly once, spread over the workers, and the workers stop cleanly
    assert [worker.stop() for worker in workers] == [0, 0, 0]
    done_by_worker = [int(DONE_BY_WORKER.search(worker.output())[1]) for worker in workers]
    assert sum(done_by_worker) == 100
    assert max(done_by_worker) <= 50, done_by_worker  # nobody hoards: batching waits for short tasks
    performed = [worker.output().count("Performing task with arg1=") for worker in workers]
    assert performed == done_by_worker
    assert "Generating 100 tasks" in client.output()
    info = walkthrough_queue.info()
    assert (info.done, info.redelivered, info.pending, info.active, info.failed, info.dead) == (100, 0, 0, 0, 0, 0)
    assert info.workers == []


@pytest.mark.parametrize("script", ["client.py", "worker.py"])
@pytest.mark.parametrize(
    "url, why",
    [("redis://localhost:notaport/0", "bad port"), ("foo://x", "unknown scheme foo://")],
)
def test_a_malformed_redis_url_stops_the_walkthrough_with_one_line(script, url, why):
    env = {name: value for name, value in os.environ.items() if not name.startswith("YOTAQ_")}
    done = subprocess.run(
        [sys.executable, script],
        cwd=ROOT,
        env=env | {"YOTAQ_REDIS_URL": url},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"{script}: invalid Redis URL {url!r}: {why}"), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stdout == ""


PRODUCER = textwrap.dedent(
    """
    import logging
    import os
    import sys
    import time

    import pickle
    import zlib

    import dill
    import yotaq

    logger = logging.getLogger(__name__)
    GREETING = "hello from the producer's globals"


    def do_something(arg1, arg2):
        logger.warning("do_something(%s, %s): %s", arg1, arg2, GREETING)


    def make_closure(factor):
        def scaled(x):
            logger.warning("closure: %s", x * factor)
        return scaled


    queue = yotaq.Queue(yotaq.connect(os.environ["YOTAQ_REDIS_URL"]), sys.argv[1])
    queue.enqueue(do_something, 1, 2)
    queue.enqueue(make_closure(7), 6)
    queue.enqueue(lambda: logger.warning("lambda: %s", GREETING.upper()))
    # The walkthrough's own way: dill's default, which leaves the function's globals behind,
    # pushed with its job pending as a producer would (RPUSH and the job's state).
    function = zlib.compress(dill.dumps(do_something))
    body = b"%d " % len(function) + function + pickle.dumps(((3, 4), {}, {}))
    expires = int(time.time()) + 3600
    header = b"yq1 %d.%d walkthrough 0 %d - - " % (*sys.version_info[:2], expires)
    queue.broker.push(queue.keys, "walkthrough", header + body)
    """
)


def test_functions_defined_in_the_producers_main_run_on_a_worker_that_never_imported_them(
    spawn, tmp_path, queue, queue_name
):
    # Given a producer script in a directory the worker cannot import from
    producer = tmp_path / "producer.py"
    producer.write_text(PRODUCER)

    # When it enqueues a function using a module global, a closure and a lambda, and a worker runs them
    assert spawn(str(producer), queue_name).wait(30) == 0
    worker = spawn("-m", "yotaq", "worker", "--burst", "--queue", queue_name)
    assert worker.wait(30) == 0
    log = worker.output()

    # Then yotaq's messages ran, globals included
    assert "do_something(1, 2): hello from the producer's globals" in log
    assert "closure: 42" in log
    assert "lambda: HELLO FROM THE PRODUCER'S GLOBALS" in log
    # and the walkthrough's own message failed just as the walkthrough does (it ran, and raised)
    [failed] = queue.failed_jobs()
    assert (failed.id, failed.kind) == ("walkthrough", "failed")
    assert "NameError: name 'logger' is not defined" in failed.reason
    assert queue.dead_jobs() == []
    assert (queue.info().done, queue.info().failed, queue.info().dead) == (3, 1, 0)

"""Load test for yotaq: ``locust -f loadtest`` (web UI on http://localhost:8089) or, headless,

    locust -f loadtest --headless -u 50 -r 50 -t 30s --csv out [--workers 4] [--task noop|sleep|cpu] [--queue loadtest]
        [--shards N] [--replicas N]

On test start (in the master or local process) it uses the Redis at ``$YOTAQ_REDIS_URL`` (any URL that
``yotaq.connect`` takes: ``redis://``, ``rediss://``, ``redis+cluster://``, ``redis+sentinel://``), or starts
an embedded one in a temporary directory, and starts ``--workers`` ``python -m yotaq worker`` processes
(0: use the workers already running), with ``--shards`` and ``--replicas`` passed on to them; everything it
started is stopped when the test stops, when locust quits, or at exit. Two kinds of user, half of each by
default (pick one by naming its class after the options, or with ``--class-picker`` in the web UI):

- ``EnqueueUser`` only enqueues, as fast as it can: request type ``enqueue``, latency of ``enqueue()``.
- ``RoundTripUser`` enqueues and waits for the result: request type ``roundtrip``, enqueue to result.

and a reader in the master adds ``completed``/``tasks done (all workers)``: the tasks that all workers
finished, whoever enqueued them, so its requests/s is the workers' throughput (see ``CompletedReporter``).

EnqueueUsers outrun the workers, so with both kinds running the queue grows and the round trips
include the time spent waiting behind that backlog; run ``RoundTripUser`` alone to see latency with
an empty queue. Tasks still queued when the test stops are left in Redis (``--queue`` on your own
Redis; an embedded one is discarded).

Distributed mode (``--processes N``, or ``--master``/``--worker`` on several machines) works too: the master
starts the workers and Redis and tells the locust workers where Redis is and how the queue is sharded
(loadtest/README.md).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import gevent
from _cluster import Cluster
from _tasks import TASKS
from locust import User, constant, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

import yotaq

logger = logging.getLogger("yotaq.loadtest")

MESSAGE = "yotaq-loadtest"  # master to locust workers: where Redis is
RESULT_TIMEOUT_S = 30.0
USERS_STOP_TIMEOUT_S = 10.0  # distributed: how long the master waits for the locust workers' users to stop


@dataclass
class Settings:
    """What the users of this process need; set on test start (or, on a locust worker, by the master)."""

    url: str = ""
    queue: str = "loadtest"
    task: str = "noop"
    shards: int = 1
    replicas: int = 0


settings = Settings()
_cluster: Cluster | None = None
_reporter: CompletedReporter | None = None
_stopper: gevent.Greenlet | None = None


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=4,
        help="yotaq worker processes to start (0: use the workers already running on $YOTAQ_REDIS_URL)",
    )
    parser.add_argument(
        "--task",
        choices=sorted(TASKS),
        default="noop",
        help="what each task does: noop, sleep (10 ms asleep) or cpu (~1 ms of arithmetic)",
    )
    parser.add_argument("--queue", default="loadtest", help="the yotaq queue to use")
    parser.add_argument(
        "--shards",
        type=int,
        default=1,
        help="spread the queue over N shards (Redis Cluster slots): the users enqueue with shards=N and the "
        "workers started get --shards N; workers already running (--workers 0) must say the same",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="count each enqueue and each outcome only once N replicas have it (Redis WAIT): the users "
        "enqueue with replicas=N and the workers started get --replicas N (for a Sentinel-managed master)",
    )


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(MESSAGE, _on_settings)


def _on_settings(msg: Any, **_: Any) -> None:
    global settings
    settings = Settings(**msg.data)


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    """Start Redis and the workers, once per test, in the master or local process only."""
    global settings, _cluster, _reporter
    if isinstance(environment.runner, WorkerRunner):
        return
    _stop_everything()  # anything left from a previous test in this process (web UI)
    settings = Settings()
    options = environment.parsed_options
    workers = getattr(options, "workers", 4)
    queue = getattr(options, "queue", "loadtest")
    kind = getattr(options, "task", "noop")
    shards = getattr(options, "shards", 1)
    replicas = getattr(options, "replicas", 0)
    try:
        _cluster = Cluster(workers, queue, os.environ.get("YOTAQ_REDIS_URL"), shards=shards, replicas=replicas)
        settings = Settings(_cluster.start(), queue, kind, shards, replicas)
    except Exception:
        logger.exception("cannot start the load test's Redis and workers; stopping")
        environment.process_exit_code = 1
        if environment.runner is not None:  # headless: quit; web UI: stop this test, keep the UI
            headless = getattr(options, "headless", True)
            gevent.spawn(environment.runner.quit if headless else environment.runner.stop)
        return
    if isinstance(environment.runner, MasterRunner):
        environment.runner.send_message(MESSAGE, vars(settings))  # sent before the spawn messages
    _reporter = CompletedReporter(environment, settings.url, queue, shards)


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_: Any) -> None:
    """Count the last completed tasks, then stop what test start started, once no user is left."""
    global _stopper
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    if isinstance(runner, MasterRunner):
        # MasterRunner.quit() fires test_stop before it tells the locust workers to stop their users.
        _stopper = gevent.spawn(_stop_when_no_users, runner)
    else:
        _stop_everything()  # a local runner fires test_stop once its users are stopped


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    """Locust quits before it stops the users (Ctrl-C): stop them first, so they see no Redis going away."""
    if isinstance(environment.runner, WorkerRunner):
        return
    if environment.runner is not None:
        environment.runner.stop()  # fires test_stop, unless stopped already
    _stop_everything()


def _stop_when_no_users(runner: MasterRunner) -> None:
    deadline = time.monotonic() + USERS_STOP_TIMEOUT_S
    while runner.user_count and time.monotonic() < deadline:
        gevent.sleep(0.1)
    _stop_everything()


def _stop_everything() -> None:
    global _cluster, _reporter, _stopper
    if _stopper is not None and _stopper is not gevent.getcurrent():
        stopper, _stopper = _stopper, None
        stopper.join(USERS_STOP_TIMEOUT_S + 1)  # it stops everything, unless killed first
    if _reporter is not None:
        _reporter.stop()
        _reporter = None
    if _cluster is not None:
        _cluster.stop()
        _cluster = None


class CompletedReporter:
    """Reports the tasks finished by all workers as requests ``completed``/``tasks done (all workers)``.

    Every second, on the second, it reads ``Queue.info()`` and fires one request per task done since
    the previous reading, and one failed request per task that raised or that a worker could not
    unpickle, each with ``response_time=None``.

    Why one request per task: locust's requests/s (current and total; console, charts and CSV) is
    then the number of tasks completed per second. One request per second carrying the count as
    ``response_length`` would show 1 request/s and put the rate in "average size", which is neither
    charted nor a rate. Why ``None``: it is locust's "no response time" (as for async requests);
    these requests count towards requests/s but stay out of every response-time statistic, the
    Aggregated row's included, which therefore remain the enqueue and round-trip latencies. (The
    Aggregated requests/s does add them in: read the rows.) Each reading lands in one wall-clock
    second, so a second's rate is the tasks completed in the second before.
    """

    REQUEST_TYPE = "completed"
    NAME = "tasks done (all workers)"
    FAILED = RuntimeError("the task raised (yotaq's 'failed' count)")
    INVALID = RuntimeError("a worker could not rebuild the task (yotaq's 'invalid' count)")

    def __init__(self, environment: Environment, url: str, queue: str, shards: int = 1) -> None:
        self.events = environment.events
        self.client = yotaq.connect(url)
        self.queue = yotaq.Queue(self.client, queue, shards=shards)
        info = self.queue.info()
        self.counts = {None: info.done, self.FAILED: info.failed, self.INVALID: info.invalid}
        self.greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            gevent.sleep(1.02 - time.time() % 1)  # one reading per wall-clock second: locust's rate buckets
            try:
                self.read()
            except Exception:
                logger.exception("cannot read the queue's counts")

    def read(self) -> None:
        info = self.queue.info()
        counts = {None: info.done, self.FAILED: info.failed, self.INVALID: info.invalid}
        fire = self.events.request.fire
        for error, count in counts.items():
            for _ in range(count - self.counts[error]):
                fire(
                    request_type=self.REQUEST_TYPE,
                    name=self.NAME,
                    response_time=None,
                    response_length=0,
                    exception=error,
                    context={},
                )
        self.counts = counts

    def stop(self) -> None:
        """Count what completed since the last reading, then stop reading."""
        self.greenlet.kill()
        try:
            self.read()
        except Exception:
            logger.exception("cannot read the queue's counts")
        self.client.close()


class _YotaqUser(User):
    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        if not settings.url:
            raise StopUser("no Redis for this user: the load test did not start (see above)")
        self.client = yotaq.connect(settings.url)  # redis-py on gevent's sockets: waits let other users run
        self.queue = yotaq.Queue(
            self.client,
            settings.queue,
            secret=os.environ.get("YOTAQ_SECRET") or None,
            shards=settings.shards,
            replicas=settings.replicas,
        )
        self.kind = settings.task
        self.fn = TASKS[self.kind]

    def on_stop(self) -> None:
        self.client.close()

    def report(self, request_type: str, started: float, exception: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type=request_type,
            name=self.kind,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=exception,
            context={},
        )


class EnqueueUser(_YotaqUser):
    """Enqueues as fast as it can; each ``enqueue()`` is one request, ``enqueue``/<task kind>."""

    @task
    def enqueue(self) -> None:
        started = time.perf_counter()
        try:
            self.queue.enqueue(self.fn)
        except Exception as exc:
            self.report("enqueue", started, exc)
        else:
            self.report("enqueue", started, None)


class RoundTripUser(_YotaqUser):
    """Enqueues and waits for the result; each round trip is one request, ``roundtrip``/<task kind>."""

    @task
    def roundtrip(self) -> None:
        started = time.perf_counter()
        try:
            self.queue.enqueue(self.fn).result(timeout=RESULT_TIMEOUT_S)
        except Exception as exc:
            self.report("roundtrip", started, exc)
        else:
            self.report("roundtrip", started, None)

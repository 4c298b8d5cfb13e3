"""The command line's parser: every command and option, and their help (the CLI reference page is made from it)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from .. import __version__
from ..worker import HEARTBEAT_INTERVAL_S, LIVENESS_TIMEOUT_S

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
DEFAULT_QUEUE = "tasks"
EXIT_STATUS = (
    "Every error is one line on standard error, starting 'yotaq: error:'. Exit status: 0 on success; 2 for "
    "a bad setting, a queue Redis holds nothing of, an unknown job or a missing extra; 1 when Redis cannot "
    "be reached or refuses."
)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, its usage errors one line like every other error (the usage is in ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"yotaq: error: {message} (see {self.prog} --help)\n")


def parser(prog: str = "python -m yotaq") -> argparse.ArgumentParser:
    """The parser of ``yotaq`` (the console script) and ``python -m yotaq``, the same command; ``prog`` is
    how its usage lines name it."""
    top = _Parser(
        prog=prog,
        description="Your Own Task Queue. Redis is found at $YOTAQ_REDIS_URL "
        f"(default {DEFAULT_REDIS_URL}); messages are signed and checked with $YOTAQ_SECRET when set.",
        epilog=EXIT_STATUS,
    )
    top.add_argument("--version", action="version", version=f"yotaq {__version__}")
    commands = top.add_subparsers(dest="command", required=True)

    server = commands.add_parser("server", help="run a real redis-server on 127.0.0.1 in the foreground")
    server.add_argument("--port", type=int, default=6379)
    server.add_argument("--dir", type=Path, default=Path(".yotaq"), help="where its append-only file lives")

    def add_queues(command: argparse.ArgumentParser, text: str) -> None:
        command.add_argument("--queue", action="append", dest="queues", metavar="NAME", help=text)

    def add_queue(command: argparse.ArgumentParser) -> None:
        command.add_argument("--queue", default=DEFAULT_QUEUE, metavar="NAME", help="the queue (default %(default)s)")

    worker = commands.add_parser("worker", help="run tasks (what worker.py does)")
    add_queues(worker, "a queue to take tasks from; repeat for several, first has priority (default: tasks)")
    worker.add_argument(
        "--burst", action="store_true",
        help="stop when no task is pending or scheduled; fail at once if Redis cannot be reached",
    )  # fmt: skip
    worker.add_argument(
        "--processes", type=int, default=0, metavar="N",
        help="run N worker processes under a supervisor that restarts them and enforces time limits",
    )  # fmt: skip
    worker.add_argument(
        "--liveness-timeout",
        type=float,
        default=LIVENESS_TIMEOUT_S,
        metavar="S",
        help="a worker silent this long is presumed dead and its tasks requeued (default %(default)s)",
    )
    worker.add_argument(
        "--heartbeat-interval",
        type=float,
        metavar="S",
        help=f"seconds between heartbeats and looks for dead workers (default {HEARTBEAT_INTERVAL_S}, or half "
        "of the liveness timeout if shorter)",
    )
    worker.add_argument(
        "--shards", type=int, default=1, metavar="N",
        help="the queues are sharded N ways, as their producers say (default 1: not sharded)",
    )  # fmt: skip
    worker.add_argument(
        "--concurrency", type=int, default=1, metavar="N",
        help="run up to N async tasks at once on the worker's event loop (default 1)",
    )  # fmt: skip
    worker.add_argument(
        "--threads", type=int, default=1, metavar="N",
        help="run up to N plain functions at once, each in a thread of the worker process (default 1)",
    )  # fmt: skip
    worker.add_argument(
        "--replicas", type=int, default=0, metavar="N",
        help="count an outcome recorded only once N replicas have it (Redis WAIT; default 0)",
    )  # fmt: skip
    worker.add_argument(
        "--hooks", action="append", metavar="MODULE:OBJ",
        help="a yotaq.Hook, or a class or function returning one, to give the worker; repeat for several",
    )  # fmt: skip

    info = commands.add_parser(
        "info", help="pending, scheduled, active, failed and dead counts, event counters, and the workers"
    )
    add_queues(info, "a queue to describe; repeat for several (default: tasks)")
    info.add_argument("--json", action="store_true", help="print JSON, for scripts")

    for kind, text in (("failed", "raised on their last try"), ("dead", "set aside without running")):
        kind_parser = commands.add_parser(
            kind, help=f"list the {kind} tasks ({text}) with their reasons; requeue or purge"
        )
        add_queue(kind_parser)
        action = kind_parser.add_mutually_exclusive_group()
        action.add_argument(
            "--requeue", metavar="JOB_ID", action="append", help=f"put this {kind} task back; repeatable"
        )
        action.add_argument("--requeue-all", action="store_true", help=f"put every {kind} task back on the queue")
        action.add_argument("--purge", action="store_true", help=f"forget every {kind} task for good")

    job = commands.add_parser("job", help="a job's status, and its result or failure when it has one")
    job.add_argument("job_id", metavar="JOB_ID")
    add_queue(job)

    cancel = commands.add_parser("cancel", help="cancel a job: never run if pending, interrupted if running")
    cancel.add_argument("job_id", metavar="JOB_ID")
    add_queue(cancel)

    schedules = commands.add_parser("periodic", help="the periodic schedules with their next run")
    add_queue(schedules)
    schedules.add_argument("--remove", metavar="NAME", help="stop the schedule of this name")

    dashboard = commands.add_parser("dashboard", help="a live web dashboard of the queues (the dashboard extra)")
    dashboard.add_argument("--host", default="127.0.0.1", help="where to listen; beyond loopback needs a token")
    dashboard.add_argument("--port", type=int, default=8080, help="(default %(default)s)")
    dashboard.add_argument("--token", help="required on every request (default: $YOTAQ_DASHBOARD_TOKEN)")
    add_queues(dashboard, "a queue to show; repeat for several (default: every queue found in Redis)")

    metrics = commands.add_parser("metrics", help="Prometheus metrics on /metrics (the metrics extra)")
    metrics.add_argument("--host", default="127.0.0.1", help="where to listen (default %(default)s)")
    metrics.add_argument("--port", type=int, default=9808, help="(default %(default)s)")
    add_queues(metrics, "a queue to report; repeat for several (default: every queue found in Redis)")
    return top

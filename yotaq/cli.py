"""``python -m yotaq server | worker | info | failed | dead | job | cancel | periodic | dashboard |
metrics``: the command line, one of the edges that read the environment."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Literal

from .broker import Broker, QueueKeys, connect
from .broker.connection import Client
from .exceptions import ConfigurationError, JobFailed, YotaqError
from .info import QueueInfo
from .job import Status
from .queue import Queue
from .server import serve
from .supervisor import Supervisor
from .worker import HEARTBEAT_INTERVAL_S, LIVENESS_TIMEOUT_S, Worker

DEFAULT_REDIS_URL = "redis://localhost:6379/0"


def redis_url() -> str:
    return os.environ.get("YOTAQ_REDIS_URL", DEFAULT_REDIS_URL)


def secret() -> str | None:
    return os.environ.get("YOTAQ_SECRET") or None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m yotaq",
        description="Your Own Task Queue. Redis is found at $YOTAQ_REDIS_URL "
        f"(default {DEFAULT_REDIS_URL}); messages are signed and checked with $YOTAQ_SECRET when set.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    server = commands.add_parser("server", help="run a real redis-server on 127.0.0.1 in the foreground")
    server.add_argument("--port", type=int, default=6379)
    server.add_argument("--dir", type=Path, default=Path(".yotaq"), help="where its append-only file lives")

    def add_queues(command: argparse.ArgumentParser, text: str) -> None:
        command.add_argument("--queue", action="append", dest="queues", metavar="NAME", help=text)

    worker = commands.add_parser("worker", help="run tasks (what worker.py does)")
    add_queues(worker, "a queue to take tasks from; repeat for several, first has priority (default: tasks)")
    worker.add_argument("--burst", action="store_true", help="stop when no task is pending or scheduled")
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
        "--replicas", type=int, default=0, metavar="N",
        help="count an outcome recorded only once N replicas have it (Redis WAIT; default 0)",
    )  # fmt: skip

    info = commands.add_parser(
        "info", help="pending, scheduled, active, failed and dead counts, event counters, and the workers"
    )
    add_queues(info, "a queue to describe; repeat for several (default: tasks)")
    info.add_argument("--json", action="store_true", help="print JSON, for scripts")

    for kind, text in (("failed", "raised on their last try"), ("dead", "set aside without running")):
        buried = commands.add_parser(kind, help=f"list the {kind} tasks ({text}) with their reasons; requeue or purge")
        buried.add_argument("--queue", default="tasks")
        action = buried.add_mutually_exclusive_group()
        action.add_argument(
            "--requeue", metavar="JOB_ID", action="append", help=f"put this {kind} task back; repeatable"
        )
        action.add_argument("--requeue-all", action="store_true", help=f"put every {kind} task back on the queue")
        action.add_argument("--purge", action="store_true", help=f"forget every {kind} task for good")

    job = commands.add_parser("job", help="a job's status, and its result or failure when it has one")
    job.add_argument("job_id", metavar="JOB_ID")
    job.add_argument("--queue", default="tasks")

    schedules = commands.add_parser("periodic", help="the periodic schedules with their next run")
    schedules.add_argument("--queue", default="tasks")
    schedules.add_argument("--remove", metavar="NAME", help="stop the schedule of this name")

    cancel = commands.add_parser("cancel", help="cancel a job: never run if pending, interrupted if running")
    cancel.add_argument("job_id", metavar="JOB_ID")
    cancel.add_argument("--queue", default="tasks")

    dashboard = commands.add_parser("dashboard", help="a live web dashboard of the queues (the dashboard extra)")
    dashboard.add_argument("--host", default="127.0.0.1", help="where to listen; beyond loopback needs a token")
    dashboard.add_argument("--port", type=int, default=8080, help="(default %(default)s)")
    dashboard.add_argument("--token", help="required on every request (default: $YOTAQ_DASHBOARD_TOKEN)")
    add_queues(dashboard, "a queue to show; repeat for several (default: every queue found in Redis)")
    metrics = commands.add_parser("metrics", help="Prometheus metrics on /metrics (the metrics extra)")
    metrics.add_argument("--host", default="127.0.0.1", help="where to listen (default %(default)s)")
    metrics.add_argument("--port", type=int, default=9808, help="(default %(default)s)")
    add_queues(metrics, "a queue to report; repeat for several (default: every queue found in Redis)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "server":
            serve(args.port, args.dir)
            return 0
        if args.command == "dashboard":  # the extras are imported here only: the core never needs them
            from . import dashboard

            token = args.token or os.environ.get("YOTAQ_DASHBOARD_TOKEN") or None
            options = {"host": args.host, "port": args.port, "queues": args.queues}
            dashboard.main(redis_url(), **options, token=token, secret=secret())
            return 0
        if args.command == "metrics":
            from . import metrics

            metrics.main(redis_url(), host=args.host, port=args.port, queues=args.queues)
            return 0
        if args.command == "worker" and args.processes:
            _configure_logging()
            options = _worker_options(args)
            Supervisor(redis_url(), args.queues or ["tasks"], args.processes, **options).run()
            return 0
        with connect(redis_url()) as client:
            if args.command == "worker":
                _configure_logging()
                Worker(client, args.queues or ["tasks"], **_worker_options(args)).run()
            elif args.command == "info":
                _info([_queue(client, name) for name in args.queues or ["tasks"]], as_json=args.json)
            elif args.command in ("failed", "dead"):
                _buried(_queue(client, args.queue), args.command, args)
            elif args.command == "job":
                return _job(_queue(client, args.queue), args.job_id)
            elif args.command == "periodic":
                _periodic(_queue(client, args.queue), args.remove)
            elif args.command == "cancel":
                _cancel(_queue(client, args.queue), args.job_id)
    except ConfigurationError as exc:
        return _error(exc, 2)
    except YotaqError as exc:
        return _error(exc, 1)
    return 0


def _queue(client: Client, name: str) -> Queue:
    """The queue ``name``, with as many shards as its producers and workers have recorded."""
    return Queue(client, name, secret=secret(), shards=Broker(client).recorded_shards(QueueKeys(name)))


def _error(exc: Exception, code: int) -> int:
    print(f"yotaq: error: {exc}", file=sys.stderr)
    return code


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _worker_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "secret": secret(),
        "burst": args.burst,
        "liveness_timeout": args.liveness_timeout,
        "heartbeat_interval": args.heartbeat_interval,
        "shards": args.shards,
        "replicas": args.replicas,
        "concurrency": args.concurrency,
    }


def _info(queues: list[Queue], as_json: bool) -> None:
    infos = [queue.info() for queue in queues]
    unknown = [info.queue for info in infos if _never_used(info)]
    if unknown:
        raise ConfigurationError(f"no queue named {', '.join(map(repr, unknown))}: nothing was ever enqueued on it")
    if as_json:
        print(json.dumps([dataclasses.asdict(info) | {"active": info.active} for info in infos], indent=2))
        return
    for info in infos:
        _print_info(info)


def _never_used(info: QueueInfo) -> bool:
    counts = (info.pending, info.scheduled, info.failed, info.dead, info.done, info.retried, info.invalid)
    return not any(counts) and not info.workers and not info.redelivered


def _print_info(info: QueueInfo) -> None:
    print(
        f"queue {info.queue}: {info.pending} pending, {info.scheduled} scheduled, {info.active} active, "
        f"{info.failed} failed, {info.dead} dead ({info.done} done, {info.retried} retries, "
        f"{info.invalid} invalid messages and {info.redelivered} redeliveries so far)"
    )
    for worker in info.workers:
        ago_s = (info.server_time_ms - worker.last_heartbeat_ms) / 1000
        print(f"  worker {worker.id}: {worker.active} active, last heartbeat {ago_s:.1f} s ago")


def _buried(queue: Queue, kind: Literal["failed", "dead"], args: argparse.Namespace) -> None:
    if args.purge:
        print(f"purged {queue.purge(kind)} {kind} task(s) from {queue.name}")
    elif args.requeue_all or args.requeue:
        requeued = queue.requeue(kind, None if args.requeue_all else args.requeue)
        print(f"requeued {requeued} {kind} task(s) on {queue.name}")
        if args.requeue and requeued < len(args.requeue):
            missing = len(args.requeue) - requeued
            raise ConfigurationError(f"{missing} of the given job ids are not {kind} on {queue.name}")
    else:
        jobs = queue.failed_jobs() if kind == "failed" else queue.dead_jobs()
        if not jobs and _never_used(queue.info()):
            raise ConfigurationError(f"no queue named {queue.name!r}: nothing was ever enqueued on it")
        for job in jobs:
            print(f"{job.id}  {job.reason.strip().splitlines()[-1]}")


def _job(queue: Queue, job_id: str) -> int:
    job = queue.job(job_id)
    status = job.status
    if status is Status.NOT_FOUND:
        raise ConfigurationError(f"no job {job_id} on queue {queue.name!r} (never enqueued, or expired)")
    print(f"job {job_id} on {queue.name}: {status}")
    if status is Status.DONE:
        print(f"result: {job.result(timeout=0)!r}")
    elif status in (Status.FAILED, Status.DEAD):
        try:
            job.result(timeout=0)
        except JobFailed as failed:
            print(failed.traceback.rstrip() or f"{failed.type}: {failed.message}")
        except YotaqError:
            pass  # its record outlived its result: the status is all there is
    return 0


def _cancel(queue: Queue, job_id: str) -> None:
    job = queue.job(job_id)
    status = job.status
    if status is Status.NOT_FOUND:
        raise ConfigurationError(f"no job {job_id} on queue {queue.name!r} (never enqueued, or expired)")
    if not job.cancel():
        raise ConfigurationError(f"job {job_id} is {job.status}: there is nothing to cancel")
    running = " (it was running: its worker interrupts it)" if status is Status.ACTIVE else ""
    print(f"cancelled job {job_id} on {queue.name}{running}")


def _periodic(queue: Queue, remove: str | None) -> None:
    if remove is not None:
        if not queue.remove_periodic(remove):
            raise ConfigurationError(f"no periodic schedule {remove!r} on {queue.name}")
        print(f"removed periodic schedule {remove} from {queue.name}")
        return
    for schedule in queue.periodics():
        when = (
            f"every {schedule.every:g} s" if schedule.every is not None else f"cron {schedule.cron!r} ({schedule.tz})"
        )
        next_run = datetime.datetime.fromtimestamp(schedule.next_run_ms / 1000, datetime.UTC).isoformat(
            timespec="seconds"
        )
        state = f"disabled: {schedule.disabled}" if schedule.disabled is not None else f"next {next_run}"
        skipped = f"  skipped {schedule.skipped}" if schedule.skipped else ""
        print(f"{schedule.name}  {when}  {state}{skipped}")

"""``yotaq COMMAND``, or ``python -m yotaq COMMAND``: server | worker | info | failed | dead | job | cancel |
periodic | dashboard | metrics. The command line, one of the edges that read the environment.

Every failure is one line on standard error, ``yotaq: error: ...``, and a non-zero exit (``parser.EXIT_STATUS``).
"""

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

from ..broker import Broker, QueueKeys, connect
from ..broker.connection import Client
from ..exceptions import ConfigurationError, JobFailed, YotaqError
from ..info import QueueInfo
from ..job import Status
from ..producing import Settings
from ..queue import Queue
from ..server import serve
from ..supervisor import Supervisor
from ..worker import Worker
from ..worker.stopping import replace_by_itself
from ..workflows import links_of
from .hooks import load_hooks
from .parser import DEFAULT_QUEUE, DEFAULT_REDIS_URL, parser

# An error is read at a glance, in a terminal, a log line or a CI summary: a longer one is cut short.
MAX_ERROR_CHARS = 300


def redis_url() -> str:
    return os.environ.get("YOTAQ_REDIS_URL", DEFAULT_REDIS_URL)


def secret() -> str | None:
    return os.environ.get("YOTAQ_SECRET") or None


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (``sys.argv[1:]`` by default); its exit status."""
    prog = "yotaq" if Path(sys.argv[0]).name == "yotaq" else "python -m yotaq"  # the console script, or -m
    args = parser(prog).parse_args(argv)
    try:
        return _run(args)
    except ConfigurationError as exc:
        return _error(exc, 2)
    except YotaqError as exc:
        return _error(exc, 1)
    except KeyboardInterrupt:  # Ctrl-C while a command waits (for Redis, say): whoever pressed it knows why
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.command == "server":
        serve(args.port, args.dir)
        return 0
    if args.command == "dashboard":  # the extras are imported here only: the core never needs them
        from .. import dashboard

        token = args.token or os.environ.get("YOTAQ_DASHBOARD_TOKEN") or None
        options = {"host": args.host, "port": args.port, "queues": args.queues}
        dashboard.main(redis_url(), **options, token=token, secret=secret())
        return 0
    if args.command == "metrics":
        try:
            from .. import metrics
        except ImportError as exc:  # its prometheus-client, which the message names
            raise ConfigurationError(
                f"the metrics exporter needs its extra: pip install 'yotaq[metrics]' ({exc})"
            ) from None
        metrics.main(redis_url(), host=args.host, port=args.port, queues=args.queues)
        return 0
    if args.command == "worker":
        queues, options = args.queues or [DEFAULT_QUEUE], _worker_options(args)  # a bad --hooks first
        if args.burst:
            _fail_if_unreachable()
        _configure_logging()
        if args.processes:
            Supervisor(redis_url(), queues, args.processes, **options).run()
            return 0
        replace_by_itself(sys.orig_argv)  # (a task stuck in C past its limit: see exit_replaced)
        with connect(redis_url()) as client:
            Worker(client, queues, **options).run()
        return 0
    with connect(redis_url()) as client:
        if args.command == "info":
            _info(_queues(client, args.queues or [DEFAULT_QUEUE]), as_json=args.json)
            return 0
        [queue] = _queues(client, [args.queue])
        if args.command in ("failed", "dead"):
            _failed_or_dead(queue, args.command, args)
        elif args.command == "job":
            _job(queue, args.job_id)
        elif args.command == "cancel":
            _cancel(queue, args.job_id)
        elif args.command == "periodic":
            _periodic(queue, args.remove)
    return 0


def _queues(client: Client, names: list[str]) -> list[Queue]:
    """The queues ``names``, each with as many shards as its producers and workers have recorded.

    Raises:
        ConfigurationError: Redis holds nothing of one of them (a mistyped name, most likely): said
            before anything is written for it.
    """
    broker, settings = Broker(client), Settings(secret=secret())
    queues = [
        Queue(client, name, settings=dataclasses.replace(settings, shards=broker.recorded_shards(QueueKeys(name))))
        for name in names
    ]
    if unknown := [queue.name for queue in queues if not broker.holds_anything(queue.shards)]:
        raise ConfigurationError(
            f"no queue named {' or '.join(map(repr, unknown))} in Redis: nothing was enqueued, scheduled or run there"
        )
    return queues


def _fail_if_unreachable() -> None:
    """A burst run is a batch job, whose caller wants to hear at once that Redis cannot be reached: it
    gives up as a producer does, where a long-lived worker waits for Redis to come back."""
    with connect(redis_url()) as client:
        broker = Broker(client)
        broker.outage_retry.run(broker.ping)


def _error(exc: Exception, code: int) -> int:
    line = " ".join(f"yotaq: error: {exc}".split())  # one line, whatever the message holds
    if len(line) > MAX_ERROR_CHARS:
        line = line[: MAX_ERROR_CHARS - 3] + "..."
    print(line, file=sys.stderr)
    return code


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _worker_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "settings": Settings(secret=secret(), shards=args.shards, replicas=args.replicas),
        "burst": args.burst,
        "liveness_timeout": args.liveness_timeout,
        "heartbeat_interval": args.heartbeat_interval,
        "concurrency": args.concurrency,
        "threads": args.threads,
        "hooks": load_hooks(args.hooks or []),
    }


def _info(queues: list[Queue], as_json: bool) -> None:
    infos = [queue.info() for queue in queues]
    if as_json:
        print(json.dumps([dataclasses.asdict(info) | {"active": info.active} for info in infos], indent=2))
        return
    for info in infos:
        _print_info(info)


def _print_info(info: QueueInfo) -> None:
    print(
        f"queue {info.queue}: {info.pending} pending, {info.scheduled} scheduled, {info.active} active, "
        f"{info.failed} failed, {info.dead} dead ({info.done} done, {info.retried} retries, "
        f"{info.invalid} invalid messages and {info.redelivered} redeliveries so far)"
    )
    for worker in info.workers:
        ago_s = (info.server_time_ms - worker.last_heartbeat_ms) / 1000
        print(f"  worker {worker.id}: {worker.active} active, last heartbeat {ago_s:.1f} s ago")


def _failed_or_dead(queue: Queue, kind: Literal["failed", "dead"], args: argparse.Namespace) -> None:
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
        if not jobs:
            _none(f"no {kind} jobs on {queue.name}")
        for job in jobs:
            print(f"{job.id}  {job.reason.strip().splitlines()[-1]}")


def _none(what: str) -> None:
    """An empty listing says so, on standard error: what a listing prints on standard output is its items."""
    print(what, file=sys.stderr)


def _job(queue: Queue, job_id: str) -> None:
    job = queue.job(job_id)
    status = job.status
    if status is Status.NOT_FOUND:
        raise ConfigurationError(f"no job {job_id} on queue {queue.name!r} (never enqueued, or expired)")
    print(f"job {job_id} on {queue.name}: {status}")
    links = links_of(queue, job_id)
    if links.parents:
        over = f" ({links.parents_over} of {len(links.parents)} over)"
        print("parents: " + " ".join(f"{parent} ({name})" for name, parent in links.parents) + over)
    if links.dependents:
        print("dependents: " + " ".join(f"{dependent} ({name})" for name, dependent in links.dependents))
    if status is Status.DONE:
        print(f"result: {job.result(timeout=0)!r}")
    elif status in (Status.FAILED, Status.DEAD):
        try:
            job.result(timeout=0)
        except JobFailed as failed:
            print(failed.traceback.rstrip() or f"{failed.type}: {failed.message}")
        except YotaqError:
            pass  # its record outlived its result: the status is all there is


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
    schedules = queue.periodics()
    if not schedules:
        _none(f"no periodic schedules on {queue.name}")
    for schedule in schedules:
        when = (
            f"every {schedule.every:g} s" if schedule.every is not None else f"cron {schedule.cron!r} ({schedule.tz})"
        )
        next_run = datetime.datetime.fromtimestamp(schedule.next_run_ms / 1000, datetime.UTC).isoformat(
            timespec="seconds"
        )
        state = f"disabled: {schedule.disabled}" if schedule.disabled is not None else f"next {next_run}"
        skipped = f"  skipped {schedule.skipped}" if schedule.skipped else ""
        print(f"{schedule.name}  {when}  {state}{skipped}")

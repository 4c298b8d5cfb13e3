"""``python -m yotaq server | worker | info | dead``: the command line, one of the edges that read the environment."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import redis

from .connection import connect
from .exceptions import ConfigurationError, YotaqError
from .queue import Queue, QueueInfo
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
        default=HEARTBEAT_INTERVAL_S,
        metavar="S",
        help="seconds between heartbeats and looks for dead workers (default %(default)s)",
    )

    info = commands.add_parser("info", help="pending, active, done, failed and dead counts, and the workers")
    add_queues(info, "a queue to describe; repeat for several (default: tasks)")
    info.add_argument("--json", action="store_true", help="print JSON, for scripts")

    dead = commands.add_parser("dead", help="list the dead tasks with their reasons; requeue or purge them")
    dead.add_argument("--queue", default="tasks")
    action = dead.add_mutually_exclusive_group()
    action.add_argument("--requeue", metavar="JOB_ID", action="append", help="put this dead task back; repeatable")
    action.add_argument("--requeue-all", action="store_true", help="put every dead task back on the queue")
    action.add_argument("--purge", action="store_true", help="delete every dead task for good")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "server":
            serve(args.port, args.dir)
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
                _info([Queue(client, name) for name in args.queues or ["tasks"]], as_json=args.json)
            elif args.command == "dead":
                _dead(Queue(client, args.queue), args)
    except ConfigurationError as exc:
        print(f"yotaq: error: {exc}", file=sys.stderr)
        return 2
    except (YotaqError, redis.RedisError) as exc:
        print(f"yotaq: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _worker_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "secret": secret(),
        "burst": args.burst,
        "liveness_timeout": args.liveness_timeout,
        "heartbeat_interval": args.heartbeat_interval,
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
        f"queue {info.queue}: {info.pending} pending, {info.active} active, {info.done} done, "
        f"{info.failed} failed, {info.dead} dead ({info.invalid} invalid messages and "
        f"{info.redelivered} redeliveries so far)"
    )
    for worker in info.workers:
        ago_s = (info.server_time_ms - worker.last_heartbeat_ms) / 1000
        print(f"  worker {worker.id}: {worker.active} active, last heartbeat {ago_s:.1f} s ago")


def _dead(queue: Queue, args: argparse.Namespace) -> None:
    if args.purge:
        print(f"purged {queue.purge_dead()} dead task(s) from {queue.name}")
    elif args.requeue_all or args.requeue:
        requeued = queue.requeue_dead(None if args.requeue_all else args.requeue)
        print(f"requeued {requeued} dead task(s) on {queue.name}")
    else:
        for job in queue.dead_jobs():
            print(f"{job.id}  {job.reason.strip().splitlines()[-1]}")

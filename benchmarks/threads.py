"""Plain functions that wait on I/O, in the threads of one worker process: yotaq (``--threads``) next to
dramatiq (``--threads``), huey (``-k thread -w``) and celery (``--pool threads -c``).

    .venv/bin/python benchmarks/threads.py [--tasks 1000] [--threads 1,8,32,100] [--workloads sleep,http]
        [--systems yotaq,dramatiq,huey,celery] [--json benchmarks/results/threads.json]

Two workloads of ``--tasks`` tasks each: ``sleep``, ``time.sleep(0.05)``; ``http``, one HTTP GET (urllib, a
new connection each) of a local server that answers after 20 ms (an asyncio server in a process of its own,
started here, on 127.0.0.1); each task then does ``INCR bench:done``, the counter compare.py's drain polls.
For each workload, thread count and system: the tasks are enqueued first (``fill_sleep``/``fill_http`` of
``peers/drive_<system>.py``), then one worker process is started with that many threads and timed until all
have run: compare.py's ``Bench.drain`` (an emptied Redis, the same counter, the same CPU accounting). Shown:

- tasks/s: from the first finished task to the last (compare.py's steady/s: start-up left out, since a
  process's start is most of a drain of 1,000 sleeps at 100 threads), and that span next to the ideal
  (tasks x 50 ms / threads) for the sleep workload;
- worker RSS: the resident memory of the worker's processes (dramatiq's parent and its worker process; one
  process for the others) when the last task is done;
- CPU per task: user + system CPU of the worker's processes from the first finished task to the last.

The peers run from ``--peer-venv`` (default ``.venv-bench``), yotaq from this script's venv, as in compare.py.
The table goes to stdout, every figure to ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import compare
from compare import Bench, Failed, System

from yotaq.server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "threads.json"
SLEEP_S = 0.05  # the sleep workload's task (peers/*_tasks.py, peers/drive_yotaq.py)
HTTP_DELAY_S = 0.02  # how long the local server takes to answer
WORKLOADS = ("sleep", "http")
SERVER_START_S = 10.0


def systems(threads: int) -> dict[str, System]:
    """Each system with one worker process of ``threads`` threads, its own way."""
    t = str(threads)
    return {
        system.key: system
        for system in [
            System(
                "yotaq", "yotaq", "yotaq", "yotaq",
                lambda py, bin_dir, n: [[py, "-m", "yotaq", "worker", "--threads", t]],
            ),
            System(
                "dramatiq", "dramatiq", "dramatiq", "peers",
                lambda py, bin_dir, n: [[f"{bin_dir}/dramatiq", "dramatiq_tasks", "--processes", "1", "--threads", t]],
            ),
            System(
                "huey", "huey", "huey", "peers",
                lambda py, bin_dir, n: [[f"{bin_dir}/huey_consumer", "huey_tasks.huey", "-k", "thread", "-w", t]],
            ),
            System(
                "celery", "celery", "celery", "peers",
                lambda py, bin_dir, n: [
                    [f"{bin_dir}/celery", "-A", "celery_tasks", "worker", "--pool", "threads", "-c", t]
                ],
            ),
        ]
    }  # fmt: skip


# -- the local HTTP server ---------------------------------------------------------------------------


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(HTTP_DELAY_S)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(port: int) -> None:
    server = await asyncio.start_server(_answer, "127.0.0.1", port, backlog=1024)
    print("serving", flush=True)
    async with server:
        await server.serve_forever()


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], stdout=subprocess.PIPE)
    assert server.stdout is not None
    if server.stdout.readline().strip() != b"serving":
        server.kill()
        raise RuntimeError("the local HTTP server did not start")
    return server, f"http://127.0.0.1:{port}/"


# -- the run -----------------------------------------------------------------------------------------


def measure(bench: Bench, system: System, workload: str, threads: int, tasks: int) -> dict[str, float]:
    answer = bench.drain(system, 1, tasks, fill=f"fill_{workload}")
    span = tasks / answer["steady"]
    figures = {"tasks_s": answer["steady"], "span_s": span, "rss_mb": answer["rss_mb"], "cpu_us": answer["wcpu"]}
    figures["drain_s"] = tasks / answer["rate"]  # start-up included
    if workload == "sleep":
        figures["of_ideal"] = span / (tasks * SLEEP_S / threads)
    return figures


def report(results: dict[str, dict[str, dict[str, dict[str, float] | str]]], args: argparse.Namespace) -> str:
    lines = []
    for workload in args.workloads:
        what = "time.sleep(0.05)" if workload == "sleep" else f"an HTTP GET answered after {HTTP_DELAY_S * 1000:.0f} ms"
        lines += [f"**{args.tasks:,} x {what}**, one worker process", ""]
        lines += [
            "| threads | system | tasks/s | first → last s | / ideal | drain s (with start) | RSS MB | CPU µs/task |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for threads in args.threads:
            for key in args.systems:
                row = results[workload][str(threads)].get(key)
                if isinstance(row, str) or row is None:
                    lines.append(f"| {threads} | {key} | n/a ({row or 'not run'}) | | | | | |")
                    continue
                ideal = f"{row['of_ideal']:.2f}" if "of_ideal" in row else "—"
                lines.append(
                    f"| {threads} | {key} | {row['tasks_s']:,.0f} | {row['span_s']:.2f} | {ideal} | "
                    f"{row['drain_s']:.2f} | {row['rss_mb']:.0f} | {row['cpu_us']:,.0f} |"
                )
        lines.append("")
    lines.append(
        f"{datetime.date.today().isoformat()}; {os.cpu_count()} cores, {compare.cpu_model()}; "
        f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000)
    parser.add_argument("--threads", type=lambda text: [int(n) for n in text.split(",")], default=[1, 8, 32, 100])
    parser.add_argument("--workloads", type=lambda text: text.split(","), default=list(WORKLOADS))
    parser.add_argument("--systems", type=lambda text: text.split(","), default=list(systems(1)))
    parser.add_argument("--peer-venv", type=Path, default=ROOT / ".venv-bench")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the HTTP server's own process
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return
    server, url = start_server()
    os.environ["BENCH_HTTP_URL"] = url  # the workers' environment is this one's (Bench.env)
    results: dict[str, dict[str, dict[str, dict[str, float] | str]]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="yotaq-threads-") as tmp, EmbeddedRedis(Path(tmp) / "redis") as redis:
            bench = Bench(redis.url, Path(tmp), args.peer_venv)
            # this tree's yotaq, for its workers and its driver, before the venv's install
            bench.env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(compare.PEERS)])
            for workload in args.workloads:
                for threads in args.threads:
                    row = results.setdefault(workload, {}).setdefault(str(threads), {})
                    for key in args.systems:
                        system = systems(threads)[key]
                        print(f"{workload}, {threads} threads, {key}:", end=" ", file=sys.stderr, flush=True)
                        started = time.monotonic()
                        try:
                            row[key] = measure(bench, system, workload, threads, args.tasks)
                        except Failed as exc:
                            row[key] = str(exc)
                        print(f"{row[key]} ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
            bench.redis.close()
    finally:
        server.kill()
        server.wait()
    print(report(results, args))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    document = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), "tasks": args.tasks}
    args.json.write_text(json.dumps({**document, "results": results}, indent=2) + "\n")
    print(f"the run's numbers: {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()

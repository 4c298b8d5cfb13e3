"""Idle fleets of workers: what they cost Redis, yotaq next to rq, huey, dramatiq, celery and arq at their defaults.

    .venv/bin/python benchmarks/fleet.py [--fleets 10,50,200] [--queues 1,3,10] [--systems yotaq,rq,...]
                                         [--window-s 20] [--settle-s 10] [--tasks 20000 | --no-drain]
    .venv/bin/python benchmarks/fleet.py --fleets 5 --queues 1,3 --window-s 5 --no-drain --systems yotaq,rq

Issue 27, "Fleet cost". For every fleet size N (``--fleets``), number of queues Q (``--queues``) and system
(``--systems``), on one local Redis (loopback, a free port), emptied and its append-only file rewritten before
each fleet (driver.py's ``flush``):

1. N workers are started, each as one would start it on a host of its own, serving all Q queues (``q1`` ...)
   the system's own way; ``--start-batch`` at a time, each batch waited for until every worker in it (a
   process of its tree) holds a TCP connection to Redis's port (``/proc/net/tcp`` and the processes'
   sockets), with ``--min-free-mib`` of memory still available before each batch;
2. after ``--settle-s`` (the workers' own start-up past their first connection), over ``--window-s``:
   Redis commands/s (``INFO commandstats`` calls, less the INFOs that are the harness's only commands in
   the window), Redis CPU (``INFO cpu`` used_cpu_sys + used_cpu_user, in % of one core), the clients
   connected (``INFO clients``, less the harness's own), the workers' CPU (``/proc/<pid>/stat``, every
   process of their trees, driver.py's ``Workers.cpu_s``), and at the window's end their total RSS and
   PSS (``VmRSS`` of ``/proc/<pid>/status``, ``Pss`` of ``/proc/<pid>/smaps_rollup``, every process of
   their trees: RSS counts pages that forked processes share once per process, PSS shares them out);
3. unless ``--no-drain``: the same fleet drains ``--tasks`` no-op tasks (each does ``INCR bench:done``, as in
   compare.py), queued first as compare.py's are: the fleet is paused (SIGSTOP to every process of its trees,
   by PID) while the system's driver (``peers/drive_<system>.py fill_queues``) enqueues them over the Q queues
   in turns of 100, through its bulk API where it has one; then resumed (SIGCONT), and timed from there to the
   poll (every 10 ms) that sees them all done. ``--live-enqueue`` enqueues them while the fleet runs instead,
   timed from the enqueue's first call: a drain that its enqueue then bounds is marked in the table;
4. the fleet is stopped (SIGTERM by PID, SIGKILL by PID after 20 s for whatever of its trees is left).

What a "worker" is, per system (a fleet of N is N of these; every one at the system's defaults but for the
settings named):

- yotaq: ``python -m yotaq worker --queue q1 --queue q2 ...`` (one process; the first queue has priority);
- rq: ``rq worker q1 q2 ...`` (one process, which forks a work horse per job);
- huey: ``huey_consumer fleet_huey.q1`` (one worker thread). A huey instance is one queue and a consumer
  serves one instance: huey cannot serve several queues in one worker, so its fleet of N on Q queues is N x Q
  consumers, one per queue (``peers/fleet_huey.py``), and the table says so;
- dramatiq: ``dramatiq fleet_dramatiq --processes 1 --queues q1 q2 ...`` (one worker process of 8 threads
  under dramatiq's main process; the default is 2 worker processes); each queue has a delay queue that it
  consumes too, as dramatiq does;
- celery: ``celery -A celery_tasks worker --concurrency 1 -n wI@%h -Q q1,q2,...`` (the main process, which
  consumes, and one prefork pool process; the default is one per core); ``-n``, a node name of its own per
  worker, as each would have on a host of its own;
- arq: ``arq fleet_arq.q1``: an arq worker takes jobs from one queue (``queue_name``), so, as for huey, N x Q
  workers, one per queue.

The table goes to stdout, the numbers (per command too) to ``--json`` (default
``benchmarks/results/fleet.json``), the chart of Redis commands/s against fleet size (benchmarks/charts.py's
``draw_fleet``) to ``--chart`` (default ``docs/img/bench-fleet.png``). Everything runs on 127.0.0.1 and stops by
itself; every process it starts is stopped by PID, on an error, SIGTERM or Ctrl-C too.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import charts
import driver
from driver import DONE_KEY, PEERS, POLL_S, ROOT, Failed

import yotaq

RESULTS = driver.RESULTS / "fleet.json"
CHART = ROOT / "docs" / "img" / "bench-fleet.png"
UP_POLL_S = 0.2  # how often the start-up looks for the workers' connections
HOLD_POLL_S = 0.25  # how often a settle or a window looks for workers that exited
PAUSE_TIMEOUT_S = 10.0  # how long the fleet's processes may take to stop on SIGSTOP
FILL_TIMEOUT_S = 60.0  # how long the enqueue may go on once every task has run (it has returned by then)

# (python, bin dir of its venv, the fleet's queues, the worker's index in the fleet) -> its command lines
Member = Callable[[str, str, list[str], int], list[list[str]]]


@dataclass
class FleetSystem:
    """One system: its driver and venv (as compare.py's ``System``, for ``Bench.drive``) and its worker."""

    key: str
    name: str
    driver: str
    venv: str  # "yotaq" or "peers"
    member: Member  # the commands of one worker of the fleet: one, or one per queue
    per_queue: bool = False  # a worker serves one queue: a fleet of N on Q queues is N x Q workers
    how: str = ""  # how a worker serves several queues, for the output
    version: str = ""


def systems() -> dict[str, FleetSystem]:
    return {
        system.key: system
        for system in [
            FleetSystem(
                "yotaq",
                "yotaq",
                "yotaq",
                "yotaq",
                lambda python, bin_dir, queues, i: [
                    [python, "-m", "yotaq", "worker", *(arg for queue in queues for arg in ("--queue", queue))]
                ],
                how="one worker, `--queue` repeated",
            ),
            FleetSystem(
                "rq",
                "rq",
                "rq",
                "peers",
                lambda python, bin_dir, queues, i: [[f"{bin_dir}/rq", "worker", *queues]],
                how="one worker, the queues as arguments",
            ),
            FleetSystem(
                "huey",
                "huey",
                "huey",
                "peers",
                lambda python, bin_dir, queues, i: [[f"{bin_dir}/huey_consumer", f"fleet_huey.{q}"] for q in queues],
                per_queue=True,
                how="a consumer serves one huey instance, which is one queue: one consumer per queue",
            ),
            FleetSystem(
                "dramatiq",
                "dramatiq",
                "dramatiq",
                "peers",
                lambda python, bin_dir, queues, i: [
                    [f"{bin_dir}/dramatiq", "fleet_dramatiq", "--processes", "1", "--queues", *queues]
                ],
                how="one worker, an actor declared on each queue, `--queues`",
            ),
            FleetSystem(
                "celery",
                "celery",
                "celery",
                "peers",
                lambda python, bin_dir, queues, i: [
                    [
                        f"{bin_dir}/celery",
                        "-A",
                        "celery_tasks",
                        "worker",
                        "--concurrency",
                        "1",
                        "-n",
                        f"w{i}@%h",
                        "-Q",
                        ",".join(queues),
                    ]
                ],
                how="one worker, `-Q q1,q2,...`",
            ),
            FleetSystem(
                "arq",
                "arq",
                "arq",
                "peers",
                lambda python, bin_dir, queues, i: [[f"{bin_dir}/arq", f"fleet_arq.{q}"] for q in queues],
                per_queue=True,
                how="a worker takes jobs from one queue (`queue_name`): one worker per queue",
            ),
        ]
    }


# -- signals ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM are noted inside and acted on after: a process started is always on the list of
    those to stop, and a stop is never cut short."""
    caught: list[int] = []
    previous = {number: signal.signal(number, lambda number, frame: caught.append(number)) for number in SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if caught:
            if caught[0] == signal.SIGINT:
                raise KeyboardInterrupt
            sys.exit(128 + caught[0])


SIGNALS = (signal.SIGINT, signal.SIGTERM)


# -- the fleet's processes -------------------------------------------------------------------------------


def available_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


def redis_sockets(port: int) -> set[int]:
    """The inodes of the established TCP connections to ``port`` on this machine (the clients' ends)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
                inodes.add(int(fields[9]))
    return inodes


def socket_inodes(pid: int) -> set[int]:
    found = set()
    try:
        for fd in os.scandir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(fd.path)
                if target.startswith("socket:["):
                    found.add(int(target[8:-1]))
    except OSError:
        pass
    return found


class Fleet(driver.Workers):
    """A fleet's worker processes (driver.py's ``Workers``: stopped together, with all they started), started
    in batches, each batch waited for until every worker holds a connection to Redis."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        super().__init__([], env, cwd, log)
        self.connected: set[int] = set()
        self.paused: dict[int, str] = {}  # pid: start time, of the processes pause() stopped

    def launch(self, commands: list[list[str]], port: int, batch: int, timeout_s: float, min_free_mib: int) -> float:
        """Start every command, ``batch`` at a time; the seconds until the last one connected to Redis."""
        started = time.monotonic()
        for first in range(0, len(commands), batch):
            free = available_mib()
            if free < min_free_mib:
                raise Failed(
                    f"{free:,} MiB of memory left after {first} of {len(commands)} workers, "
                    f"under --min-free-mib {min_free_mib:,}"
                )
            for command in commands[first : first + batch]:
                with signals_deferred():
                    self.start(command)
            self.wait_connected(port, time.monotonic() + timeout_s)
        return time.monotonic() - started

    def wait_connected(self, port: int, deadline: float) -> None:
        while True:
            self.check()
            waiting = [process for process in self.processes if process.pid not in self.connected]
            if not waiting:
                return
            sockets = redis_sockets(port)
            table = driver.processes()
            for process in waiting:
                tree = [process.pid, *driver.descendants(process.pid, table)]
                if any(socket_inodes(pid) & sockets for pid in tree):
                    self.connected.add(process.pid)
            if time.monotonic() > deadline and len(self.connected) < len(self.processes):
                missing = len(self.processes) - len(self.connected)
                raise Failed(f"{missing} of {len(self.processes)} workers not connected to Redis in time")
            time.sleep(UP_POLL_S)

    def check(self) -> None:
        exited = self.exited()
        if exited:
            raise Failed(f"{len(exited)} of {len(self.processes)} workers exited: {self.tail()}")

    def hold(self, seconds: float) -> None:
        """Wait ``seconds``, looking now and then (not at Redis) for a worker that exited."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.check()
            time.sleep(min(HOLD_POLL_S, left))
        self.check()

    def memory(self) -> dict[str, float]:
        """Every process of the fleet: how many, their total RSS and PSS in MiB."""
        pids = self.pids()
        return {
            "processes": len(pids),
            "rss_mib": sum(driver.status_kib(pid, "VmRSS:") for pid in pids) / 1024,
            "pss_mib": sum(driver.status_kib(pid, "Pss:", "smaps_rollup") for pid in pids) / 1024,
        }

    def pause(self) -> None:
        """SIGSTOP every process of the fleet, by PID (its start time checked), and wait until each has stopped:
        none takes a task meanwhile. ``resume`` (and ``stop``) SIGCONTs them."""
        with signals_deferred():
            table = driver.processes()
            self.paused = {pid: table[pid][1] for pid in self.pids(table)}
            for pid, started in self.paused.items():
                if driver.alive(pid, started):
                    os.kill(pid, signal.SIGSTOP)
        deadline = time.monotonic() + PAUSE_TIMEOUT_S
        while any((fields := driver.proc_fields(pid)) is not None and fields[0] not in "Tt" for pid in self.paused):
            if time.monotonic() > deadline:
                raise Failed(f"the fleet's processes did not stop within {PAUSE_TIMEOUT_S:.0f} s of SIGSTOP")
            time.sleep(0.01)

    def resume(self) -> None:
        with signals_deferred():
            for pid, started in self.paused.items():
                if driver.alive(pid, started):
                    os.kill(pid, signal.SIGCONT)
            self.paused = {}

    def stop(self) -> None:
        with signals_deferred():
            self.resume()  # a stopped process would not act on SIGTERM
            super().stop()


# -- measurements -------------------------------------------------------------------------------------------


def idle(bench: driver.Bench, fleet: Fleet, window_s: float) -> dict[str, Any]:
    """What the idle fleet costs over ``window_s``: the harness sends Redis only INFO meanwhile, which the
    counts leave out."""
    calls_before, cpu_before, workers_before = bench.command_calls(), bench.redis_cpu_s(), fleet.cpu_s()
    start = time.monotonic()
    fleet.hold(window_s)
    seconds = time.monotonic() - start
    workers_after, cpu_after, calls_after = fleet.cpu_s(), bench.redis_cpu_s(), bench.command_calls()
    clients = bench.redis.info("clients")
    by_command = {
        name: (calls - calls_before.get(name, 0)) / seconds
        for name, calls in sorted(calls_after.items(), key=lambda item: calls_before.get(item[0], 0) - item[1])
        if calls > calls_before.get(name, 0)
    }
    return {
        "window_s": seconds,
        "commands_per_s": sum(by_command.values()),
        "redis_cpu_pct": 100 * (cpu_after - cpu_before) / seconds,
        "worker_cpu_pct": 100 * (workers_after - workers_before) / seconds,
        "clients": int(clients["connected_clients"]) - 1,  # less this harness's connection
        "blocked_clients": int(clients["blocked_clients"]),
        **fleet.memory(),
        "by_command": by_command,
    }


def drain(
    bench: driver.Bench, system: FleetSystem, fleet: Fleet, env: dict[str, str], n: int, live: bool = False
) -> dict[str, float]:
    """The fleet drains ``n`` tasks. Queued first, as compare.py's drain: the fleet is paused (SIGSTOP) while the
    driver enqueues them, and timed from its resumption (SIGCONT) to the poll that sees them all done. With
    ``live``, the running fleet takes them while the driver enqueues, timed from the enqueue's first call."""
    if bench.redis.get(DONE_KEY) is not None:
        raise Failed("something ran tasks before the drain")
    out, err = bench.work / f"fill-{system.key}.out", bench.work / f"fill-{system.key}.err"
    command = [bench.pythons[system.venv], str(PEERS / f"drive_{system.driver}.py"), "fill_queues", str(n)]
    timeout = 60 + n / 25
    if not live:
        fleet.pause()
    try:
        with out.open("wb") as stdout, err.open("wb") as stderr, signals_deferred():
            filler = subprocess.Popen(
                command, env=env, cwd=bench.work, stdout=stdout, stderr=stderr, start_new_session=True
            )
        try:
            if not live:
                filler.wait(timeout)
                if filler.returncode != 0:
                    raise Failed(f"the enqueue failed: {_last_line(err)}")
                if bench.redis.get(DONE_KEY) is not None:
                    raise Failed("tasks ran while the fleet was paused")
                resumed = time.monotonic()
                fleet.resume()
            started = time.monotonic()
            first = None
            while True:
                done = int(bench.redis.get(DONE_KEY) or 0)
                now = time.monotonic()
                if first is None and done > 0:
                    first = now
                if done >= n:
                    break
                if filler.poll() not in (None, 0):
                    raise Failed(f"the enqueue failed: {_last_line(err)}")
                if now - started > timeout:
                    raise Failed(f"{done:,}/{n:,} done after {timeout:.0f} s")
                fleet.check()
                time.sleep(POLL_S)
            filler.wait(FILL_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise Failed(f"the enqueue did not return within {timeout if not live else FILL_TIMEOUT_S:.0f} s") from exc
        finally:
            if filler.poll() is None:
                filler.kill()
                filler.wait()
    finally:
        fleet.resume()
    if filler.returncode != 0:
        raise Failed(f"the enqueue failed: {_last_line(err)}")
    answer = json.loads(out.read_text().strip().splitlines()[-1])
    if "na" in answer:
        raise Failed(answer["na"])
    done = int(bench.redis.get(DONE_KEY) or 0)
    if done != n:
        print(f"  note: {system.name} ran {done} tasks for {n} enqueued", file=sys.stderr)
    since = answer["start"] if live else resumed
    return {
        "rate": n / (now - since),
        "enqueue_s": answer["end"] - answer["start"],
        "drain_s": now - since,
        "first_s": (first or now) - since,
    }


def _last_line(path: Path) -> str:
    lines = path.read_text(errors="replace").strip().splitlines()
    return lines[-1][:200] if lines else "no output"


def fleet_env(bench: driver.Bench, system: FleetSystem, queues: list[str]) -> dict[str, str]:
    env = {**bench.env, "BENCH_FLEET_QUEUES": ",".join(queues)}
    if system.venv == "yotaq":  # the yotaq this harness imported (this tree's), not another the venv may point at
        env["PYTHONPATH"] = os.pathsep.join([str(Path(yotaq.__file__).resolve().parent.parent), str(PEERS)])
    return env


def measure(
    bench: driver.Bench, port: int, system: FleetSystem, size: int, queues: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """One fleet: started, measured idle, then draining (unless --no-drain), stopped; failures in ``errors``."""
    python = bench.pythons[system.venv]
    commands = [command for i in range(size) for command in system.member(python, str(Path(python).parent), queues, i)]
    entry: dict[str, Any] = {
        "system": system.key,
        "fleet": size,
        "queues": len(queues),
        "workers": len(commands),
        "errors": {},
    }
    label = f"  {system.name}, {size} x {len(queues)} queue(s)"
    if len(commands) > args.max_workers:
        entry["errors"]["idle"] = f"{len(commands)} workers, over --max-workers {args.max_workers}"
        print(f"{label}: skipped, {entry['errors']['idle']}", file=sys.stderr)
        return entry
    print(f"{label}: starting {len(commands)} workers", end="", file=sys.stderr, flush=True)
    bench.flush()
    env = fleet_env(bench, system, queues)
    fleet = Fleet(env, bench.work, bench.work / f"{system.key}-{size}x{len(queues)}.log")
    try:
        try:
            entry["up_s"] = fleet.launch(commands, port, args.start_batch, args.start_timeout_s, args.min_free_mib)
            print(f", up in {entry['up_s']:.1f} s", end="", file=sys.stderr, flush=True)
            fleet.hold(args.settle_s)
            entry["idle"] = found = idle(bench, fleet, args.window_s)
            print(
                f"; idle: {found['commands_per_s']:,.1f} commands/s, Redis CPU {found['redis_cpu_pct']:.2f}%, "
                f"{found['clients']} clients, {found['processes']} processes, RSS {found['rss_mib']:,.0f} MiB",
                end="",
                file=sys.stderr,
                flush=True,
            )
        except Failed as exc:
            entry["errors"]["idle"] = str(exc)
            print(f"; failed: {exc}", file=sys.stderr)
            return entry
        if args.tasks:
            try:
                entry["drain"] = drained = drain(bench, system, fleet, env, args.tasks, args.live_enqueue)
                print(
                    f"; drain {drained['rate']:,.0f}/s (enqueued in {drained['enqueue_s']:.1f} s, drained in "
                    f"{drained['drain_s']:.1f} s)",
                    end="",
                    file=sys.stderr,
                )
            except Failed as exc:
                entry["errors"]["drain"] = str(exc)
                print(f"; drain failed: {exc}", end="", file=sys.stderr)
        print(file=sys.stderr)
    finally:
        fleet.stop()
    return entry


# -- main -----------------------------------------------------------------------------------------------------


def document_of(
    args: argparse.Namespace, rows: dict[str, FleetSystem], fleets: list[dict[str, Any]], redis_version: str
) -> dict[str, Any]:
    return {
        **driver.header(redis=redis_version),
        "venvs": {
            "yotaq": driver.venv_info(sys.executable),
            "peers": driver.venv_info(str(args.peer_venv / "bin" / "python")),
        },
        "settings": {
            "fleets": args.fleets,
            "queues": args.queues,
            "window_s": args.window_s,
            "settle_s": args.settle_s,
            "tasks": args.tasks,
            "enqueue": "live" if args.live_enqueue else "paused",
            "start_batch": args.start_batch,
        },
        "systems": [
            {"key": s.key, "name": s.name, "version": s.version, "per_queue": s.per_queue, "how": s.how}
            for s in rows.values()
        ],
        "fleets": fleets,
    }


def main() -> None:
    all_systems = systems()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleets", type=driver.numbers, default=[10, 50, 200], help="fleet sizes, workers (10,50,200)")
    parser.add_argument("--queues", type=driver.numbers, default=[1, 3, 10], help="queues each worker serves (1,3,10)")
    parser.add_argument(
        "--systems",
        type=driver.names,
        default=list(all_systems),
        help="comma-separated, from: " + ", ".join(all_systems),
    )
    parser.add_argument("--window-s", type=float, default=20.0, help="the idle measurement's window (20)")
    parser.add_argument("--settle-s", type=float, default=10.0, help="the wait after the last worker is up (10)")
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks the fleet drains after the window (20,000)")
    parser.add_argument("--no-drain", action="store_true", help="measure the idle fleets only")
    parser.add_argument(
        "--live-enqueue",
        action="store_true",
        help="enqueue the drain's tasks while the fleet runs, not while it is paused (timed from the enqueue's start)",
    )
    parser.add_argument("--start-batch", type=int, default=10, help="workers started at a time (10)")
    parser.add_argument("--start-timeout-s", type=float, default=180.0, help="how long a batch may take to connect")
    parser.add_argument("--max-workers", type=int, default=600, help="a fleet of more workers is skipped (600)")
    parser.add_argument(
        "--min-free-mib", type=int, default=3072, help="stop a fleet that leaves less memory available (3072)"
    )
    parser.add_argument("--peer-venv", type=Path, default=ROOT / ".venv-bench")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where the numbers go ({RESULTS})")
    parser.add_argument("--chart", type=Path, default=CHART, help=f"where the chart goes ({CHART}); '' for none")
    args = parser.parse_args()
    if args.no_drain:
        args.tasks = 0
    driver.known(parser, args.systems, all_systems, "systems")
    if args.window_s <= 0 or args.settle_s < 0 or args.tasks < 0 or args.start_batch < 1:
        parser.error("--window-s must be above 0, --settle-s and --tasks not below 0, --start-batch at least 1")
    rows = {name: all_systems[name] for name in args.systems}
    driver.stop_on_signals()
    compileall.compile_dir(Path(yotaq.__file__).parent, quiet=1)  # as compare.py: the workers write no bytecode
    fleets: list[dict[str, Any]] = []
    with driver.local_redis("yotaq-fleet-") as (tmp, server):
        bench = driver.Bench(server.url, tmp, args.peer_venv)
        redis_version = bench.redis.info("server")["redis_version"]
        for system in rows.values():
            try:
                system.version = bench.drive(system, "version")["version"]  # type: ignore[arg-type]
            except Failed as exc:
                print(f"  {system.name} cannot run: {exc}", file=sys.stderr)
        for size in args.fleets:
            for count in args.queues:
                queues = [f"q{i}" for i in range(1, count + 1)]
                for system in rows.values():
                    if not system.version:
                        fleets.append(
                            {"system": system.key, "fleet": size, "queues": count, "errors": {"idle": "cannot run"}}
                        )
                        continue
                    fleets.append(measure(bench, server.port, system, size, queues, args))
        bench.redis.close()
    document = document_of(args, rows, fleets, redis_version)
    print(charts.fleet_table(document))
    driver.write_json(args.json, document)
    print(f"the run's numbers: {args.json}", file=sys.stderr)
    if str(args.chart) not in ("", "."):
        try:
            charts.draw_fleet(document, args.chart)
            print(f"the chart: {args.chart}", file=sys.stderr)
        except ImportError:
            print("no chart: matplotlib is not installed (the docs extra)", file=sys.stderr)


if __name__ == "__main__":
    driver.run(main)

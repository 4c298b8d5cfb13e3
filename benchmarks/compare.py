"""yotaq next to rq, huey, dramatiq, celery and arq: the same workload on one local Redis, each at its defaults.

    .venv/bin/python benchmarks/compare.py [--tasks 20000] [--runs 3] [--systems yotaq,rq,...]
    .venv/bin/python benchmarks/compare.py --tasks 1000 --runs 1          # a quick look

yotaq runs from the venv that runs this script; the peers run from another one (``--peer-venv``,
default ``.venv-bench``: ``pip install rq huey 'dramatiq[redis]' 'celery[redis]' arq redis``), since
their pins may clash with yotaq's. For each system a driver, ``peers/drive_<system>.py``, enqueues
and waits under the right venv and prints JSON; this script starts the Redis (loopback, a free port)
and the workers, times the drains, and prints one markdown table. Measured, each the median of
``--runs`` runs, on an emptied Redis (FLUSHALL) each time:

- single enqueue/s: ``--single`` tasks, one enqueue call each;
- bulk enqueue/s: ``--tasks`` tasks through the bulk API, where there is one;
- drain/s: ``--tasks`` no-op tasks enqueued first, then timed from starting ``--procs`` worker processes
  until every task has run (each does ``INCR bench:done``; polled every 10 ms), start-up included;
- latency: with one idle worker, enqueue a task that does ``RPUSH bench:signal`` and wait for it there
  (``BLPOP``), ``--samples`` times: the same measure for every system;
- result: the same through the system's own result API at its defaults (``--result-samples`` times).

Every process it starts is stopped (SIGTERM, then SIGKILL by PID after 20 s, its children too).
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

import yotaq
from yotaq.server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(__file__).resolve().parent / "peers"
DONE_KEY = "bench:done"
POLL_S = 0.01
REWRITE_ATTEMPTS = 5
STOP_TIMEOUT_S = 20.0
DRIVER_TIMEOUT_S = 900.0

Commands = Callable[[str, str, int], list[list[str]]]  # (python, bin dir, processes) -> worker command lines


@dataclass
class System:
    """One row: which driver and venv, and how its workers are started."""

    key: str  # for --systems
    name: str  # in the table
    driver: str
    venv: str  # "yotaq" or "peers"
    drain_workers: Commands  # N worker processes, the system's own way
    idle_worker: Commands | None = None  # the one idle worker of the latency measurements; default: N = 1
    enqueue_as: str | None = None  # measure no enqueue: the row shares these columns with that system
    results: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    version: str = ""


def _rq(worker_class: list[str]) -> Commands:
    return lambda python, bin_dir, n: [[f"{bin_dir}/rq", "worker", *worker_class] for _ in range(n)]


def systems() -> dict[str, System]:
    return {
        system.key: system
        for system in [
            System(
                "yotaq",
                "yotaq",
                "yotaq",
                "yotaq",
                lambda python, bin_dir, n: [[python, "-m", "yotaq", "worker", "--processes", str(n)]],
                lambda python, bin_dir, n: [[python, "-m", "yotaq", "worker"]],
            ),
            System("rq", "rq", "rq", "peers", _rq([])),
            System(
                "rq-simple",
                "rq (SimpleWorker)",
                "rq",
                "peers",
                _rq(["--worker-class", "rq.SimpleWorker"]),
                enqueue_as="rq",
            ),
            System(
                "huey",
                "huey",
                "huey",
                "peers",
                lambda python, bin_dir, n: [
                    [f"{bin_dir}/huey_consumer", "huey_tasks.huey", "-k", "process", "-w", str(n)]
                ],
                lambda python, bin_dir, n: [[f"{bin_dir}/huey_consumer", "huey_tasks.huey"]],
            ),
            System(
                "dramatiq",
                "dramatiq",
                "dramatiq",
                "peers",
                lambda python, bin_dir, n: [[f"{bin_dir}/dramatiq", "dramatiq_tasks", "--processes", str(n)]],
            ),
            System(
                "celery",
                "celery",
                "celery",
                "peers",
                lambda python, bin_dir, n: [
                    [f"{bin_dir}/celery", "-A", "celery_tasks", "worker", "--concurrency", str(n)]
                ],
            ),
            System(
                "arq",
                "arq",
                "arq",
                "peers",
                lambda python, bin_dir, n: [[f"{bin_dir}/arq", "arq_tasks.WorkerSettings"] for _ in range(n)],
            ),
        ]
    }


@dataclass
class Floors:
    """What the same work costs with no queue at all, measured with yotaq's row (each a list of runs)."""

    enqueue: list[float] = field(default_factory=list)  # a bare RPUSH loop, per second
    enqueue_ratio: list[float] = field(default_factory=list)  # yotaq's single enqueue rate / that, interleaved
    latency: list[float] = field(default_factory=list)  # p50 ms with a bare BLPOP-then-RPUSH worker


class Failed(Exception):
    """A measurement that could not be made; its message goes into the table as ``n/a (message)``."""


# -- processes ---------------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a live process, from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[19]


def _descendants(root: int) -> dict[int, str]:
    """Every live descendant of ``root``, with its start time (so a reused pid is not mistaken for it)."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = stat
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        for child, (parent, started) in parents.items():
            if parent == pid and child not in found:
                found[child] = started
                frontier.append(child)
    return found


class Workers:
    """Worker processes started together and stopped together, with everything they started."""

    def __init__(self, commands: list[list[str]], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log
        self.processes: list[subprocess.Popen[bytes]] = []
        with log.open("ab") as out:
            for command in commands:
                self.processes.append(
                    subprocess.Popen(
                        command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )

    def all_exited(self) -> bool:
        return all(process.poll() is not None for process in self.processes)

    def stop(self) -> None:
        """SIGTERM each one (each stops its own children), then SIGKILL whatever is left after a while."""
        tree: dict[int, str] = {}
        for process in self.processes:
            tree.update(_descendants(process.pid))
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                tree.update(_descendants(process.pid))
                process.kill()
                process.wait()
        while time.monotonic() < deadline and any(_alive(pid, started) for pid, started in tree.items()):
            time.sleep(0.05)
        for pid, started in tree.items():
            if _alive(pid, started):
                os.kill(pid, signal.SIGKILL)

    def tail(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines()
        return lines[-1][:200] if lines else "no output"


def _alive(pid: int, started: str) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] == started


# -- measurements ------------------------------------------------------------------------------------


class Bench:
    def __init__(self, url: str, work: Path, peer_venv: Path) -> None:
        self.url = url
        self.work = work
        self.redis = redis.Redis.from_url(url)
        self.pythons = {"yotaq": sys.executable, "peers": str(peer_venv / "bin" / "python")}
        self.env = dict(
            os.environ,
            BENCH_REDIS_URL=url,
            YOTAQ_REDIS_URL=url,
            # yotaq runs with every guarantee on: signed messages and results, results stored
            YOTAQ_SECRET="benchmark-secret",
            RQ_REDIS_URL=url,
            PYTHONPATH=str(PEERS),
            PYTHONDONTWRITEBYTECODE="1",
        )

    def drive(self, system: System, command: str, n: int = 0) -> dict:
        """Run ``peers/drive_<driver>.py command n`` under the system's venv and return its JSON answer."""
        python = self.pythons[system.venv]
        if not Path(python).exists():
            raise Failed(f"no {python}")
        try:
            done = subprocess.run(
                [python, str(PEERS / f"drive_{system.driver}.py"), command, str(n)],
                env=self.env,
                cwd=self.work,
                capture_output=True,
                text=True,
                timeout=DRIVER_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            raise Failed(f"{command} took over {DRIVER_TIMEOUT_S:.0f} s") from exc
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["no output"]
            raise Failed(lines[-1][:160])
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        if "na" in answer:
            raise Failed(answer["na"])
        return answer

    def workers(self, system: System, commands: Commands, n: int, label: str) -> Workers:
        python = self.pythons[system.venv]
        log = self.work / f"{system.key}-{label}.log"
        return Workers(commands(python, str(Path(python).parent), n), self.env, self.work, log)

    def flush(self) -> None:
        """Empty Redis and rewrite its append-only file, so that each measurement starts with a small
        file and no rewrite (a fork, which Redis sets off as the file grows) shares the machine with it."""
        self._wait_for_rewrite()
        self.redis.flushall()
        for _ in range(REWRITE_ATTEMPTS):
            try:
                self.redis.bgrewriteaof()
                break
            except redis.ResponseError as exc:
                if "already in progress" not in str(exc):
                    raise
                self._wait_for_rewrite()  # one Redis set off by itself: let it end, then rewrite the empty data
        self._wait_for_rewrite()

    def _wait_for_rewrite(self) -> None:
        give_up_at = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < give_up_at:
            persistence = self.redis.info("persistence")
            if not (persistence["aof_rewrite_in_progress"] or persistence["aof_rewrite_scheduled"]):
                return
            time.sleep(POLL_S)

    def drain(self, system: System, processes: int, n: int) -> float:
        self.flush()
        self.drive(system, "fill", n)
        if self.redis.get(DONE_KEY) is not None:
            raise Failed("something ran tasks before the workers started")
        timeout = 60 + n / 50
        start = time.perf_counter()
        workers = self.workers(system, system.drain_workers, processes, f"drain{processes}")
        try:
            while int(self.redis.get(DONE_KEY) or 0) < n:
                if time.perf_counter() - start > timeout:
                    raise Failed(f"{int(self.redis.get(DONE_KEY) or 0)}/{n} done after {timeout:.0f} s")
                if workers.all_exited():
                    raise Failed(f"workers exited: {workers.tail()}")
                time.sleep(POLL_S)
            elapsed = time.perf_counter() - start
        finally:
            workers.stop()
        done = int(self.redis.get(DONE_KEY) or 0)
        if done != n:
            print(f"  note: {system.name} ran {done} tasks for {n} enqueued", file=sys.stderr)
        return n / elapsed

    def latency_floor(self, system: System, samples: int) -> float:
        """p50 of the latency measurement with a bare redis-py worker (``peers/bare_worker.py``) in its own process."""
        self.flush()
        python = self.pythons[system.venv]
        workers = Workers([[python, str(PEERS / "bare_worker.py")]], self.env, self.work, self.work / "bare.log")
        try:
            return statistics.median(self.drive(system, "latency_floor", samples)["samples_ms"])
        finally:
            workers.stop()

    def latencies(self, system: System, samples: int, result_samples: int) -> dict[str, list[float]]:
        self.flush()
        workers = self.workers(system, system.idle_worker or system.drain_workers, 1, "idle")
        answers = {}
        try:
            for command, count in (("latency", samples), ("result", result_samples)):
                try:
                    answers[command] = self.drive(system, command, count)["samples_ms"]
                except Failed as exc:
                    if workers.all_exited():
                        raise Failed(f"worker exited: {workers.tail()}") from exc
                    system.errors[command] = str(exc)
        finally:
            workers.stop()
        return answers


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(len(ordered) * fraction))]


def measure(bench: Bench, system: System, args: argparse.Namespace, floors: Floors) -> None:
    """One run of every measurement for one system; failures become that column's reason."""

    def record(column: str, what: Callable[[], float]) -> None:
        if column in system.errors:
            return  # it failed in an earlier run: no point in trying again
        print(f"  {system.name}: {column}", end=" ", file=sys.stderr, flush=True)
        try:
            rate = what()
        except Failed as exc:
            system.errors[column] = str(exc)
        except Exception as exc:  # a bug in a driver should not cost the other rows
            system.errors[column] = f"{type(exc).__name__}: {exc}"
        else:
            system.results.setdefault(column, []).append(rate)
        print(f"failed: {system.errors[column]}" if column in system.errors else f"{rate:,.0f}/s", file=sys.stderr)

    if system.enqueue_as is None:
        record("single", lambda: bench.flush() or bench.drive(system, "enqueue", args.single)["rate"])
        record("bulk", lambda: bench.flush() or bench.drive(system, "bulk", args.tasks)["rate"])
        if system.key == "yotaq":
            try:
                bench.flush()
                answer = bench.drive(system, "floor", args.single)
                floors.enqueue.append(answer["rate"])
                floors.enqueue_ratio.append(answer["ratio"])
            except Failed as exc:
                print(f"  the enqueue floor failed: {exc}", file=sys.stderr)
    for processes in args.procs:
        record(f"drain{processes}", lambda processes=processes: bench.drain(system, processes, args.tasks))
    if "latency" in system.errors:
        return
    if system.key == "yotaq":  # measured just before yotaq's, so that both see the same machine
        try:
            floors.latency.append(bench.latency_floor(system, args.samples))
            print(f"  the latency floor (a bare worker): p50 {floors.latency[-1]:.2f} ms", file=sys.stderr)
        except Failed as exc:
            print(f"  the latency floor failed: {exc}", file=sys.stderr)
    print(f"  {system.name}:", end=" ", file=sys.stderr, flush=True)
    try:
        answers = bench.latencies(system, args.samples, args.result_samples)
    except Failed as exc:
        system.errors["latency"] = system.errors["result"] = str(exc)
        print(f"failed: {exc}", file=sys.stderr)
        return
    for command, samples in answers.items():
        system.results.setdefault(f"{command}_p50", []).append(statistics.median(samples))
        system.results.setdefault(f"{command}_p99", []).append(percentile(samples, 0.99))
    medians = (f"{command} p50 {statistics.median(samples):.2f} ms" for command, samples in answers.items())
    print(", ".join(medians), file=sys.stderr)


# -- the table ---------------------------------------------------------------------------------------

RATE = "rate"
TIME = "ms"


def columns(procs: list[int]) -> list[tuple[str, str, str]]:
    """(key, heading, kind) for each column after the name and version."""
    return [
        ("single", "single enqueue/s", RATE),
        ("bulk", "bulk enqueue/s", RATE),
        *((f"drain{n}", f"drain/s ({n} procs)", RATE) for n in procs),
        ("latency_p50", "latency p50 ms", TIME),
        ("latency_p99", "latency p99 ms", TIME),
        ("result_p50", "result p50 ms", TIME),
        ("result_p99", "result p99 ms", TIME),
    ]


def error_key(key: str) -> str:
    return key.split("_")[0]


def value(rows: dict[str, System], system: System, key: str) -> float | None:
    source = rows[system.enqueue_as] if system.enqueue_as and key in ("single", "bulk") else system
    if error_key(key) in source.errors or not source.results.get(key):
        return None
    return statistics.median(source.results[key])


def cell(rows: dict[str, System], system: System, key: str, kind: str) -> str:
    if system.enqueue_as and key in ("single", "bulk"):
        return f"as {rows[system.enqueue_as].name}"
    number = value(rows, system, key)
    if number is not None:
        return f"{number:,.0f}" if kind == RATE else f"{number:.2f}"
    return f"n/a ({system.errors.get(error_key(key), 'not measured')})"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def venv_info(python: str) -> str:
    code = (
        "import sys, redis; from redis.utils import HIREDIS_AVAILABLE as h; "
        "print(sys.version.split()[0], redis.__version__, h)"
    )
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60).stdout.split()
        return f"Python {out[0]}, redis-py {out[1]}, hiredis {'yes' if out[2] == 'True' else 'no'}"
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unavailable"


def report(rows: dict[str, System], args: argparse.Namespace, redis_version: str, floors: Floors) -> str:
    cols = columns(args.procs)
    lines = [
        "| system | version | " + " | ".join(heading for _, heading, _ in cols) + " |",
        "|---|---|" + "---:|" * len(cols),
    ]
    for system in rows.values():
        version = system.version or "n/a"
        cells = [cell(rows, system, key, kind) for key, _, kind in cols]
        lines.append(f"| {system.name} | {version} | " + " | ".join(cells) + " |")
    lines.append("")
    yotaq = rows.get("yotaq")
    peers = [system for system in rows.values() if system.key != "yotaq"]
    if yotaq is not None and peers:
        lines.append(
            "yotaq next to the best peer of this run (for rates, > 1 is faster; for latencies, < 1 is faster):"
        )
        for key, heading, kind in cols:
            mine = value(rows, yotaq, key)
            theirs = [
                (value(rows, peer, key), peer.name)
                for peer in peers
                if not (peer.enqueue_as and key in ("single", "bulk"))
            ]
            theirs = [(number, name) for number, name in theirs if number is not None]
            if mine is None or not theirs:
                lines.append(f"- {heading}: n/a")
                continue
            best, name = max(theirs) if kind == RATE else min(theirs)
            shown = f"{best:,.0f}" if kind == RATE else f"{best:.2f}"
            lines.append(f"- {heading}: {mine / best:.2f}x the best peer, {name} ({shown})")
        lines.append("")
    if yotaq is not None and (floors.enqueue or floors.latency):
        lines.append("yotaq next to no queue at all, the same work done with bare redis-py in the same run:")
        if floors.enqueue:
            lines.append(
                f"- single enqueue vs a bare RPUSH loop of same-size messages "
                f"({statistics.median(floors.enqueue):,.0f}/s), in alternating rounds: "
                f"{100 * statistics.median(floors.enqueue_ratio):.0f}%"
            )
        latency = value(rows, yotaq, "latency_p50")
        if floors.latency and latency is not None:
            bare = statistics.median(floors.latency)
            lines.append(
                f"- latency p50 vs a bare worker (BLPOP, then RPUSH) in its place ({bare:.2f} ms): "
                f"{latency / bare:.2f}x"
            )
        lines.append("")
    lines += [
        "latency: enqueue a task that does RPUSH, until a BLPOP waiter has it; result: the same through the "
        "system's result API at its defaults (huey's and arq's poll, from 50 ms and every 500 ms); arq's worker also "
        "polls its queue every 500 ms (poll_delay), so with a few ms between samples its tasks wait for a full poll",
        "",
    ]
    peer_python = str(args.peer_venv / "bin" / "python")
    python = Path(sys.executable)
    shown_python = python.relative_to(ROOT) if python.is_relative_to(ROOT) else python
    mine, theirs = venv_info(sys.executable), venv_info(peer_python)
    if mine.split(", ")[1:] != theirs.split(", ")[1:] and "peers" in {system.venv for system in rows.values()}:
        lines += ["WARNING: the two venvs differ in redis-py or hiredis, so the rows are not like for like", ""]
    lines += [
        f"{datetime.date.today().isoformat()}; {os.cpu_count()} cores, {cpu_model()}; Redis {redis_version} "
        f"(loopback, appendonly everysec); yotaq venv: {mine}; peers' venv: {theirs}",
        f"command: {shown_python} {shlex.join(sys.argv)}",
        f"medians of {args.runs} run(s); single enqueue {args.single:,} tasks, bulk and drains {args.tasks:,} tasks, "
        f"latency {args.samples} samples, result {args.result_samples} samples",
    ]
    return "\n".join(lines)


def main() -> None:
    all_systems = systems()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks per bulk enqueue and per drain")
    parser.add_argument("--single", type=int, help="tasks for single enqueue (default: --tasks, at most 5,000)")
    parser.add_argument("--samples", type=int, default=300, help="latency samples")
    parser.add_argument("--result-samples", type=int, default=50, help="result-API latency samples")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--procs", type=lambda text: [int(n) for n in text.split(",")], default=[2, 8])
    parser.add_argument(
        "--systems",
        type=lambda text: [name.strip() for name in text.split(",")],
        default=list(all_systems),
        help="comma-separated, from: " + ", ".join(all_systems),
    )
    parser.add_argument("--peer-venv", type=Path, default=ROOT / ".venv-bench")
    args = parser.parse_args()
    args.single = args.single or min(args.tasks, 5_000)
    unknown = [name for name in args.systems if name not in all_systems]
    if unknown:
        parser.error(f"unknown systems: {', '.join(unknown)}")
    rows = {name: all_systems[name] for name in args.systems}
    for system in rows.values():  # a row whose source of enqueue numbers is not run measures them itself
        if system.enqueue_as and system.enqueue_as not in rows:
            system.enqueue_as = None
    floors = Floors()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the workers and Redis on the way out
    # pip wrote the peers' bytecode when it installed them; an editable yotaq has none, and with
    # PYTHONDONTWRITEBYTECODE set its workers would compile it again at every start: compile it once.
    compileall.compile_dir(Path(yotaq.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory(prefix="yotaq-compare-") as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        bench = Bench(server.url, Path(tmp), args.peer_venv)
        redis_version = bench.redis.info("server")["redis_version"]
        for system in rows.values():
            try:
                system.version = bench.drive(system, "version")["version"]
            except Failed as exc:
                for column in ("single", "bulk", *(f"drain{n}" for n in args.procs), "latency", "result"):
                    system.errors[column] = f"cannot run: {exc}"
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
            for system in rows.values():
                if system.version:
                    measure(bench, system, args, floors)
        bench.redis.close()
    print(report(rows, args, redis_version, floors))


if __name__ == "__main__":
    main()

"""What every benchmark here shares: a local Redis, worker processes stopped by PID, /proc and INFO readings,
the drain of compare.py, and the JSON and command-line plumbing.

- ``local_redis(prefix)``: a redis-server of its own on 127.0.0.1 (a free port, append-only file), in a
  temporary directory, both gone on the way out;
- ``Workers``: processes started in sessions of their own and stopped together, each with everything it
  started (SIGTERM by PID, then SIGKILL by PID, its start time checked, so a reused PID is never hit);
  their CPU and memory from ``/proc``;
- ``redis_cpu_s``, ``command_calls``, ``flush``: ``INFO cpu``, ``INFO commandstats`` (less the INFOs that
  ask), FLUSHALL with an append-only rewrite;
- ``Bench``: one Redis, the two venvs (yotaq's, this one; the peers', ``--peer-venv``), the drivers
  (``peers/drive_<system>.py``) and the drain that compare.py, ab.py, variants.py and threads.py time;
- ``write_json``, ``stop_on_signals``, ``cpu_model``, ``venv_info``, ``versions``, ``percentile``, and the
  argument types.

Every benchmark runs on 127.0.0.1 only and stops what it starts.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from yotaq.server import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(__file__).resolve().parent / "peers"
RESULTS = Path(__file__).resolve().parent / "results"
DONE_KEY = "bench:done"  # every no-op task does INCR DONE_KEY
POLL_S = 0.01  # how often a drain reads the counter; and every wait of the harness
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REWRITE_ATTEMPTS = 5
STOP_TIMEOUT_S = 20.0
DRIVER_TIMEOUT_S = 900.0

Commands = Callable[[str, str, int], list[list[str]]]  # (python, bin dir, processes) -> worker command lines


class Failed(Exception):
    """A measurement that could not be made; its message goes into the table as ``n/a (message)``."""


# -- processes ---------------------------------------------------------------------------------------


def proc_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (the first is field 3, the state), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def processes() -> dict[int, tuple[int, str, int]]:
    """Every process: (parent pid, start time, CPU ticks: utime + stime + cutime + cstime).

    cutime and cstime are the CPU of its children already waited for, so that a work horse that rq forked
    for one job, or a pool child that celery replaced, still counts once it is gone."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := proc_fields(int(entry.name))) is not None:
            table[int(entry.name)] = (int(fields[1]), fields[19], sum(int(tick) for tick in fields[11:15]))
    return table


def descendants(root: int, table: dict[int, tuple[int, str, int]] | None = None) -> dict[int, str]:
    """Every live descendant of ``root``, with its start time (so a reused pid is not mistaken for it)."""
    parents = processes() if table is None else table
    children: dict[int, list[int]] = {}
    for child, (parent, _, _) in parents.items():
        children.setdefault(parent, []).append(child)
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        for child in children.get(frontier.pop(), []):
            if child not in found:
                found[child] = parents[child][1]
                frontier.append(child)
    return found


def alive(pid: int, started: str) -> bool:
    """Whether ``pid`` is still the process that started at ``started`` (its /proc start time)."""
    fields = proc_fields(pid)
    return fields is not None and fields[19] == started


def status_kib(pid: int, key: str, path: str = "status") -> int:
    """A kB figure of /proc/<pid>/<path> (``VmRSS:``, ``VmHWM:``; ``Pss:`` of smaps_rollup), 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/{path}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Workers:
    """Worker processes started together and stopped together, with everything they started."""

    def __init__(self, commands: list[list[str]], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd, self.log = env, cwd, log
        self.processes: list[subprocess.Popen[bytes]] = []
        for command in commands:
            self.start(command)

    def start(self, command: list[str]) -> subprocess.Popen[bytes]:
        """One more process, in a session of its own, its output appended to the log."""
        with self.log.open("ab") as out:
            process = subprocess.Popen(
                command, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append(process)
        return process

    def exited(self) -> list[int]:
        return [process.pid for process in self.processes if process.poll() is not None]

    def all_exited(self) -> bool:
        return all(process.poll() is not None for process in self.processes)

    def pids(self, table: dict[int, tuple[int, str, int]] | None = None) -> set[int]:
        """These processes and all their live descendants."""
        table = processes() if table is None else table
        pids = {process.pid for process in self.processes}
        for process in self.processes:
            pids.update(descendants(process.pid, table))
        return pids & set(table)

    def cpu_s(self) -> float:
        """CPU seconds (user + system) so far of these processes and all their descendants, gone ones included."""
        table = processes()
        return sum(table[pid][2] for pid in self.pids(table)) / CLOCK_TICKS

    def rss_kb(self) -> int:
        """The resident memory (VmRSS, kB) of these processes and all their live descendants, summed."""
        return sum(status_kib(pid, "VmRSS:") for pid in self.pids())

    def stop(self) -> None:
        """SIGTERM each one (each stops its own children), then SIGKILL whatever is left after a while."""
        tree: dict[int, str] = {}
        table = processes()  # one look at /proc for all of them: a fleet has hundreds
        for process in self.processes:
            tree.update(descendants(process.pid, table))
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                tree.update(descendants(process.pid))
                process.kill()
                process.wait()
        while time.monotonic() < deadline and any(alive(pid, started) for pid, started in tree.items()):
            time.sleep(0.05)
        for pid, started in tree.items():
            if alive(pid, started):
                os.kill(pid, signal.SIGKILL)

    def tail(self, lines: int = 1) -> str:
        last = self.log.read_text(errors="replace").strip().splitlines()[-lines:] if self.log.exists() else []
        return " | ".join(line[:200] for line in last) or "no output"


# -- Redis ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def local_redis(prefix: str) -> Iterator[tuple[Path, EmbeddedRedis]]:
    """A scratch directory and a redis-server of its own in it (loopback, a free port, append-only file)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        yield Path(tmp), server


def redis_cpu_s(client: redis.Redis) -> float:
    """Redis's own CPU seconds (user + system, all its threads; not a rewrite's child)."""
    cpu = client.info("cpu")
    return float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])


def command_calls(client: redis.Redis, leave_out: tuple[str, ...] = ("info",)) -> dict[str, int]:
    """The calls so far of each command Redis has run (``INFO commandstats``), by name, less the INFOs."""
    return {
        name: int(stats["calls"])
        for key, stats in client.info("commandstats").items()
        if (name := key.removeprefix("cmdstat_")) not in leave_out
    }


def wait_for_rewrite(client: redis.Redis) -> None:
    give_up_at = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < give_up_at:
        persistence = client.info("persistence")
        if not (persistence["aof_rewrite_in_progress"] or persistence["aof_rewrite_scheduled"]):
            return
        time.sleep(POLL_S)


def flush(client: redis.Redis) -> None:
    """Empty Redis and rewrite its append-only file, so that each measurement starts with a small file and no
    rewrite (a fork, which Redis sets off as the file grows) shares the machine with it."""
    wait_for_rewrite(client)
    client.flushall()
    for _ in range(REWRITE_ATTEMPTS):
        try:
            client.bgrewriteaof()
            break
        except redis.ResponseError as exc:
            if "already in progress" not in str(exc):
                raise
            wait_for_rewrite(client)  # one Redis set off by itself: let it end, then rewrite the empty data
    wait_for_rewrite(client)


# -- the drain -----------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    """Where the drain stands at one moment: time, tasks done, and the CPU and commands spent so far."""

    at: float  # perf_counter
    done: int
    worker_cpu_s: float
    redis_cpu_s: float
    redis_calls: int  # every command but the harness's INFOs
    polls: int  # the harness's polling GETs so far, to take away from redis_calls


def per_task(first: Snapshot, last: Snapshot) -> dict[str, float]:
    """What each task cost between two snapshots: worker CPU µs, Redis CPU µs, Redis commands."""
    tasks = last.done - first.done
    if tasks <= 0:
        raise Failed("no task finished between the two snapshots")
    return {
        "wcpu": 1e6 * (last.worker_cpu_s - first.worker_cpu_s) / tasks,
        "rcpu": 1e6 * (last.redis_cpu_s - first.redis_cpu_s) / tasks,
        "rcmd": (last.redis_calls - first.redis_calls - (last.polls - first.polls)) / tasks,
    }


class Bench:
    """One Redis, the two venvs and the drivers. A ``system`` is anything with ``key``, ``name``, ``driver``,
    ``venv`` ("yotaq" or "peers"), ``env`` and, for a drain, ``drain_workers`` (compare.py's ``System``)."""

    def __init__(self, url: str, work: Path, peer_venv: Path, poll_s: float = POLL_S) -> None:
        self.url = url
        self.poll_s = poll_s
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

    def drive(self, system: Any, command: str, n: int = 0) -> dict[str, Any]:
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
        answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        if "na" in answer:
            raise Failed(answer["na"])
        return answer

    def workers(self, system: Any, commands: Commands, n: int, label: str) -> Workers:
        python = self.pythons[system.venv]
        log = self.work / f"{system.key}-{label}.log"
        return Workers(commands(python, str(Path(python).parent), n), {**self.env, **system.env}, self.work, log)

    def flush(self) -> None:
        flush(self.redis)

    def redis_cpu_s(self) -> float:
        return redis_cpu_s(self.redis)

    def command_calls(self) -> dict[str, int]:
        return command_calls(self.redis)

    def snapshot(self, workers: Workers | None, at: float, done: int, polls: int) -> Snapshot:
        cpu, calls = self.redis_cpu_s(), sum(self.command_calls().values())
        return Snapshot(at, done, workers.cpu_s() if workers else 0.0, cpu, calls, polls)

    def drain(self, system: Any, processes: int, n: int, fill: str = "fill") -> dict[str, float]:
        """Start the workers on ``n`` tasks enqueued first (by the driver's ``fill``) and time them until all
        have run.

        Answers ``rate`` (from the workers' start), ``steady`` (from the first finished task: what the
        workers do once started), ``startup`` (s to the first finished task), and per task from the first
        finished task on (``wcpu``, ``rcpu``: µs; ``rcmd``: commands) and from the start (``*_all``); and
        ``rss_mb``, the workers' resident memory when the last task is done (all their processes)."""
        self.flush()
        self.drive(system, fill, n)
        if self.redis.get(DONE_KEY) is not None:
            raise Failed("something ran tasks before the workers started")
        timeout = 60 + n / 50
        polls = 0
        before = self.snapshot(None, 0.0, 0, polls)  # no worker yet: CPU 0
        start = before.at = time.perf_counter()
        workers = self.workers(system, system.drain_workers, processes, f"drain{processes}")
        first: Snapshot | None = None
        try:
            while True:
                done = int(self.redis.get(DONE_KEY) or 0)
                now = time.perf_counter()
                polls += 1
                if done >= n:
                    break
                if first is None and done > 0:
                    first = self.snapshot(workers, now, done, polls)
                    # for the per-task figures: the tasks done by the time the snapshot was complete
                    first_for_costs = Snapshot(**{**first.__dict__, "done": int(self.redis.get(DONE_KEY) or 0)})
                    polls += 1
                    first_for_costs.polls = polls
                if now - start > timeout:
                    raise Failed(f"{done}/{n} done after {timeout:.0f} s")
                if workers.all_exited():
                    raise Failed(f"workers exited: {workers.tail()}")
                time.sleep(self.poll_s)
            last = self.snapshot(workers, now, done, polls)
            rss_mb = workers.rss_kb() / 1024
        finally:
            workers.stop()
        done = int(self.redis.get(DONE_KEY) or 0)
        if done != n:
            print(f"  note: {system.name} ran {done} tasks for {n} enqueued", file=sys.stderr)
        if first is None:  # all of them between two polls
            first = first_for_costs = before
        answer = {"rate": n / (last.at - start), "startup": first.at - start, "rss_mb": rss_mb}
        answer["steady"] = (n - first.done) / (last.at - first.at) if last.at > first.at else answer["rate"]
        answer.update(per_task(first_for_costs, last))
        answer.update({f"{key}_all": number for key, number in per_task(before, last).items()})
        return answer


# -- figures, the machine, the output ----------------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(len(ordered) * fraction))]


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


def versions(python: str, names: tuple[str, ...]) -> dict[str, str | None]:
    """The installed version of each of ``names`` in the venv of ``python`` (None where absent)."""
    code = (
        "import json, importlib.metadata as m\n"
        "def v(name):\n"
        "    try: return m.version(name)\n"
        "    except m.PackageNotFoundError: return None\n"
        f"print(json.dumps({{name: v(name) for name in {names!r}}}))"
    )
    if not Path(python).exists():
        return {}
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    found: dict[str, str | None] = json.loads(done.stdout) if done.returncode == 0 else {}
    return found


def shown_python() -> str:
    """This interpreter's path, relative to the tree when it is inside it (as a page shows a command)."""
    python = Path(sys.executable)
    return str(python.relative_to(ROOT) if python.is_relative_to(ROOT) else python)


def header(**machine: Any) -> dict[str, Any]:
    """The opening of a run's JSON: when, on what machine (its cores and CPU, and ``machine``), by which command."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "cpu": cpu_model(), **machine},
        "command": shlex.join([sys.executable, *sys.argv]),
    }


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP end the run as an exception would: every ``with`` and ``finally`` on the way out
    stops the workers and Redis it started."""
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, lambda number, frame: sys.exit(128 + number))


def run(main: Callable[[], None]) -> None:
    """Run ``main``; Ctrl-C ends it once the ``with`` and ``finally`` blocks have stopped what it started."""
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted: every process it started is stopped, nothing written", file=sys.stderr)
        sys.exit(130)


def names(text: str) -> list[str]:
    """An argument type: comma-separated names."""
    return [name.strip() for name in text.split(",") if name.strip()]


def numbers(text: str) -> list[int]:
    """An argument type: comma-separated positive whole numbers."""
    found = [int(part) for part in text.split(",") if part.strip()]
    if not found or min(found) < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers separated by commas, not {text!r}")
    return found


def known(parser: argparse.ArgumentParser, wanted: list[str], choices: dict[str, Any], what: str) -> None:
    """Refuse, as argparse does, a name that is not one of ``choices``."""
    unknown = [name for name in wanted if name not in choices]
    if unknown:
        parser.error(f"unknown {what}: {', '.join(unknown)}")

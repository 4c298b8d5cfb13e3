"""yotaq against itself: two versions of its source measured side by side in one run, on one Redis.

    .venv/bin/python benchmarks/ab.py --before 43b33b9 [--after WORKTREE_OR_REF] [--tasks 20000] [--runs 3]
    .venv/bin/python benchmarks/ab.py --before 43b33b9 --after 43b33b9 --tasks 2000 --runs 1   # a sanity check
    .venv/bin/python benchmarks/ab.py --before main --only floor --runs 5   # single enqueue against bare RPUSH

``--before`` is a git ref; ``--after`` a directory holding a yotaq source tree (default: this working tree,
uncommitted changes included) or a git ref. Each ref is checked out into a temporary ``git worktree``
(removed at the end, even on failure). Both versions run under this script's venv with
``PYTHONPATH=<tree>:benchmarks/peers``, which comes before the editable install on ``sys.path``, so that
``python -m yotaq worker`` and the driver import that tree's ``yotaq`` (checked once at the start, and shown).
The driver, ``peers/drive_yotaq.py``, is this tree's for both: it uses yotaq's public API only.

The machinery is driver.py's (``Bench``: flush, drain, the drivers, the workers and their stopping), with
compare.py's yotaq row, on one redis-server on 127.0.0.1 started here. Measured for each version, each the
median of ``--runs`` runs:

- drain/s: ``--tasks`` no-op tasks enqueued, then ``python -m yotaq worker --processes 2`` until all have run;
  with compare.py's figures of the same drain: in steady state (from the first finished task), and per task the
  workers' CPU, Redis's CPU and Redis commands (the profile of where the drain's time goes);
- single enqueue/s (``--single`` tasks, one ``enqueue`` each), and next to a bare RPUSH loop of messages as
  long as that version's (the floor: ``enqueue(fn, *args)`` and the loop alternate in 50 rounds inside the
  driver; the median and quartiles of the rounds' ratios);
- bulk enqueue/s (``--tasks`` tasks, one ``enqueue_many``);
- latency p50: with one idle worker, enqueue a task that does RPUSH and wait for it (``--samples`` times).

Each measurement is made for both versions one after the other, before first on even runs and after first on
odd ones, so that both see the same machine. The table goes to stdout, the values of each run to stderr.

The harness itself needs ``yotaq.server.EmbeddedRedis`` (driver.py imports it): it takes it from the
``--before`` tree, a commit, so that a working tree in the middle of a rewrite does not stop it.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime
import importlib
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
PEERS = BENCHMARKS / "peers"
PROCESSES = 2
GIT_TIMEOUT_S = 120.0
CHECK_TIMEOUT_S = 60.0

# benchmarks/driver.py and compare.py, imported once the --before tree is on sys.path (see load_compare)
driver: ModuleType
compare: ModuleType


@dataclass
class Version:
    """One side of the comparison: a yotaq source tree, and the Bench whose processes import it."""

    label: str  # "before" or "after"
    spec: str  # as given on the command line
    tree: Path = Path()
    commit: str = ""  # a full hash, for a ref
    description: str = ""
    imported: str = ""  # yotaq.__file__ in a child process of this version
    bench: Any = None  # driver.Bench
    system: Any = None  # compare.System
    results: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


# -- git ---------------------------------------------------------------------------------------------


def git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
    if done.returncode != 0:
        raise SystemExit(f"git {shlex.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def resolve(version: Version, default: Path | None) -> None:
    """A directory (or the default, this working tree) is used as it is; anything else is a ref."""
    if default is not None or Path(version.spec).is_dir():
        tree = (default or Path(version.spec)).resolve()
        if not (tree / "yotaq" / "__init__.py").is_file():
            raise SystemExit(f"{version.label}: {tree} has no yotaq/__init__.py")
        version.tree = tree
        try:
            head = git("rev-parse", "--short", "HEAD", cwd=tree)
        except SystemExit:
            version.description = f"{tree} (not a git tree)"
            return
        changed = git("status", "--porcelain", "--", "yotaq", cwd=tree)
        version.description = f"working tree {tree} at {head}" + (", with changes to yotaq/" if changed else "")
        return
    try:
        version.commit = git("rev-parse", "--verify", "--quiet", f"{version.spec}^{{commit}}")
    except SystemExit:
        raise SystemExit(f"{version.label}: {version.spec!r} is neither a directory nor a git ref") from None
    short, subject = git("log", "-1", "--format=%h%x00%s", version.commit).split("\0", 1)
    version.description = f"{short} ({version.spec}): {subject[:80]}"


@contextlib.contextmanager
def worktree(commit: str, path: Path) -> Iterator[Path]:
    """``git worktree add --detach``, removed on the way out whatever happens."""
    try:
        git("worktree", "add", "--detach", str(path), commit)
        yield path
    finally:
        done = subprocess.run(
            ["git", "worktree", "remove", "--force", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
        )
        if done.returncode != 0 and path.exists():
            print(f"warning: git worktree remove {path}: {done.stderr.strip()}", file=sys.stderr)
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, capture_output=True, timeout=GIT_TIMEOUT_S)


# -- the versions ------------------------------------------------------------------------------------


def load_compare(tree: Path) -> None:
    """Import driver.py and compare.py, and with them yotaq (for EmbeddedRedis), from ``tree``: sys.path comes
    before the editable install's finder, so this process's yotaq is that tree's."""
    global driver, compare
    sys.path.insert(0, str(tree))
    driver = importlib.import_module("driver")
    compare = importlib.import_module("compare")
    harness = Path(compare.yotaq.__file__)
    if not harness.is_relative_to(tree):
        raise SystemExit(f"the harness imported yotaq from {harness}, not from {tree}")


def prepare(version: Version, url: str, work: Path) -> None:
    """The version's Bench (driver's, with this tree first on PYTHONPATH) and System (compare's yotaq row),
    and a check, in a child process run as the workers are, of where its yotaq comes from."""
    version.bench = driver.Bench(url, work, ROOT / ".venv-bench")
    version.bench.env["PYTHONPATH"] = os.pathsep.join([str(version.tree), str(PEERS)])
    template = compare.systems()["yotaq"]
    version.system = compare.System(
        version.label, version.label, template.driver, template.venv, template.drain_workers, template.idle_worker
    )
    # the workers run with PYTHONDONTWRITEBYTECODE: compile each tree once (as compare.py does its own)
    compileall.compile_dir(version.tree / "yotaq", quiet=1)
    done = subprocess.run(
        [version.bench.pythons["yotaq"], "-c", "import yotaq; print(yotaq.__file__)"],
        env=version.bench.env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT_S,
    )
    lines = (done.stdout + done.stderr).strip().splitlines() or ["no output"]
    if done.returncode != 0:
        raise SystemExit(f"{version.label}: yotaq does not import from {version.tree}: {lines[-1]}")
    version.imported = lines[-1]
    if not Path(version.imported).is_relative_to(version.tree):
        raise SystemExit(f"{version.label}: a child imported yotaq from {version.imported}, not from {version.tree}")
    print(f"{version.label}: {version.description}; yotaq imported from {version.imported}", file=sys.stderr)


# -- measurements ------------------------------------------------------------------------------------


def single(version: Version, args: argparse.Namespace) -> dict[str, float]:
    version.bench.flush()
    return {"single": version.bench.drive(version.system, "enqueue", args.single)["rate"]}


def floor(version: Version, args: argparse.Namespace) -> dict[str, float]:
    version.bench.flush()
    answer = version.bench.drive(version.system, "floor", args.single)
    return {
        "floor_ratio": answer["ratio"],
        "floor_q1": answer["ratio_q1"],
        "floor_q3": answer["ratio_q3"],
        "floor_rate": answer["rate"],
        "bytes": answer["bytes"],
    }


def bulk(version: Version, args: argparse.Namespace) -> dict[str, float]:
    version.bench.flush()
    return {"bulk": version.bench.drive(version.system, "bulk", args.tasks)["rate"]}


def drain(version: Version, args: argparse.Namespace) -> dict[str, float]:
    answer = version.bench.drain(version.system, PROCESSES, args.tasks)
    return {
        "drain": answer["rate"],
        "steady": answer["steady"],
        "wcpu": answer["wcpu"],
        "rcpu": answer["rcpu"],
        "rcmd": answer["rcmd"],
    }


def latency(version: Version, args: argparse.Namespace) -> dict[str, float]:
    bench, system = version.bench, version.system
    bench.flush()
    workers = bench.workers(system, system.idle_worker, 1, "idle")
    try:
        samples = bench.drive(system, "latency", args.samples)["samples_ms"]
    except driver.Failed as exc:
        if workers.all_exited():
            raise driver.Failed(f"worker exited: {workers.tail()}") from exc
        raise
    finally:
        workers.stop()
    return {"latency_p50": statistics.median(samples)}


Measure = Callable[[Version, argparse.Namespace], dict[str, float]]
MEASURES: list[tuple[str, Measure]] = [
    ("drain", drain),
    ("single", single),
    ("floor", floor),
    ("bulk", bulk),
    ("latency", latency),
]

# (result key, heading, format, True if higher is better)
ROWS = [
    ("drain", f"drain/s ({PROCESSES} procs)", "{:,.0f}", True),
    ("steady", "drain/s in steady state (from the first finished task)", "{:,.0f}", True),
    ("wcpu", "worker CPU µs/task (steady state, all worker processes)", "{:.0f}", False),
    ("rcpu", "Redis CPU µs/task (steady state, INFO cpu)", "{:.0f}", False),
    ("rcmd", "Redis commands/task (steady state, INFO commandstats)", "{:.2f}", False),
    ("single", "single enqueue/s", "{:,.0f}", True),
    ("floor_ratio", "single enqueue / bare RPUSH loop (median of the rounds)", "{:.0%}", True),
    ("floor_q1", "single enqueue / bare RPUSH loop, lower quartile of the rounds", "{:.0%}", True),
    ("floor_q3", "single enqueue / bare RPUSH loop, upper quartile of the rounds", "{:.0%}", True),
    ("floor_rate", "bare RPUSH loop/s (same-size messages)", "{:,.0f}", True),
    ("bulk", "bulk enqueue/s", "{:,.0f}", True),
    ("latency_p50", "latency p50 ms (idle worker)", "{:.2f}", False),
    ("bytes", "message bytes (the floor's task)", "{:,.0f}", False),
]
ERROR_OF = {
    "floor_ratio": "floor",
    "floor_q1": "floor",
    "floor_q3": "floor",
    "floor_rate": "floor",
    "bytes": "floor",
    "latency_p50": "latency",
    "steady": "drain",
    "wcpu": "drain",
    "rcpu": "drain",
    "rcmd": "drain",
}


def run_once(run: int, versions: list[Version], args: argparse.Namespace) -> None:
    order = versions if run % 2 == 0 else versions[::-1]
    print(f"run {run + 1}/{args.runs} ({order[0].label} first)", file=sys.stderr, flush=True)
    for name, measure in MEASURES:
        if args.only and name not in args.only:
            continue
        shown = []
        for version in order:
            if name in version.errors:
                shown.append(f"{version.label} failed earlier")
                continue
            try:
                values = measure(version, args)
            except driver.Failed as exc:
                version.errors[name] = str(exc)
            except Exception as exc:  # a bug in one measurement should not cost the others
                version.errors[name] = f"{type(exc).__name__}: {exc}"
            else:
                for key, number in values.items():
                    version.results.setdefault(key, []).append(number)
                shown.append(
                    f"{version.label} "
                    + ", ".join(f"{key} {fmt(key).format(number)}" for key, number in values.items())
                )
                continue
            shown.append(f"{version.label} failed: {version.errors[name]}")
        print(f"  {name}: " + "; ".join(shown), file=sys.stderr, flush=True)


def fmt(key: str) -> str:
    return next(form for row, _, form, _ in ROWS if row == key)


# -- the table ---------------------------------------------------------------------------------------


def median(version: Version, key: str) -> float | None:
    if ERROR_OF.get(key, key) in version.errors or not version.results.get(key):
        return None
    return statistics.median(version.results[key])


def report(versions: list[Version], args: argparse.Namespace, redis_version: str) -> str:
    before, after = versions
    lines = [
        f"| | before ({before.spec}) | after ({after.spec}) | after/before |",
        "|---|---:|---:|---:|",
    ]
    for key, heading, form, _ in ROWS:
        if args.only and ERROR_OF.get(key, key) not in args.only:
            continue
        cells = []
        for version in versions:
            number = median(version, key)
            reason = version.errors.get(ERROR_OF.get(key, key), "not measured")
            cells.append(form.format(number) if number is not None else f"n/a ({reason[:80]})")
        mine, theirs = median(after, key), median(before, key)
        ratio = f"{mine / theirs:.2f}x" if mine is not None and theirs else "n/a"
        lines.append(f"| {heading} | {cells[0]} | {cells[1]} | {ratio} |")
    lines += [
        "",
        "after/before: for rates, > 1 is faster; for latency, message size and costs per task, < 1 is better. "
        "The bare RPUSH loop is no queue at all (its rate moves with the message size and the machine).",
        "",
        *(f"- {version.label}: {version.description}; yotaq from {version.imported}" for version in versions),
        "",
        f"{datetime.date.today().isoformat()}; {os.cpu_count()} cores, {driver.cpu_model()}; Redis {redis_version} "
        f"(loopback, appendonly everysec); {driver.venv_info(sys.executable)}",
        f"command: {driver.shown_python()} {shlex.join(sys.argv)}",
        f"medians of {args.runs} run(s), interleaved (before first in runs 1, 3, ..., after first in 2, 4, ...); "
        f"single enqueue {args.single:,} tasks, bulk and drain {args.tasks:,} tasks, latency {args.samples} samples",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="a git ref")
    parser.add_argument("--after", help="a directory with a yotaq source tree, or a git ref (default: this tree)")
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks per bulk enqueue and per drain")
    parser.add_argument("--single", type=int, help="tasks for single enqueue (default: --tasks, at most 5,000)")
    parser.add_argument("--samples", type=int, default=300, help="latency samples")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--only", help=f"measure only these, comma-separated (of {', '.join(name for name, _ in MEASURES)})"
    )
    args = parser.parse_args()
    args.single = args.single or min(args.tasks, 5_000)
    args.only = set(args.only.split(",")) if args.only else set()
    if args.only - {name for name, _ in MEASURES}:
        raise SystemExit(f"--only: no measure named {', '.join(sorted(args.only - {n for n, _ in MEASURES}))}")
    before, after = Version("before", args.before), Version("after", args.after or str(ROOT))
    resolve(before, None)
    resolve(after, ROOT if args.after is None else None)
    versions = [before, after]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the workers, Redis and worktrees on the way out
    with tempfile.TemporaryDirectory(prefix="yotaq-ab-") as tmp, contextlib.ExitStack() as stack:
        for version in versions:
            if version.commit:
                version.tree = stack.enter_context(worktree(version.commit, Path(tmp) / version.label))
        load_compare(before.tree)
        work = Path(tmp) / "work"
        work.mkdir()
        _, server = stack.enter_context(driver.local_redis("yotaq-ab-redis-"))
        for version in versions:
            prepare(version, server.url, work)
        redis_version = before.bench.redis.info("server")["redis_version"]
        try:
            for run in range(args.runs):
                run_once(run, versions, args)
        finally:
            for version in versions:
                version.bench.redis.close()
    print(report(versions, args, redis_version))


if __name__ == "__main__":
    main()

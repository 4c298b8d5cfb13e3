"""yotaq next to rq, huey, dramatiq, celery and arq: the same workload on one local Redis, each at its defaults
and, where it documents a faster setting, at that too; with a bare batch worker as the yardstick of the drain.

    .venv/bin/python benchmarks/compare.py [--tasks 20000] [--runs 3] [--systems yotaq,rq,...] [--json PATH]
    .venv/bin/python benchmarks/compare.py --tasks 1000 --runs 1          # a quick look

Every system runs with ``hiredis`` installed (redis-py's documented speed-up for parsing replies): the peers'
venv gets it from the ``bench`` extra, yotaq's from the ``hiredis`` extra (``make bench`` installs both); the
table's footer says, for each venv, whether redis-py found it. See benchmarks/README.md for what moved the
dramatiq figure between this harness and an outside one.

yotaq runs from the venv that runs this script; the peers run from another one (``--peer-venv``,
default ``.venv-bench``, made by ``make .venv-bench/.installed`` from the ``bench`` extra), since their
pins clash with yotaq's (dramatiq[redis] and arq cap redis-py below the 7.2 that yotaq needs). For each
system a driver, ``peers/drive_<system>.py``, enqueues and waits under the right venv and prints JSON;
this script starts the Redis (loopback, a free port) and the workers, times the drains, and prints one
markdown table. Measured, each the median of ``--runs`` runs, on an emptied Redis (FLUSHALL) each time:

- single enqueue/s: ``--single`` tasks, one enqueue call each;
- bulk enqueue/s: ``--tasks`` tasks through the bulk API, where there is one;
- drain/s: ``--tasks`` no-op tasks enqueued first, then timed from starting ``--procs`` worker processes
  until every task has run (each does ``INCR bench:done``; polled every ``--poll-ms``, 10 ms), start-up included;
- steady/s: the same drain from its first finished task on, so that start-up does not count: ``(n - done at
  first) / (end - first)``, where "first" is the first poll that sees the counter above 0;
- worker CPU µs/task: user + system CPU of the worker processes and all their descendants (``/proc/<pid>/stat``:
  utime, stime, and cutime, cstime for children already gone), from the first finished task to the last, per
  task finished in between (the JSON also has it from the workers' start: start-up included);
- Redis CPU µs/task and Redis commands/task: ``INFO cpu`` (used_cpu_sys + used_cpu_user) and ``INFO
  commandstats`` (calls, all commands but this script's own INFO and polling GETs) over the same window, per
  task (the JSON also has them from the workers' start);
- the bare batch worker (``peers/bare_batch_worker.py``): the same no-op tasks, by value with dill, leased 64 at
  a time and acknowledged in the same round trip as the next lease, with no guarantee at all (no heartbeat, no
  delivery count, no signature, no result): its drain is the yardstick of what the guarantees cost yotaq;
- latency: with one idle worker, enqueue a task that does ``RPUSH bench:signal`` and wait for it there
  (``BLPOP``), ``--samples`` times: the same measure for every system;
- result: the same through the system's own result API at its defaults (``--result-samples`` times).

The table goes to stdout; every run's values, the medians and the ratios to ``--json`` (default
``benchmarks/results/latest.json``), for charts. Every process it starts is stopped (SIGTERM, then SIGKILL by
PID after 20 s, its children too).
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import os
import shlex
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from driver import (
    PEERS,
    RESULTS,
    ROOT,
    Bench,
    Commands,
    Failed,
    Workers,
    cpu_model,
    header,
    known,
    local_redis,
    names,
    numbers,
    percentile,
    shown_python,
    stop_on_signals,
    venv_info,
    write_json,
)

import yotaq

LATEST = RESULTS / "latest.json"
POLL_MS = 10.0  # how often the drain reads the counter, by default


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
    kind: str = "peer"  # "yotaq", "peer" or "yardstick" (the bare worker: drains only, in no comparison)
    setting: str = ""  # a peer's documented faster setting, for a second row (the JSON says which)
    env: dict[str, str] = field(default_factory=dict)  # added to the workers' environment
    results: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    version: str = ""


def _rq(worker_class: list[str]) -> Commands:
    return lambda python, bin_dir, n: [[f"{bin_dir}/rq", "worker", *worker_class] for _ in range(n)]


def _each(*command: str) -> Commands:
    """N processes of the same command, from the venv's bin directory."""
    return lambda python, bin_dir, n: [[f"{bin_dir}/{command[0]}", *command[1:]] for _ in range(n)]


DRAMATIQ_THREADS = 16  # the faster rows' settings; see systems()
CELERY_PREFETCH = 64


def systems() -> dict[str, System]:
    """Each system at its defaults, N worker processes its own way; then, where a peer documents a setting for
    more throughput, a second row with it (enqueue columns shared with the first row)."""
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
                kind="yotaq",
            ),
            System(
                "bare",
                "bare batch worker (no guarantees)",
                "bare",
                "yotaq",  # the same Python, redis-py and hiredis as yotaq's row
                lambda python, bin_dir, n: [[python, str(PEERS / "bare_batch_worker.py")] for _ in range(n)],
                kind="yardstick",
            ),
            System("rq", "rq", "rq", "peers", _rq([])),
            # rq's docs, "Notes on Performance" (docs/benchmark.md): SimpleWorker runs jobs in its own process,
            # skipping the fork of a work horse per job, ~6x the default Worker on a hello-world job
            System(
                "rq-simple",
                "rq (SimpleWorker)",
                "rq",
                "peers",
                _rq(["--worker-class", "rq.SimpleWorker"]),
                enqueue_as="rq",
                setting="--worker-class rq.SimpleWorker",
            ),
            # huey's defaults: one worker thread (-k thread -w 1); N processes are N consumers
            System("huey", "huey", "huey", "peers", _each("huey_consumer", "huey_tasks.huey")),
            # huey documents worker processes for CPU-bound work, `huey_consumer ... -k process -w 4` in its
            # README and docs/consumer.rst ("-w, --workers", "-k, --worker-type": thread, process, greenlet)
            System(
                "huey-process",
                "huey (-k process, -w procs)",
                "huey",
                "peers",
                lambda python, bin_dir, n: [
                    [f"{bin_dir}/huey_consumer", "huey_tasks.huey", "-k", "process", "-w", str(n)]
                ],
                enqueue_as="huey",
                setting="-k process -w N",
            ),
            # dramatiq's defaults: one process per core and 8 threads each (`dramatiq --help`), prefetching
            # twice as many messages as threads (dramatiq_queue_prefetch: dramatiq's docs, "Environment variables")
            System(
                "dramatiq",
                "dramatiq",
                "dramatiq",
                "peers",
                lambda python, bin_dir, n: [[f"{bin_dir}/dramatiq", "dramatiq_tasks", "--processes", str(n)]],
            ),
            # dramatiq documents --threads, "the number of worker threads per process (default: 8)" (`dramatiq
            # --help`), as what a process runs at once: more threads overlap more of the tasks' own round trips
            # to Redis (each does INCR). 16: of 1, 2, 8, 16, 32 threads and prefetch 64 or 128 (its documented
            # dramatiq_queue_prefetch, docs' reference, "Environment variables") that benchmarks/variants.py
            # measured here, the fastest with 32 (benchmarks/README.md); 1 and 2 threads are 2-4x slower
            System(
                "dramatiq-threads",
                f"dramatiq (--threads {DRAMATIQ_THREADS})",
                "dramatiq",
                "peers",
                lambda python, bin_dir, n: [
                    [
                        f"{bin_dir}/dramatiq",
                        "dramatiq_tasks",
                        "--processes",
                        str(n),
                        "--threads",
                        str(DRAMATIQ_THREADS),
                    ]
                ],
                enqueue_as="dramatiq",
                setting=f"--threads {DRAMATIQ_THREADS}",
            ),
            # celery's defaults: the prefork pool, prefetch multiplier 4; --concurrency N for N processes
            System(
                "celery",
                "celery",
                "celery",
                "peers",
                lambda python, bin_dir, n: [
                    [f"{bin_dir}/celery", "-A", "celery_tasks", "worker", "--concurrency", str(n)]
                ],
            ),
            # celery's Optimizing guide, "Prefetch Limits": with lots of short tasks, where throughput matters,
            # the multiplier should be large, "Say 64, or 128" (docs.celeryq.dev, userguide/optimizing)
            System(
                "celery-prefetch",
                f"celery (--prefetch-multiplier {CELERY_PREFETCH})",
                "celery",
                "peers",
                lambda python, bin_dir, n: [
                    [
                        f"{bin_dir}/celery",
                        "-A",
                        "celery_tasks",
                        "worker",
                        "--concurrency",
                        str(n),
                        "--prefetch-multiplier",
                        str(CELERY_PREFETCH),
                    ]
                ],
                enqueue_as="celery",
                setting=f"--prefetch-multiplier {CELERY_PREFETCH}",
            ),
            System("arq", "arq", "arq", "peers", _each("arq", "arq_tasks.WorkerSettings")),
        ]
    }


@dataclass
class Floors:
    """What the same work costs with no queue at all, measured with yotaq's row (each a list of runs)."""

    enqueue: list[float] = field(default_factory=list)  # a bare RPUSH loop, per second
    enqueue_ratio: list[float] = field(default_factory=list)  # yotaq's single enqueue rate / that, interleaved
    latency: list[float] = field(default_factory=list)  # p50 ms with a bare BLPOP-then-RPUSH worker


# -- measurements ------------------------------------------------------------------------------------


def latency_floor(bench: Bench, system: System, samples: int) -> float:
    """p50 of the latency measurement with a bare redis-py worker (``peers/bare_worker.py``) in its own process."""
    bench.flush()
    python = bench.pythons[system.venv]
    workers = Workers([[python, str(PEERS / "bare_worker.py")]], bench.env, bench.work, bench.work / "bare.log")
    try:
        return statistics.median(bench.drive(system, "latency_floor", samples)["samples_ms"])
    finally:
        workers.stop()


def latencies(bench: Bench, system: System, samples: int, result_samples: int) -> dict[str, list[float]]:
    bench.flush()
    workers = bench.workers(system, system.idle_worker or system.drain_workers, 1, "idle")
    answers = {}
    try:
        for command, count in (("latency", samples), ("result", result_samples)):
            try:
                answers[command] = bench.drive(system, command, count)["samples_ms"]
            except Failed as exc:
                if workers.all_exited():
                    raise Failed(f"worker exited: {workers.tail()}") from exc
                system.errors[command] = str(exc)
    finally:
        workers.stop()
    return answers


def measure(bench: Bench, system: System, args: argparse.Namespace, floors: Floors) -> None:
    """One run of every measurement for one system; failures become that column's reason."""

    def record(column: str, what: Callable[[], float | dict[str, float]]) -> None:
        """A rate, or a dict of figures whose "rate" is the column's and each other is ``<column>_<key>``."""
        if column in system.errors:
            return  # it failed in an earlier run: no point in trying again
        print(f"  {system.name}: {column}", end=" ", file=sys.stderr, flush=True)
        try:
            answer = what()
        except Failed as exc:
            system.errors[column] = str(exc)
        except Exception as exc:  # a bug in a driver should not cost the other rows
            system.errors[column] = f"{type(exc).__name__}: {exc}"
        else:
            figures = answer if isinstance(answer, dict) else {"rate": answer}
            for key, number in figures.items():
                system.results.setdefault(column if key == "rate" else f"{column}_{key}", []).append(number)
        if column in system.errors:
            print(f"failed: {system.errors[column]}", file=sys.stderr)
        elif isinstance(answer, dict):
            print(
                f"{answer['rate']:,.0f}/s, steady {answer['steady']:,.0f}/s (first task after "
                f"{answer['startup']:.2f} s); per task: worker CPU {answer['wcpu']:.0f} µs, "
                f"Redis CPU {answer['rcpu']:.0f} µs, {answer['rcmd']:.2f} Redis commands",
                file=sys.stderr,
            )
        else:
            print(f"{answer:,.0f}/s", file=sys.stderr)

    if system.kind == "yardstick":
        for processes in args.procs:
            record(f"drain{processes}", lambda processes=processes: bench.drain(system, processes, args.tasks))
        return

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
            floors.latency.append(latency_floor(bench, system, args.samples))
            print(f"  the latency floor (a bare worker): p50 {floors.latency[-1]:.2f} ms", file=sys.stderr)
        except Failed as exc:
            print(f"  the latency floor failed: {exc}", file=sys.stderr)
    print(f"  {system.name}:", end=" ", file=sys.stderr, flush=True)
    try:
        answers = latencies(bench, system, args.samples, args.result_samples)
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

RATE = "rate"  # per second: higher is better
TIME = "ms"  # lower is better
COST = "µs"  # per task: lower is better
COUNT = "cmds"  # per task: lower is better
FORMATS = {RATE: "{:,.0f}", TIME: "{:.2f}", COST: "{:.0f}", COUNT: "{:.2f}"}
DRAIN_ONLY = ("single", "bulk", "latency", "result")  # the columns the yardstick has no figure for


def drain_columns(n: int) -> list[tuple[str, str, str]]:
    return [
        (f"drain{n}", f"drain/s ({n} procs)", RATE),
        (f"drain{n}_steady", f"steady/s ({n})", RATE),
        (f"drain{n}_wcpu", f"worker CPU µs/task ({n})", COST),
        (f"drain{n}_rcpu", f"Redis CPU µs/task ({n})", COST),
        (f"drain{n}_rcmd", f"Redis cmds/task ({n})", COUNT),
    ]


def columns(procs: list[int]) -> list[tuple[str, str, str]]:
    """(key, heading, kind) for each column after the name and version."""
    return [
        ("single", "single enqueue/s", RATE),
        ("bulk", "bulk enqueue/s", RATE),
        *(column for n in procs for column in drain_columns(n)),
        ("latency_p50", "latency p50 ms", TIME),
        ("latency_p99", "latency p99 ms", TIME),
        ("result_p50", "result p50 ms", TIME),
        ("result_p99", "result p99 ms", TIME),
    ]


def json_only(procs: list[int]) -> list[str]:
    """Figures kept in the JSON but not in the table."""
    return [f"drain{n}_{key}" for n in procs for key in ("startup", "wcpu_all", "rcpu_all", "rcmd_all")]


def error_key(key: str) -> str:
    return key.split("_")[0]


def value(rows: dict[str, System], system: System, key: str) -> float | None:
    source = rows[system.enqueue_as] if system.enqueue_as and key in ("single", "bulk") else system
    if error_key(key) in source.errors or not source.results.get(key):
        return None
    return statistics.median(source.results[key])


def cell(rows: dict[str, System], system: System, key: str, kind: str) -> str:
    if system.kind == "yardstick" and error_key(key) in DRAIN_ONLY:
        return "—"
    if system.enqueue_as and key in ("single", "bulk"):
        return f"as {rows[system.enqueue_as].name}"
    number = value(rows, system, key)
    if number is not None:
        return FORMATS[kind].format(number)
    return f"n/a ({system.errors.get(error_key(key), 'not measured')})"


def better(kind: str) -> Callable[..., tuple[float, str]]:
    return max if kind == RATE else min


def best_peer(rows: dict[str, System], key: str, kind: str) -> tuple[float, System] | None:
    """The best figure of any peer row (a peer at its defaults or at its faster setting) for ``key``."""
    found = [
        (number, system)
        for system in rows.values()
        if system.kind == "peer"
        and not (system.enqueue_as and key in ("single", "bulk"))
        and (number := value(rows, system, key)) is not None
    ]
    return better(kind)(found, key=lambda pair: pair[0]) if found else None


def comparisons(rows: dict[str, System], procs: list[int]) -> dict[str, dict[str, dict[str, object]]]:
    """yotaq's ratio to the best peer for every column, and to the bare worker for the drain's: as data."""
    answer: dict[str, dict[str, dict[str, object]]] = {"best_peer": {}, "bare": {}}
    yotaq, bare = rows.get("yotaq"), rows.get("bare")
    if yotaq is None:
        return answer
    for key, _, kind in columns(procs):
        mine = value(rows, yotaq, key)
        best = best_peer(rows, key, kind)
        if mine is not None and best is not None:
            answer["best_peer"][key] = {"yotaq": mine, "peer": best[1].name, "theirs": best[0], "ratio": mine / best[0]}
        theirs = value(rows, bare, key) if bare is not None else None
        if key.startswith("drain") and mine is not None and theirs:
            answer["bare"][key] = {"yotaq": mine, "bare": theirs, "ratio": mine / theirs}
    return answer


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
    compared = comparisons(rows, args.procs)
    headings = {key: heading for key, heading, _ in cols}
    kinds = {key: kind for key, _, kind in cols}
    if "yotaq" in rows and any(system.kind == "peer" for system in rows.values()):
        for n in args.procs:
            mine = compared["best_peer"].get(f"drain{n}")
            steady = compared["best_peer"].get(f"drain{n}_steady")
            if mine:
                lines.append(
                    f"**yotaq's drain ({n} procs) / the fastest peer at its best, {mine['peer']}: "
                    f"{mine['ratio']:.2f}x** ({mine['yotaq']:,.0f}/s vs {mine['theirs']:,.0f}/s)"
                    + (
                        f"; in steady state: {steady['ratio']:.2f}x, next to {steady['peer']} "
                        f"({steady['theirs']:,.0f}/s)"
                        if steady
                        else ""
                    )
                )
        lines += [
            "",
            "yotaq next to the best peer row of this run for each column (for rates, > 1 is faster; for latencies "
            "and costs per task, < 1 is less):",
        ]
        for key, heading, kind in cols:
            entry = compared["best_peer"].get(key)
            if entry is None:
                lines.append(f"- {heading}: n/a")
                continue
            shown = FORMATS[kind].format(entry["theirs"])
            lines.append(f"- {heading}: {entry['ratio']:.2f}x the best peer, {entry['peer']} ({shown})")
        lines.append("")
    if compared["bare"]:
        lines.append(
            "yotaq next to the bare batch worker (no guarantees: batches of 64, one round trip per batch) in the "
            "same run, the price of its guarantees:"
        )
        for key, entry in compared["bare"].items():
            bold = "**" if kinds[key] == RATE and "_" not in key else ""
            lines.append(
                f"- {bold}{headings[key]}: yotaq / bare = {entry['ratio']:.2f}x{bold} "
                f"({FORMATS[kinds[key]].format(entry['yotaq'])} vs {FORMATS[kinds[key]].format(entry['bare'])})"
            )
        lines.append("")
    if "yotaq" in rows and (floors.enqueue or floors.latency):
        yotaq = rows["yotaq"]
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
    settings = [f"{system.name}: `{system.setting}`" for system in rows.values() if system.setting]
    lines += [
        "drain/s: from starting the workers to the last task; steady/s: from the first finished task; worker CPU "
        "(all their processes), Redis CPU (INFO cpu) and Redis commands (INFO commandstats, less this script's) per "
        "task, from the first finished task to the last."
        + (
            " Rows named with a setting run a peer at the faster setting its docs give (" + "; ".join(settings) + ")."
            if settings
            else ""
        ),
        "latency: enqueue a task that does RPUSH, until a BLPOP waiter has it; result: the same through the "
        "system's result API at its defaults (huey's and arq's poll, from 50 ms and every 500 ms); arq's worker also "
        "polls its queue every 500 ms (poll_delay), so with a few ms between samples its tasks wait for a full poll",
        "",
    ]
    peer_python = str(args.peer_venv / "bin" / "python")
    mine, theirs = venv_info(sys.executable), venv_info(peer_python)
    if "peers" in {system.venv for system in rows.values()} and "hiredis yes" not in theirs:
        lines += ["WARNING: the peers' venv has no hiredis: they are not measured at their best", ""]
    if "hiredis yes" not in mine:
        lines += ["WARNING: yotaq's venv has no hiredis (pip install -e '.[hiredis]'): not like for like", ""]
    lines += [
        f"{datetime.date.today().isoformat()}; {os.cpu_count()} cores, {cpu_model()}; Redis {redis_version} "
        f"(loopback, appendonly everysec); yotaq venv: {mine}; peers' venv: {theirs}",
        f"command: {shown_python()} {shlex.join(sys.argv)}",
        f"medians of {args.runs} run(s); single enqueue {args.single:,} tasks, bulk and drains {args.tasks:,} tasks, "
        f"latency {args.samples} samples, result {args.result_samples} samples; counter polled every "
        f"{1000 * args.poll_s:g} ms",
    ]
    return "\n".join(lines)


def document_of(
    rows: dict[str, System], args: argparse.Namespace, redis_version: str, floors: Floors
) -> dict[str, object]:
    """Every run's values, their medians and the comparisons, for charts (benchmarks/results/latest.json)."""
    keys = [key for key, _, _ in columns(args.procs)] + json_only(args.procs)
    units = {key: kind for key, _, kind in columns(args.procs)}
    units.update(
        {key: "s" if key.endswith("startup") else (COUNT if "rcmd" in key else COST) for key in json_only(args.procs)}
    )
    document = {
        **header(redis=redis_version),
        "venvs": {"yotaq": venv_info(sys.executable), "peers": venv_info(str(args.peer_venv / "bin" / "python"))},
        "settings": {
            "tasks": args.tasks,
            "single": args.single,
            "runs": args.runs,
            "procs": args.procs,
            "samples": args.samples,
            "result_samples": args.result_samples,
            "poll_ms": 1000 * args.poll_s,
        },
        "units": units,
        "systems": [
            {
                "key": system.key,
                "name": system.name,
                "version": system.version,
                "kind": system.kind,
                "base": system.enqueue_as,
                "setting": system.setting,
                "runs": {key: system.results[key] for key in keys if key in system.results},
                "median": {key: number for key in keys if (number := value(rows, system, key)) is not None},
                "errors": system.errors,
            }
            for system in rows.values()
        ],
        "comparisons": comparisons(rows, args.procs),
        "floors": {
            "enqueue_rate": floors.enqueue,
            "enqueue_ratio": floors.enqueue_ratio,
            "latency_p50_ms": floors.latency,
        },
    }
    return document


def main() -> None:
    all_systems = systems()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000, help="tasks per bulk enqueue and per drain")
    parser.add_argument("--single", type=int, help="tasks for single enqueue (default: --tasks, at most 5,000)")
    parser.add_argument("--samples", type=int, default=300, help="latency samples")
    parser.add_argument("--result-samples", type=int, default=50, help="result-API latency samples")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--procs", type=numbers, default=[2, 8])
    parser.add_argument(
        "--systems",
        type=names,
        default=list(all_systems),
        help="comma-separated, from: " + ", ".join(all_systems),
    )
    parser.add_argument("--peer-venv", type=Path, default=ROOT / ".venv-bench")
    parser.add_argument("--poll-ms", type=float, default=POLL_MS, help="how often the drain reads the counter")
    parser.add_argument("--json", type=Path, default=LATEST, help=f"where to write the run's numbers ({LATEST})")
    args = parser.parse_args()
    args.single = args.single or min(args.tasks, 5_000)
    args.poll_s = args.poll_ms / 1000
    known(parser, args.systems, all_systems, "systems")
    rows = {name: all_systems[name] for name in args.systems}
    for system in rows.values():  # a row whose source of enqueue numbers is not run measures them itself
        if system.enqueue_as and system.enqueue_as not in rows:
            system.enqueue_as = None
    floors = Floors()
    stop_on_signals()
    # pip wrote the peers' bytecode when it installed them; an editable yotaq has none, and with
    # PYTHONDONTWRITEBYTECODE set its workers would compile it again at every start: compile it once.
    compileall.compile_dir(Path(yotaq.__file__).parent, quiet=1)
    with local_redis("yotaq-compare-") as (tmp, server):
        bench = Bench(server.url, tmp, args.peer_venv, args.poll_s)
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
    write_json(args.json, document_of(rows, args, redis_version, floors))
    print(f"the run's numbers: {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""One system's drain in several variants side by side (venv, command line, environment, Redis settings):
what a setting or an install changes, measured with compare.py's drain on one Redis, in interleaved rounds.

    .venv/bin/python benchmarks/variants.py --driver dramatiq --tasks 5000 --runs 3 \\
        'default | .venv-bench | dramatiq dramatiq_tasks --processes {procs}' \\
        'no hiredis | /tmp/venv-nohiredis | dramatiq dramatiq_tasks --processes {procs}' \\
        '2 x -p 1 | .venv-bench | dramatiq dramatiq_tasks -p 1 | each=2' \\
        '--threads 1 | .venv-bench | dramatiq dramatiq_tasks --processes {procs} --threads 1' \\
        'poll 1 ms | .venv-bench | dramatiq dramatiq_tasks --processes {procs} | poll=1' \\
        'no AOF | .venv-bench | dramatiq dramatiq_tasks --processes {procs} | aof=no'

Each variant is ``LABEL | VENV | COMMAND [| OPTION ...]``: VENV a directory with ``bin/python`` (its ``bin/`` is
where COMMAND's program is looked up first; ``python`` is that venv's), COMMAND with ``{procs}`` for
``--procs``. Options: ``each=N`` runs N copies of COMMAND instead of one; ``poll=MS`` polls the counter every
MS ms (compare.py's default: 10); ``aof=no`` turns Redis's append-only file off for that variant's drains;
``env=NAME=VALUE`` adds to the workers' environment (repeatable). The driver ``peers/drive_<driver>.py`` fills
the queue under the variant's venv. Round r runs every variant, in an order that rotates by one each round.

Prints one markdown table of medians (with the drain of each run): drain/s from the workers' start, steady/s
from the first finished task, seconds to the first finished task, and per task in steady state the workers'
CPU, Redis's CPU and Redis commands, plus the workers' CPU per task from their start; and each variant's
steady rate over the first variant's in the same run (the median of those ratios: on a shared machine, a
ratio of two drains run a few seconds apart is steadier than either rate).
benchmarks/README.md has the run that explained the dramatiq gap of issue 20.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import driver
from compare import System
from driver import ROOT

KEYS = [
    ("rate", "drain/s", "{:,.0f}"),
    ("steady", "steady/s", "{:,.0f}"),
    ("startup", "first task after s", "{:.2f}"),
    ("wcpu", "worker CPU µs/task", "{:.0f}"),
    ("wcpu_all", "worker CPU µs/task from start", "{:.0f}"),
    ("rcpu", "Redis CPU µs/task", "{:.0f}"),
    ("rcmd", "Redis cmds/task", "{:.2f}"),
]


@dataclass
class Variant:
    label: str
    venv: Path
    command: list[str]
    each: int = 1
    poll_ms: float = 1000 * driver.POLL_S
    aof: bool = True
    env: dict[str, str] = field(default_factory=dict)
    results: dict[str, list[float]] = field(default_factory=dict)
    error: str = ""


def parse(spec: str) -> Variant:
    parts = [part.strip() for part in spec.split("|")]
    if len(parts) < 3:
        raise SystemExit(f"a variant is 'LABEL | VENV | COMMAND [| OPTION ...]', not {spec!r}")
    label, venv, command, *options = parts
    variant = Variant(
        label, (ROOT / venv).resolve() if not Path(venv).is_absolute() else Path(venv), shlex.split(command)
    )
    for option in options:
        name, _, text = option.partition("=")
        if name == "each":
            variant.each = int(text)
        elif name == "poll":
            variant.poll_ms = float(text)
        elif name == "aof":
            variant.aof = text not in ("no", "off", "0")
        elif name == "env":
            key, _, value = text.partition("=")
            variant.env[key] = value
        else:
            raise SystemExit(f"unknown option {option!r} in {spec!r}")
    if not (variant.venv / "bin" / "python").exists():
        raise SystemExit(f"{variant.label}: no {variant.venv}/bin/python")
    return variant


def commands(variant: Variant) -> driver.Commands:
    def make(python: str, bin_dir: str, n: int) -> list[list[str]]:
        words = [word.replace("{procs}", str(n)) for word in variant.command]
        program = Path(bin_dir) / words[0]
        if words[0] == "python":
            words[0] = python
        elif program.exists():
            words[0] = str(program)
        return [list(words) for _ in range(variant.each)]

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="LABEL | VENV | COMMAND [| OPTION ...]")
    parser.add_argument("--driver", required=True, help="peers/drive_<driver>.py fills the queue")
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--procs", type=int, default=2)
    args = parser.parse_args()
    variants = [parse(spec) for spec in args.variants]
    driver.stop_on_signals()
    with driver.local_redis("yotaq-variants-") as (tmp, server):
        benches = {}
        for variant in variants:
            bench = driver.Bench(server.url, tmp, variant.venv, variant.poll_ms / 1000)
            system = System(
                variant.label.replace(" ", "-"), variant.label, args.driver, "peers", commands(variant), env=variant.env
            )
            benches[variant.label] = (bench, system)
        redis_version = benches[variants[0].label][0].redis.info("server")["redis_version"]
        for run in range(args.runs):
            order = variants[run % len(variants) :] + variants[: run % len(variants)]
            print(f"run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
            for variant in order:
                if variant.error:
                    continue
                bench, system = benches[variant.label]
                bench.redis.config_set("appendonly", "yes" if variant.aof else "no")
                try:
                    answer = bench.drain(system, args.procs, args.tasks)
                except driver.Failed as exc:
                    variant.error = str(exc)
                    print(f"  {variant.label}: failed: {exc}", file=sys.stderr, flush=True)
                    continue
                finally:
                    bench.redis.config_set("appendonly", "yes")
                for key, number in answer.items():
                    variant.results.setdefault(key, []).append(number)
                shown = ", ".join(f"{key} {form.format(answer[key])}" for key, _, form in KEYS)
                print(f"  {variant.label}: {shown}", file=sys.stderr, flush=True)
        for bench, _ in benches.values():
            bench.redis.close()
    first = variants[0]
    lines = [
        "| variant | "
        + " | ".join(heading for _, heading, _ in KEYS)
        + f" | drain/s, each run | steady/s / {first.label}'s, median of each run's |",
        "|---|" + "---:|" * (len(KEYS) + 2),
    ]
    for variant in variants:
        if variant.error:
            lines.append(f"| {variant.label} | n/a ({variant.error}) |" + " |" * (len(KEYS) + 1))
            continue
        cells = [form.format(statistics.median(variant.results[key])) for key, _, form in KEYS]
        runs = ", ".join(f"{number:,.0f}" for number in variant.results["rate"])
        pairs = list(zip(variant.results["steady"], first.results.get("steady", []), strict=False))
        ratio = f"{statistics.median(mine / theirs for mine, theirs in pairs):.2f}x" if pairs else "n/a"
        lines.append(f"| {variant.label} | " + " | ".join(cells) + f" | {runs} | {ratio} |")
    lines += [
        "",
        *(
            f"- {variant.label}: {driver.venv_info(str(variant.venv / 'bin' / 'python'))}; "
            f"`{' '.join(variant.command)}`" + (f" x{variant.each}" if variant.each > 1 else "")
            for variant in variants
        ),
        "",
        f"{datetime.date.today().isoformat()}; {os.cpu_count()} cores, {driver.cpu_model()}; Redis {redis_version}; "
        f"medians of {args.runs} interleaved run(s) of {args.tasks:,} tasks, {args.procs} processes",
        f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()

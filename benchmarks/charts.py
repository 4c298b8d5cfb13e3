"""The benchmarks page's charts and table, from the JSON that ``benchmarks/compare.py`` writes.

    .venv/bin/python benchmarks/charts.py [--json benchmarks/results/latest.json] [--out docs/img]

Draws PNG charts (matplotlib, the ``docs`` extra) of every system's figures into ``--out``:
``bench-drain.png`` (tasks drained per second, per number of worker processes), ``bench-cpu.png`` (worker
and Redis CPU per task), ``bench-enqueue.png`` (single and bulk enqueue rates) and ``bench-latency.png``
(p50 and p99 of the idle latency and of the result wait). Nothing is typed in: every number comes from
the JSON, so a new run redraws them (``make charts``). ``table()`` is the results table the docs show,
from the same JSON (docs/hooks.py calls it at build time).

From ``benchmarks/results/fleet.json`` (``benchmarks/fleet.py``'s, which draws it too), when it is there:
``bench-fleet.png``, Redis commands per second of idle fleets against their size, one line per system, one
panel per number of queues (``draw_fleet``); ``fleet_table()`` is that run's table, on stdout and in the docs.
``wakeups_table()`` is the same for ``benchmarks/results/wakeups.json`` (``benchmarks/wakeups.py``'s).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
FLEET_RESULTS = ROOT / "benchmarks" / "results" / "fleet.json"
OUT = ROOT / "docs" / "img"
YOTAQ_COLOUR, PEER_COLOUR, BARE_COLOUR = "#3f51b5", "#9e9e9e", "#ff8a65"
LATE_MS = 100.0  # wakeups_table counts the wake-ups later than this


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _systems(document: dict[str, Any], key: str) -> list[tuple[str, float, str]]:
    """(name, median, kind) of each system that has a figure for ``key``, in the document's order."""
    return [
        (system["name"], system["median"][key], system.get("kind", "peer"))
        for system in document["systems"]
        if key in system.get("median", {})
    ]


def _colour(name: str, kind: str) -> str:
    if name.startswith("yotaq"):
        return YOTAQ_COLOUR
    return BARE_COLOUR if kind == "yardstick" else PEER_COLOUR


def _subtitle(document: dict[str, Any]) -> str:
    machine = document.get("machine", {})
    settings = document.get("settings", {})
    return (
        f"{document.get('date', '')[:10]}, {machine.get('cores', '?')} cores, Redis {machine.get('redis', '?')}; "
        f"{settings.get('tasks', '?'):,} tasks, median of {settings.get('runs', '?')} run(s)"
    )


def _number(value: float) -> str:
    """A figure with as many decimals as its size deserves: 21,384, 52.4, 2.04."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _with_unit(value: float, unit: str) -> str:
    """A bar's label: the figure and its unit (``tasks/s`` as ``/s``), so a chart read alone says what it counts."""
    shown = unit.removesuffix(" (log)").removeprefix("tasks")
    return f"{_number(value)}{shown}" if shown.startswith("/") else f"{_number(value)} {shown.replace(' per task', '')}"


def _bars(ax: Any, document: dict[str, Any], panel: Panel) -> bool:
    rows = _systems(document, panel.key)
    if not rows:
        ax.set_visible(False)
        return False
    names = [name for name, _, _ in rows]
    values = [number for _, number, _ in rows]
    colours = [_colour(name, kind) for name, _, kind in rows]
    height = 0.8 if panel.beside is None else 0.4
    positions = list(range(len(rows)))
    bars = ax.barh([y - (0 if panel.beside is None else height / 2) for y in positions], values, height, color=colours)
    labelled = [(bar, value) for bar, value in zip(bars, values, strict=True)]
    if panel.beside is not None:  # the second figure (p99) under the first, lighter, for the same systems
        second = dict((name, number) for name, number, _ in _systems(document, panel.beside))
        extra = [
            (y, second[name], colour)
            for y, name, colour in zip(positions, names, colours, strict=True)
            if name in second
        ]
        more = ax.barh(
            [y + height / 2 for y, _, _ in extra],
            [v for _, v, _ in extra],
            height,
            color=[c for _, _, c in extra],
            alpha=0.45,
            hatch="//",
            edgecolor="white",
        )
        labelled += [(bar, value) for bar, (_, value, _) in zip(more, extra, strict=True)]
        ax.legend(
            [bars[0], more[0]] if len(more) else [bars[0]],
            list(panel.legend),
            fontsize=8,
            frameon=False,
            loc="upper right",
        )
    ax.set_yticks(positions, names)
    ax.invert_yaxis()  # the document's order, top down
    ax.set_title(panel.title, fontsize=11, loc="left")
    ax.set_xlabel(panel.unit)
    if panel.log:
        ax.set_xscale("log")
    for bar, number in labelled:
        ax.annotate(
            _with_unit(number, panel.unit),
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.margins(x=0.22)
    ax.spines[["top", "right"]].set_visible(False)
    return True


def _figure(document: dict[str, Any], panels: list[Panel], path: Path, heading: str) -> bool:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    present = [panel for panel in panels if _systems(document, panel.key)]
    if not present:
        return False
    rows = max(len(_systems(document, panel.key)) for panel in present)
    tall = 1.6 if any(panel.beside for panel in present) else 1.0
    fig, axes = plt.subplots(1, len(present), figsize=(5.6 * len(present), 0.45 * rows * tall + 1.8), squeeze=False)
    for ax, panel in zip(axes[0], present, strict=True):
        _bars(ax, document, panel)
    fig.suptitle(f"{heading}\n{_subtitle(document)}", fontsize=11, x=0.01, ha="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})  # no version stamp: a redraw of the same run is equal
    plt.close(fig)
    return True


class Panel(NamedTuple):
    """One panel of a chart: a figure of every system (``key`` in its medians), and maybe a second beside it."""

    key: str
    title: str
    unit: str  # on the axis, and after every bar's figure
    log: bool = False
    beside: str | None = None  # a second figure, drawn under the first for each system (a p99 beside a p50)
    legend: tuple[str, ...] = ()


def charts(document: dict[str, Any]) -> dict[str, tuple[str, list[Panel]]]:
    """Each chart's file name, heading and panels."""
    procs = document.get("settings", {}).get("procs", [2])
    first = procs[0]
    latency = ("p50", "p99 (hatched)")
    return {
        "bench-drain.png": (
            "Drain: tasks run per second, queued first (higher is better)",
            [Panel(f"drain{n}", f"{n} worker processes", "tasks/s") for n in procs],
        ),
        "bench-cpu.png": (  # logarithmic: rq's 21,000 µs would flatten yotaq's 240 into a hairline
            "CPU per task during the drain (lower is better; log scale)",
            [
                Panel(f"drain{first}_wcpu", f"worker CPU ({first} procs)", "µs per task (log)", log=True),
                Panel(f"drain{first}_rcpu", f"Redis CPU ({first} procs)", "µs per task (log)", log=True),
            ],
        ),
        "bench-enqueue.png": (
            "Enqueue rate (higher is better)",
            [Panel("single", "one call per task", "tasks/s"), Panel("bulk", "bulk API", "tasks/s (log)", log=True)],
        ),
        "bench-latency.png": (
            "Latency, one idle worker: p50 and p99 (lower is better; log scale)",
            [
                Panel("latency_p50", "enqueue to task start", "ms (log)", True, "latency_p99", latency),
                Panel("result_p50", "enqueue to result in hand", "ms (log)", True, "result_p99", latency),
            ],
        ),
    }


def draw(document: dict[str, Any], out: Path) -> list[Path]:
    """Draw every chart there are numbers for; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (heading, panels) in charts(document).items():
        if _figure(document, panels, out / name, heading):
            written.append(out / name)
    return written


def shown_command(command: str) -> str:
    """A recorded command line as a reader runs it from a clone: no path of the machine it ran on."""
    words = []
    for word in command.split():
        if word.startswith("/"):
            for anchor in ("/.venv", "/benchmarks/", "/loadtest/"):
                if anchor in word:
                    word = word[word.index(anchor) + 1 :]
                    break
            else:
                word = word.replace(f"{ROOT}/", "") if word.startswith(f"{ROOT}/") else Path(word).name
        words.append(word)
    return " ".join(words)


def table(document: dict[str, Any]) -> str:
    """The results table, as Markdown: one row per system, the medians of the run; with the fewest
    processes, the figures that explain the drain; then yotaq's drain next to the fastest peer's and the
    bare worker's."""
    procs = document.get("settings", {}).get("procs", [2])
    first = procs[0]
    columns = [("single", "single enqueue/s", "{:,.0f}"), ("bulk", "bulk enqueue/s", "{:,.0f}")]
    columns += [
        (f"drain{first}", f"drain/s ({first} procs)", "{:,.0f}"),
        (f"drain{first}_steady", f"steady/s ({first})", "{:,.0f}"),
        (f"drain{first}_wcpu", f"worker CPU µs/task ({first})", "{:,.0f}"),
        (f"drain{first}_rcpu", f"Redis CPU µs/task ({first})", "{:,.0f}"),
        (f"drain{first}_rcmd", f"Redis cmds/task ({first})", "{:.2f}"),
    ]
    columns += [(f"drain{n}", f"drain/s ({n} procs)", "{:,.0f}") for n in procs[1:]]
    columns += [
        ("latency_p50", "latency p50 ms", "{:.2f}"),
        ("latency_p99", "latency p99 ms", "{:.2f}"),
        ("result_p50", "result p50 ms", "{:.2f}"),
        ("result_p99", "result p99 ms", "{:.2f}"),
    ]
    lines = [
        "| system | version | " + " | ".join(heading for _, heading, _ in columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    for system in document["systems"]:
        cells = []
        for key, _, fmt in columns:
            number = system.get("median", {}).get(key)
            cells.append(fmt.format(number) if number is not None else "—")
        lines.append(f"| {system['name']} | {system.get('version', '')} | " + " | ".join(cells) + " |")
    command = shown_command(document.get("command", "?"))  # the machine's paths mean nothing to a reader
    return "\n".join([*lines, "", *_ratios(document, first), f"{_subtitle(document)}; command: `{command}`"])


def _ratios(document: dict[str, Any], procs: int) -> list[str]:
    """yotaq's drain over the fastest peer's at its best, and over the bare worker's, as compare.py found them."""
    comparisons = document.get("comparisons", {})
    lines = []
    for key, what in ((f"drain{procs}", "drain"), (f"drain{procs}_steady", "steady drain")):
        peer = comparisons.get("best_peer", {}).get(key)
        bare = comparisons.get("bare", {}).get(key)
        if peer:
            line = f"yotaq's {what} ({procs} procs): **{peer['ratio']:.2f}x** the fastest peer's, {peer['peer']}"
            line += f" ({peer['yotaq']:,.0f} vs {peer['theirs']:,.0f}/s)"
            if bare:
                line += f"; {bare['ratio']:.2f}x the bare worker's ({bare['bare']:,.0f}/s)"
            lines += [line + ".", ""]
    return lines


# -- idle fleets (benchmarks/fleet.py) ----------------------------------------------------------------------

ENQUEUE_BOUND = 0.75  # a drain whose enqueue took more than this share of its time is marked: the enqueue's rate
FLEET_COLOURS = {"rq": "#d62728", "huey": "#2ca02c", "dramatiq": "#ff7f0e", "celery": "#8c564b", "arq": "#17becf"}


def _fleet_name(system: dict[str, Any], queues: int) -> str:
    return f"{system['name']} (one per queue)" if system.get("per_queue") and queues > 1 else system["name"]


def _fleet_subtitle(document: dict[str, Any]) -> str:
    machine, settings = document.get("machine", {}), document.get("settings", {})
    drain = f", then {settings['tasks']:,} tasks drained" if settings.get("tasks") else ""
    return (
        f"{document.get('date', '')[:10]}, {machine.get('cores', '?')} cores, Redis {machine.get('redis', '?')}; "
        f"idle over {settings.get('window_s', '?')} s{drain}"
    )


def draw_fleet(document: dict[str, Any], path: Path) -> None:
    """Redis commands/s of each idle fleet against its size: one panel per number of queues, one line per system."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fleets = [entry for entry in document["fleets"] if "idle" in entry]
    counts = sorted({entry["queues"] for entry in fleets}) or [1]
    sizes = sorted({entry["fleet"] for entry in fleets})
    fig, axes = plt.subplots(1, len(counts), figsize=(5.2 * len(counts), 4.6), squeeze=False, sharey=True)
    for ax, count in zip(axes[0], counts, strict=True):
        for system in document["systems"]:
            points = sorted(
                (entry["fleet"], entry["idle"]["commands_per_s"])
                for entry in fleets
                if entry["system"] == system["key"] and entry["queues"] == count
            )
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            mine = system["key"] == "yotaq"
            ax.plot(
                xs,
                ys,
                marker="o",
                linewidth=2.6 if mine else 1.4,
                color=YOTAQ_COLOUR if mine else FLEET_COLOURS.get(system["key"], PEER_COLOUR),
                label=_fleet_name(system, count),
            )
            ax.annotate(
                f"{ys[-1]:,.{0 if ys[-1] >= 10 else 1}f}/s",
                (xs[-1], ys[-1]),
                xytext=(4, 0),
                textcoords="offset points",
                fontsize=8,
            )
        if len(sizes) > 1:
            ax.set_xscale("log")
        ax.set_xticks(sizes, [str(size) for size in sizes])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_yscale("symlog", linthresh=1)  # logarithmic above 1/s, linear below: an idle rq shows 0
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:,.10g}"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(f"{count} queue{'s' if count > 1 else ''} per worker", fontsize=11, loc="left")
        ax.set_xlabel("workers in the fleet")
        ax.margins(x=0.25)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=8, frameon=False)
    axes[0][0].set_ylabel("Redis commands/s (log above 1)")
    fig.suptitle(
        f"Idle fleets: what they cost Redis in commands per second (lower is better)\n{_fleet_subtitle(document)}",
        fontsize=11,
        x=0.01,
        ha="left",
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def _top_commands(by_command: dict[str, float], count: int = 3) -> str:
    ranked = sorted(by_command.items(), key=lambda item: -item[1])[:count]
    return ", ".join(f"{name.replace('|', ' ').upper()} {rate:,.1f}" for name, rate in ranked) or "none"


def _drain_note(settings: dict[str, Any]) -> str:
    if not settings.get("tasks"):
        return "No drain (--no-drain)."
    if settings.get("enqueue") == "live":
        return (
            f"drain/s: {settings['tasks']:,} no-op tasks enqueued over the queues while the fleet runs, from the first "
            "enqueue call to the last task done; the enqueue's own time beside it. * the enqueue took over "
            f"{100 * ENQUEUE_BOUND:.0f}% of the drain's time: that rate is the enqueue's (sharing the cores with the "
            "fleet) more than the fleet's."
        )
    return (
        f"drain/s: {settings['tasks']:,} no-op tasks queued first, over the queues, while the fleet was paused "
        "(SIGSTOP), then from its resumption (SIGCONT) to the last task done; the enqueue's own time beside it."
    )


def fleet_table(document: dict[str, Any]) -> str:
    """The table of a benchmarks/fleet.py run, as Markdown: one row per fleet and system."""
    systems = {system["key"]: system for system in document["systems"]}
    headings = [
        "fleet",
        "queues",
        "system",
        "workers",
        "processes",
        "Redis cmds/s",
        "Redis CPU %",
        "Redis clients",
        "RSS MiB",
        "PSS MiB",
        "workers' CPU %",
        "drain/s",
        "enqueued / drained in s",
        "top commands/s",
    ]
    lines = ["| " + " | ".join(headings) + " |", "|" + "---:|" * 2 + "---|" + "---:|" * 10 + "---|"]
    settings = document.get("settings", {})
    draining, live = bool(settings.get("tasks")), settings.get("enqueue") == "live"
    for entry in document["fleets"]:
        system = systems.get(entry["system"], {"key": entry["system"], "name": entry["system"]})
        workers = f"{entry.get('workers', '?')}"
        if system.get("per_queue") and entry["queues"] > 1:
            workers += f" ({entry['fleet']} x {entry['queues']})"
        cells = [str(entry["fleet"]), str(entry["queues"]), system["name"], workers]
        found = entry.get("idle")
        if found is None:
            cells += [f"n/a ({entry.get('errors', {}).get('idle', 'not measured')})"] + ["—"] * 9
        else:
            cells += [
                str(found["processes"]),
                f"{found['commands_per_s']:,.1f}",
                f"{found['redis_cpu_pct']:.2f}",
                str(found["clients"]),
                f"{found['rss_mib']:,.0f}",
                f"{found['pss_mib']:,.0f}",
                f"{found['worker_cpu_pct']:.1f}",
            ]
            drained = entry.get("drain")
            if drained:
                marked = "*" if live and drained["enqueue_s"] > ENQUEUE_BOUND * drained["drain_s"] else ""
                cells += [f"{drained['rate']:,.0f}{marked}", f"{drained['enqueue_s']:.1f} / {drained['drain_s']:.1f}"]
            elif draining:
                cells += [f"n/a ({entry.get('errors', {}).get('drain', 'not measured')})", "—"]
            else:
                cells += ["—", "—"]
            cells.append(_top_commands(found.get("by_command", {})))
        lines.append("| " + " | ".join(cells) + " |")
    per_queue = [system for system in document["systems"] if system.get("per_queue")]
    notes = [
        "",
        f"Idle: after every worker holds a connection to Redis and {settings.get('settle_s', '?'):g} s more, over "
        f"{settings.get('window_s', '?'):g} s: Redis commands/s (INFO commandstats, the harness's INFOs left out), "
        "Redis CPU (INFO cpu, % of one core), clients connected (the harness's left out), the workers' CPU (% of one "
        "core) and, at the end, the total RSS and PSS of every process of the fleet. " + _drain_note(settings),
    ]
    if per_queue:
        notes.append(
            "Cannot serve several queues in one worker, so their fleets of N on Q queues are N x Q workers, one per "
            "queue: " + "; ".join(f"{system['name']}: {system['how']}" for system in per_queue) + "."
        )
    versions = ", ".join(f"{system['name']} {system.get('version') or 'n/a'}" for system in document["systems"])
    command = shown_command(document.get("command", "?"))
    venvs = document.get("venvs", {})
    notes += [
        "",
        f"{_fleet_subtitle(document)}; {versions}; yotaq's venv: {venvs.get('yotaq', '?')}; the peers': "
        f"{venvs.get('peers', '?')}; command: `{command}`",
    ]
    return "\n".join(lines + notes)


def _wakeup_goal(goal: dict[str, float] | None, figures: dict[str, Any]) -> str:
    if not goal or not figures.get("samples"):
        return ""
    said = ", ".join(f"{stat} ≤ {bound:g}" for stat, bound in goal.items())
    met = all(figures[stat] <= bound for stat, bound in goal.items())
    return f"{said}: {'met' if met else '**not met**'}"


def wakeups_table(document: dict[str, Any]) -> str:
    """The tables of a benchmarks/wakeups.py run, as Markdown: each wake-up's lateness, then Redis's commands
    over the windows in which the harness sent nothing but INFO; the line under them says where and how."""
    found, goals = document["results"], document.get("goals_ms", {})
    delayed, retried, periodic = found["delayed"], found["retried"], found["periodic"]
    sync, coro = found["cancel_sync"], found["cancel_async"]
    rows = [
        ("delayed task: due time → start", delayed["lateness_ms"], goals.get("delayed")),
        ("retry: its due time (Redis's score) → second try's start", retried["lateness_ms"], None),
        ("retry: first failure + 0.5 s → second try's start", retried["vs_failure_plus_delay_ms"], None),
        ("periodic tick, every 1 s: due time → start", periodic["lateness_ms"], None),
        ("periodic tick: interval between starts, off 1 s by", periodic["interval_deviation_ms"], None),
        ("cancel, running function: `cancel()` → interrupted", sync["interrupted_ms"], goals.get("cancel")),
        ("cancel, running function: → `job.status` cancelled", sync["status_cancelled_ms"], None),
        ("cancel, running coroutine: `cancel()` → interrupted", coro["interrupted_ms"], goals.get("cancel")),
        ("cancel, running coroutine: → `job.status` cancelled", coro["status_cancelled_ms"], None),
        ("`cancel()` of a running function, the call", sync["cancel_call_ms"], None),
    ]
    lines = ["| wake-up | samples | p50 ms | p99 ms | max ms | goal (ms) |", "|---|---:|---:|---:|---:|---|"]
    for name, figures, goal in rows:
        if not figures.get("samples"):
            lines.append(f"| {name} | 0 | — | — | — | |")
            continue
        cells = " | ".join(f"{figures[stat]:,.1f}" for stat in ("p50", "p99", "max"))
        lines.append(f"| {name} | {figures['samples']} | {cells} | {_wakeup_goal(goal, figures)} |")
    lines += [
        "",
        "| window, the harness silent | s | tasks run | Redis cmds/s | cmds/task | most frequent (calls) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    windows = [
        ("idle, nothing queued", found["idle"]),
        ("delayed tasks coming due", delayed["wait"]),
        ("a periodic tick a second", periodic["window"]),
    ]
    for name, window in windows:
        per_task = f"{window['commands'] / window['tasks']:.1f}" if window["tasks"] else "—"
        top = ", ".join(f"{command.upper()} {calls:,}" for command, calls in list(window["by_command"].items())[:3])
        lines.append(
            f"| {name} | {window['seconds']:.1f} | {window['tasks']} | {window['commands_per_s']:,.2f} | "
            f"{per_task} | {top or 'none'} |"
        )
    machine, settings = document["machine"], document["settings"]
    drawn = retried["drawn_delay_ms"]
    drawn_text = f"{drawn['min']:.0f} to {drawn['max']:.0f} ms" if drawn.get("samples") else "n/a"
    command = shown_command(document.get("command", "?"))
    timed = {"delayed": delayed["lateness_ms"], "retries": retried["lateness_ms"], "ticks": periodic["lateness_ms"]}
    late = [
        f"{name} {sum(value > LATE_MS for value in figures['values'])} of {figures['samples']}"
        for name, figures in timed.items()
        if figures.get("values")
    ]
    lines += [
        "",
        f"Later than {LATE_MS:g} ms: {', '.join(late)}. "
        f"Retries wait a delay drawn in the upper half of their step (here {drawn_text} for `retry_delay=0.5`), so "
        "the second try is early against the first failure + 0.5 s. A running job's status reads `active` until its "
        "worker has recorded the cancel; its result raised `JobCancelled` at `cancel()`'s return for "
        f"{sync['result_cancelled_at_return'] + coro['result_cancelled_at_return']} of "
        f"{sync['samples'] + coro['samples']}. Periodic ticks skipped: {periodic['skipped']}.",
        "",
        f"{document['date'][:10]}; {machine['cores']} cores, {machine['cpu']}; Redis {machine['redis']}, Python "
        f"{machine['python']}, redis-py {machine['redis_py']}; yotaq {document['yotaq']}; 2 workers at their "
        f"defaults on one queue, a third with `--concurrency {settings['async_concurrency']}` for the coroutines; "
        f"{document['seconds']:.0f} s; command: `{command}`",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"compare.py's output (default {RESULTS})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where the PNGs go (default {OUT})")
    args = parser.parse_args()
    if not args.json.is_file():
        print(f"no {args.json}: run benchmarks/compare.py first (make bench)", file=sys.stderr)
        return 1
    for path in draw(load(args.json), args.out):
        print(f"drew {path}")
    if FLEET_RESULTS.is_file():
        draw_fleet(load(FLEET_RESULTS), args.out / "bench-fleet.png")
        print(f"drew {args.out / 'bench-fleet.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

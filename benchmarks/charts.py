"""The benchmarks page's charts and table, from the JSON that ``benchmarks/compare.py`` writes.

    .venv/bin/python benchmarks/charts.py [--json benchmarks/results/latest.json] [--out docs/img]

Draws PNG charts (matplotlib, the ``docs`` extra) of every system's figures into ``--out``:
``bench-drain.png`` (tasks drained per second, per number of worker processes), ``bench-cpu.png`` (worker
and Redis CPU per task), ``bench-enqueue.png`` (single and bulk enqueue rates) and ``bench-latency.png``
(p50 and p99 of the idle latency and of the result wait). Nothing is typed in: every number comes from
the JSON, so a new run redraws them (``make charts``). ``table()`` is the results table the docs show,
from the same JSON (docs/hooks.py calls it at build time).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
OUT = ROOT / "docs" / "img"
YOTAQ_COLOUR, PEER_COLOUR, BARE_COLOUR = "#3f51b5", "#9e9e9e", "#ff8a65"


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


def _bars(ax: Any, document: dict[str, Any], key: str, title: str, unit: str, log: bool = False) -> bool:
    rows = _systems(document, key)
    if not rows:
        ax.set_visible(False)
        return False
    names = [name for name, _, _ in rows]
    values = [number for _, number, _ in rows]
    bars = ax.barh(names, values, color=[_colour(name, kind) for name, _, kind in rows])
    ax.invert_yaxis()  # the document's order, top down
    ax.set_title(title, fontsize=11, loc="left")
    ax.set_xlabel(unit)
    if log:
        ax.set_xscale("log")
    fmt = "{:,.0f}" if max(values) >= 100 else "{:,.2f}"
    for bar, number in zip(bars, values, strict=True):
        ax.annotate(
            fmt.format(number),
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.margins(x=0.18)
    ax.spines[["top", "right"]].set_visible(False)
    return True


def _figure(document: dict[str, Any], panels: list[tuple[str, str, str, bool]], path: Path, heading: str) -> bool:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    present = [panel for panel in panels if _systems(document, panel[0])]
    if not present:
        return False
    rows = max(len(_systems(document, key)) for key, *_ in present)
    fig, axes = plt.subplots(1, len(present), figsize=(5.2 * len(present), 0.45 * rows + 1.8), squeeze=False)
    for ax, (key, title, unit, log) in zip(axes[0], present, strict=True):
        _bars(ax, document, key, title, unit, log)
    fig.suptitle(f"{heading}\n{_subtitle(document)}", fontsize=11, x=0.01, ha="left")
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})  # no version stamp: a redraw of the same run is equal
    plt.close(fig)
    return True


def draw(document: dict[str, Any], out: Path) -> list[Path]:
    """Draw every chart there are numbers for; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    procs = document.get("settings", {}).get("procs", [2])
    charts = {
        "bench-drain.png": (
            "Drain: tasks run per second, queued first (higher is better)",
            [(f"drain{n}", f"{n} worker processes", "tasks/s", False) for n in procs],
        ),
        "bench-cpu.png": (
            "CPU per task during the drain (lower is better)",
            [
                (f"drain{procs[0]}_wcpu", f"worker CPU ({procs[0]} procs)", "µs per task", False),
                (f"drain{procs[0]}_rcpu", f"Redis CPU ({procs[0]} procs)", "µs per task", False),
            ],
        ),
        "bench-enqueue.png": (
            "Enqueue rate (higher is better)",
            [("single", "one call per task", "tasks/s", False), ("bulk", "bulk API", "tasks/s (log)", True)],
        ),
        "bench-latency.png": (
            "Latency, one idle worker (lower is better)",
            [
                ("latency_p50", "enqueue to task start, p50", "ms (log)", True),
                ("result_p50", "enqueue to result in hand, p50", "ms (log)", True),
            ],
        ),
    }
    written = []
    for name, (heading, panels) in charts.items():
        if _figure(document, panels, out / name, heading):
            written.append(out / name)
    return written


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
    columns += [("latency_p50", "latency p50 ms", "{:.2f}"), ("result_p50", "result p50 ms", "{:.2f}")]
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
    command = document.get("command", "?").replace(f"{ROOT}/", "")  # the clone's path means nothing to a reader
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
    return 0


if __name__ == "__main__":
    sys.exit(main())

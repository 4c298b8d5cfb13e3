"""Throughput and task duration over a window (15 min to 24 h) as SVG, drawn here on the server from the
time series: no JavaScript chart library to vendor, nothing fetched by the browser but the image itself."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from ..monitor import Second

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 26  # margins, px


@dataclass(frozen=True)
class Window:
    """What a chart spans: ``span_s`` up to now, a point every ``step_s``, labels every ``tick_s``; the
    seconds of the last hour serve the short windows, the minutes of the day the long ones."""

    name: str
    span_s: int
    step_s: int
    tick_s: int
    by_minute: bool
    title: str
    label: str


WINDOWS = {
    window.name: window
    for window in (
        Window("15m", 900, 5, 300, False, "last 15 min", "15 min"),
        Window("1h", 3_600, 10, 900, False, "last hour", "1 h"),
        Window("6h", 21_600, 60, 7_200, True, "last 6 h", "6 h"),
        Window("24h", 86_400, 240, 21_600, True, "last 24 h", "24 h"),
    )
}
DEFAULT_WINDOW = WINDOWS["1h"]
STEP_S = DEFAULT_WINDOW.step_s


@dataclass(frozen=True)
class Bucket:
    """``STEP_S`` seconds of the series: tasks done per second, and their mean duration (None: none done)."""

    per_second: float
    mean_ms: float | None


def buckets(seconds: Sequence[Second], now_s: int, step_s: int = STEP_S, span_s: int = 3_600) -> list[Bucket]:
    """The last ``span_s`` of ``seconds`` (up to ``now_s``) in buckets of ``step_s``, oldest first."""
    count = span_s // step_s
    first = now_s - count * step_s + 1
    done, duration = [0] * count, [0] * count
    for second in seconds:
        n = (second.at_s - first) // step_s
        if 0 <= n < count:
            done[n] += second.done
            duration[n] += second.duration_ms
    return [Bucket(done[n] / step_s, duration[n] / done[n] if done[n] else None) for n in range(count)]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1.0, 2.0, 5.0, 10.0) if step * power >= value * (1 - 1e-9))


def _label(value: float, unit: str) -> str:
    """A y-axis label with its unit (``/s``, or ``ms``, shown as seconds from 1000 ms); 0 bare."""
    if value == 0:
        return "0"
    if unit == "ms":
        return f"{value / 1000:g} s" if value >= 1000 else f"{value:g} ms"
    return (f"{value / 1000:g}k" if value >= 1000 else f"{value:g}") + unit


def _tick(seconds_ago: int) -> str:
    if seconds_ago == 0:
        return "now"
    return (
        f"\u2212{seconds_ago // 3600} h"
        if seconds_ago % 3600 == 0 and seconds_ago > 3600
        else f"\u2212{seconds_ago // 60} min"
    )


def chart(
    title: str, unit: str, values: Sequence[float | None], colour: str, *, area: bool, window: Window = DEFAULT_WINDOW
) -> str:
    """An SVG line chart of ``values`` (one per bucket, None for a gap) over ``window``."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((value for value in values if value is not None), default=0))
    step = plot_w / max(len(values) - 1, 1)

    def x(n: float) -> float:
        return LEFT + n * step

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" font-family="system-ui, sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#e0e0e0"/>',
    ]
    for fraction in (0, 0.5, 1):
        at = y(top * fraction)
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{at:.1f}" y2="{at:.1f}" stroke="#e0e0e0"/>')
        label = escape(_label(top * fraction, unit))
        parts.append(f'<text x="{LEFT - 6}" y="{at + 4:.1f}" text-anchor="end" fill="#555">{label}</text>')
    for ago in range(window.span_s, -1, -window.tick_s):
        at = LEFT + plot_w * (1 - ago / window.span_s)
        label = _tick(ago)
        anchor = "end" if ago == 0 else "middle" if ago != window.span_s else "start"
        parts.append(f'<text x="{at:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}" fill="#555">{label}</text>')
    runs: list[list[tuple[float, float]]] = [[]]
    for n, value in enumerate(values):
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((x(n), y(value)))
    for run in (run for run in runs if run):
        points = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
        if area:
            base = y(0)
            shape = f"{run[0][0]:.1f},{base:.1f} {points} {run[-1][0]:.1f},{base:.1f}"
            parts.append(f'<polygon points="{shape}" fill="{colour}" fill-opacity="0.18" stroke="none"/>')
        if len(run) == 1:
            parts.append(f'<circle cx="{run[0][0]:.1f}" cy="{run[0][1]:.1f}" r="2" fill="{colour}"/>')
        else:
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)


def throughput_svg(seconds: Sequence[Second], now_s: int, window: Window = DEFAULT_WINDOW) -> str:
    """Tasks done per second (averaged over each step) over ``window``."""
    drawn = buckets(seconds, now_s, window.step_s, window.span_s)
    values: list[float | None] = [bucket.per_second for bucket in drawn]
    return chart(f"Tasks done per second, {window.title}", "/s", values, "#3f51b5", area=True, window=window)


def duration_svg(seconds: Sequence[Second], now_s: int, window: Window = DEFAULT_WINDOW) -> str:
    """The mean task duration (ms) of each step over ``window``; gaps where none was done."""
    values = [bucket.mean_ms for bucket in buckets(seconds, now_s, window.step_s, window.span_s)]
    return chart(f"Mean task duration, {window.title}", "ms", values, "#e64a19", area=False, window=window)

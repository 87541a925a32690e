"""Server-side SVG charts: a time chart with fault periods shaded, and sparklines.

No chart library and no script: the SVG is rendered with the page, scales with its
container (``viewBox``) and carries ``<title>`` tooltips. Values are formatted by the unit
their metric name ends in (``_bytes``, ``_pct``, ``_per_s``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from itertools import pairwise
from statistics import median
from zoneinfo import ZoneInfo

from markupsafe import Markup

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#475569")
LEVEL_FILL = {1: "#dc2626", 2: "#ea580c", 3: "#ca8a04", 4: "#2563eb"}


@dataclass(frozen=True)
class Series:
    """One line: (unix seconds, value) points, oldest first; ``band`` = (t, min, max)."""

    label: str
    points: list[tuple[float, float]]
    band: list[tuple[float, float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Shade:
    """A fault period drawn behind the lines; ``end`` None = still open."""

    start: float
    end: float | None
    level: int
    title: str


@dataclass(frozen=True)
class Chart:
    svg: Markup
    legend: list[tuple[str, str]]  # (label, colour)
    empty: bool


def value_formatter(metric: str) -> Callable[[float], str]:
    """How to print a value of ``metric``, chosen by the unit its name ends in."""
    name = metric.split("{")[0]
    if name.endswith("_bytes_per_s"):
        return lambda v: _binary(v) + "/s"
    if name.endswith("_bytes"):
        return _binary
    if name.endswith("_pct"):
        return lambda v: f"{v:.0f}%" if abs(v) >= 10 else f"{v:.1f}%"
    if name.endswith("_ms"):
        return lambda v: f"{v:.0f} ms" if abs(v) >= 10 else f"{v:.1f} ms"
    if name.endswith("_c"):
        return lambda v: f"{v:.1f} °C"
    if name.endswith("_s") and not name.endswith("_per_s"):
        return _seconds
    if name.endswith("_kbps"):
        return lambda v: f"{v / 1000:.1f} Mbps" if v >= 1000 else f"{v:.0f} kbps"
    return _compact


def _binary(value: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    shown, index = value, 0
    while abs(shown) >= 1024 and index < len(units) - 1:
        shown, index = shown / 1024, index + 1
    if index == 0 or abs(shown) >= 100:
        return f"{shown:.0f} {units[index]}"
    return f"{shown:.1f} {units[index]}"


def _seconds(value: float) -> str:
    if value >= 86400:
        return f"{value / 86400:.1f} d"
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    if value >= 60:
        return f"{value / 60:.0f} min"
    return f"{value:.0f} s"


def _compact(value: float) -> str:
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:.1f}G"
    if size >= 1e6:
        return f"{value / 1e6:.1f}M"
    if size >= 1e4:
        return f"{value / 1e3:.1f}k"
    if size >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2f}"


def _value_range(values: Sequence[float], metric: str) -> tuple[float, float]:
    """The value axis: from 0 for most gauges, 0..100 for percentages, 0..1 for flags, and
    some room around a flat line."""
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    name = metric.split("{")[0]
    if low >= 0 and high <= 1:
        return 0.0, 1.0
    if name.endswith("_pct") and low >= 0 and high <= 100:
        return 0.0, 100.0
    if low >= 0 and high - low > 0.2 * high:
        low = 0.0
    if high - low < 1e-9:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
        if min(values) >= 0:
            low = max(low, 0.0)
    return low, high


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 0.5:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _time_ticks(start: float, end: float, tz: ZoneInfo) -> list[tuple[float, str]]:
    span = end - start
    steps = (300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400)
    step = next((s for s in steps if span / s <= 6), 14 * 86400)
    pattern = "%H:%M" if step < 86400 else "%m-%d"
    offset = datetime.fromtimestamp(start, tz).utcoffset()
    shift = offset.total_seconds() if offset else 0.0
    first = math.ceil((start + shift) / step) * step - shift
    ticks = []
    t = first
    while t <= end:
        ticks.append((t, datetime.fromtimestamp(t, tz).strftime(pattern)))
        t += step
    return ticks


def _runs(points: Sequence[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Split a line where samples are missing (a gap longer than 3 usual steps)."""
    if len(points) < 2:
        return [list(points)] if points else []
    gaps = [b[0] - a[0] for a, b in pairwise(points)]
    limit = 3 * median(gaps)
    runs: list[list[tuple[float, float]]] = [[points[0]]]
    for gap, point in zip(gaps, points[1:], strict=False):
        if gap > limit:
            runs.append([])
        runs[-1].append(point)
    return runs


def time_chart(
    series: Sequence[Series],
    start: float,
    end: float,
    tz: ZoneInfo,
    metric: str,
    shades: Sequence[Shade] = (),
    width: int = 720,
    height: int = 200,
    name: Callable[[str], str] | None = None,
) -> Chart:
    """A chart of ``series`` over [start, end] (unix seconds) with ``shades`` behind;
    ``name`` gives the reader's name of the metric (its tooltip and accessible label)."""
    shown = name(metric) if name is not None else metric
    fmt = value_formatter(metric)
    left, right, top, bottom = 74, 10, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for _, v in s.points]
    values += [x for s in series for _, lo, hi in s.band for x in (lo, hi)]
    empty = not values
    low, high = _value_range(values, metric)
    ticks = _nice_ticks(low, high)
    low, high = ticks[0], ticks[-1]
    labels = [fmt(tick) for tick in ticks]
    if len(set(labels)) < len(labels):  # the unit's precision cannot tell ticks apart
        ticks, labels = [ticks[0], ticks[-1]], [labels[0], labels[-1]]

    def x(t: float) -> float:
        return left + (min(max(t, start), end) - start) / (end - start) * plot_w

    def y(v: float) -> float:
        return top + plot_h - (v - low) / (high - low) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(shown)}">'
    ]
    for shade in shades:
        x0, x1 = x(shade.start), x(shade.end if shade.end is not None else end)
        if x1 - x0 < 1.5:
            x0, x1 = x0 - 0.75, x0 + 0.75
        parts.append(
            f'<rect class="shade shade-l{shade.level}" x="{x0:.1f}" y="{top}" '
            f'width="{x1 - x0:.1f}" height="{plot_h}" fill="{LEVEL_FILL.get(shade.level, "#888")}"'
            f' fill-opacity="0.14"><title>{escape(shade.title)}</title></rect>'
        )
    for tick, label in zip(ticks, labels, strict=True):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}" stroke="#e5e7eb"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#6b7280">{escape(label)}</text>'
        )
    for t, label in _time_ticks(start, end, tz):
        parts.append(
            f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{top + plot_h}" '
            f'stroke="#f3f4f6"/><text x="{x(t):.1f}" y="{height - 6}" text-anchor="middle" '
            f'font-size="11" fill="#6b7280">{label}</text>'
        )
    legend = []
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        legend.append((one.label, colour))
        if one.band:
            upper = " ".join(f"{x(t):.1f},{y(hi):.1f}" for t, _, hi in one.band)
            lower = " ".join(f"{x(t):.1f},{y(lo):.1f}" for t, lo, _ in reversed(one.band))
            parts.append(f'<polygon points="{upper} {lower}" fill="{colour}" fill-opacity="0.12"/>')
        for run in _runs(one.points):
            if len(run) == 1:
                t, v = run[0]
                parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="1.8" fill="{colour}"/>')
                continue
            line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
            parts.append(
                f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.6" '
                f'stroke-linejoin="round"><title>{escape(one.label or shown)}</title></polyline>'
            )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        f'stroke="#d1d5db"/></svg>'
    )
    return Chart(Markup("".join(parts)), legend, empty)


def sparkline(values: Sequence[float | None], width: int = 120, height: int = 28) -> Markup:
    """A small line of recent values (None = no data); empty markup without two values."""
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return Markup("")
    low, high = min(known), max(known)
    if high == low:  # a flat line sits in the middle, not on the floor
        low, high = low - 1.0, high + 1.0
    span = high - low
    step = width / max(len(values) - 1, 1)
    runs: list[list[str]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
            continue
        runs[-1].append(
            f"{index * step:.1f},{height - 2 - (value - low) / span * (height - 4):.1f}"
        )
    lines = "".join(
        f'<polyline points="{" ".join(run)}" fill="none" stroke="currentColor" stroke-width="1.4"/>'
        for run in runs
        if len(run) > 1
    )
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-hidden="true" xmlns="http://www.w3.org/2000/svg">{lines}</svg>'
    )


def unix(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()

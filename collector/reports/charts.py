"""Small server-side SVG charts for the report: a daily line (with a fitted trend and a
limit line) and horizontal bars. Hand-rolled, so the report needs no plotting library;
WeasyPrint draws the SVG into the PDF as vectors."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from datetime import date
from html import escape

FONT = "'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', sans-serif"
LINE = "#1f5fa8"
FIT = "#d9480f"
LIMIT = "#c92a2a"
GRID = "#d0d4da"
TEXT = "#333"
BAR = "#2f9e44"
BAR_LOW = "#e8590c"
DOTS_UP_TO = 40  # points of a series drawn as dots too (a day, a week, a month)


def line_chart(
    days: Sequence[int],
    values: Sequence[float],
    *,
    first_day: date,
    unit: str = "",
    fit: tuple[float, float] | None = None,
    limit: float | None = None,
    y_min: float | None = None,
    y_max: float | None = None,
    width: int = 640,
    height: int = 180,
    extend_to: int | None = None,
    x_label: Callable[[int], str] | None = None,
) -> str:
    """A daily series as an SVG polyline. ``fit`` = (value at day 0, slope per day) draws
    the trend, extended to day ``extend_to`` when given; ``limit`` a dashed line.
    ``x_label`` names an x position (default: the date ``first_day`` + x days), so the same
    chart draws hours. A short series also gets a dot per point: one point is no line."""
    if not days:
        return ""
    if x_label is None:

        def x_label(x: int) -> str:
            return first_day.fromordinal(first_day.toordinal() + x).strftime("%m-%d")

    left, right, top, bottom = 48, 12, 10, 24
    x_hi = max(max(days), extend_to or 0)
    x_lo = min(days)
    candidates = list(values)
    if limit is not None:
        candidates.append(limit)
    lo = min(candidates) if y_min is None else y_min
    hi = max(candidates) if y_max is None else y_max
    if hi - lo < 1e-9:
        hi, lo = hi + 1, lo - 1
    pad = (hi - lo) * 0.05
    lo, hi = (lo - pad if y_min is None else lo), (hi + pad if y_max is None else hi)
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x_lo) / max(1, x_hi - x_lo) * plot_w

    def sy(y: float) -> float:
        return top + (hi - min(max(y, lo), hi)) / (hi - lo) * plot_h

    parts = [_svg_open(width, height)]
    ticks = _ticks(lo, hi)
    digits = _digits(ticks)
    for tick in ticks:
        y = sy(tick)
        parts.append(_line(left, y, width - right, y, GRID, 0.5))
        parts.append(_text(left - 4, y + 3, f"{tick:.{digits}f}{unit}", anchor="end"))
    for x_day in _day_ticks(x_lo, x_hi):
        parts.append(_text(sx(x_day), height - 8, x_label(x_day), anchor="middle"))
    if limit is not None:
        parts.append(_line(left, sy(limit), width - right, sy(limit), LIMIT, 1, dash="4 3"))
    points = " ".join(f"{sx(d):.1f},{sy(v):.1f}" for d, v in zip(days, values, strict=True))
    parts.append(f'<polyline fill="none" stroke="{LINE}" stroke-width="1.5" points="{points}"/>')
    if len(days) <= DOTS_UP_TO:
        for d, v in zip(days, values, strict=True):
            parts.append(f'<circle cx="{sx(d):.1f}" cy="{sy(v):.1f}" r="2.2" fill="{LINE}"/>')
    if fit is not None:
        intercept, slope = fit
        x_end = x_hi
        parts.append(
            _line(
                sx(x_lo),
                sy(intercept + slope * x_lo),
                sx(x_end),
                sy(intercept + slope * x_end),
                FIT,
                1.2,
                dash="6 3",
            )
        )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    lo: float,
    hi: float,
    threshold: float | None = None,
    value_format: str = "{:.2%}",
    width: int = 640,
    bar_height: int = 14,
) -> str:
    """Horizontal bars, one per label; bars below ``threshold`` are drawn in orange."""
    if not labels:
        return ""
    left, right, gap = 170, 70, 4
    height = len(labels) * (bar_height + gap) + 8
    plot_w = width - left - right
    span = max(hi - lo, 1e-9)
    parts = [_svg_open(width, height)]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 4 + index * (bar_height + gap)
        w = max(1.0, (min(max(value, lo), hi) - lo) / span * plot_w)
        color = BAR_LOW if threshold is not None and value < threshold else BAR
        parts.append(_text(left - 6, y + bar_height - 3, _clip(label, 26), anchor="end"))
        parts.append(
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_height}" fill="{color}"/>'
        )
        parts.append(_text(left + w + 4, y + bar_height - 3, value_format.format(value)))
    parts.append("</svg>")
    return "".join(parts)


def _svg_open(width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{escape(FONT)}" font-size="9">'
    )


def _line(
    x1: float, y1: float, x2: float, y2: float, color: str, width: float, dash: str | None = None
) -> str:
    dashed = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
        f'stroke="{color}" stroke-width="{width}"{dashed}/>'
    )


def _text(x: float, y: float, text: str, anchor: str = "start") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" fill="{TEXT}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    step = _nice((hi - lo) / count)
    first = step * int(lo / step)
    ticks = []
    value = first
    while value <= hi + 1e-9:
        if value >= lo - 1e-9:
            ticks.append(round(value, 10))
        value += step
    return ticks


def _nice(raw: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^n step at least ``raw``."""
    if raw <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _day_ticks(lo: int, hi: int, count: int = 6) -> list[int]:
    step = max(1, (hi - lo) // count)
    return list(range(lo, hi + 1, step))


def _digits(ticks: Sequence[float]) -> int:
    """Decimals that tell neighbouring ticks apart (99.9 and 99.95 need two)."""
    if len(ticks) < 2:
        return 0
    step = min(b - a for a, b in itertools.pairwise(ticks))
    digits = 0
    while digits < 6 and abs(round(step, digits) - step) > step * 1e-6:
        digits += 1
    return digits


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"

"""Spare stock against the plan: the vendor keeps 15 % of the procured quantity of every
model as spares (rounded up). Procured = inventory devices with ``procured: true``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from roomwatch.collector.db.report_models import SpareStock
from roomwatch.collector.db.report_queries import LogRow
from roomwatch.collector.reports.model import SpareLine

SPARE_PERCENT = 15


def required_spares(procured: int, percent: int = SPARE_PERCENT) -> int:
    """ceil(percent % of procured), in integers (0.15 * 20 is 3.0000000000000004 in floats)."""
    return (procured * percent + 99) // 100


def spares_used_in(logs: Iterable[LogRow]) -> dict[str, int]:
    """model → spares taken from stock according to the maintenance logs."""
    used: dict[str, int] = defaultdict(int)
    for log in logs:
        for part in log.spares_used:
            model = part.get("model") or part.get("name")
            if model:
                used[str(model)] += int(part.get("quantity", 1) or 1)
    return dict(used)


def build_spares(
    procured: Sequence[tuple[str, str, int]],
    stock: Mapping[str, SpareStock],
    used_in_period: Mapping[str, int],
) -> list[SpareLine]:
    """One line per model procured or stocked; ``short`` when held < required."""
    counts: dict[str, int] = defaultdict(int)
    kinds: dict[str, set[str]] = defaultdict(set)
    for model, kind, n in procured:
        counts[model] += n
        kinds[model].add(kind)
    lines: list[SpareLine] = []
    for model in sorted(set(counts) | set(stock)):
        row = stock.get(model)
        required = required_spares(counts.get(model, 0))
        held = row.held if row else 0
        lines.append(
            SpareLine(
                model=model,
                kinds=sorted(kinds.get(model, set())),
                procured=counts.get(model, 0),
                required=required,
                held=held,
                used=(row.used if row else 0),
                used_in_period=used_in_period.get(model, 0),
                short=held < required,
            )
        )
    return lines

"""From values read off a device to metrics: which OIDs a profile needs, counter rates,
fallback sources, operands (``multiply_by``/``divide_by``/``subtract_from``), aggregates
and table rows.

Pure functions over what the client returned, plus ``CounterRates``, the one piece of state
(the last reading of every counter), which the poller keeps per device.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from roomwatch.agent.snmp.client import Counter, SnmpValue
from roomwatch.agent.snmp.profile import MetricSpec, Profile, TableSpec, raw_equals
from roomwatch.agent.wire import TableRow

LABEL_MAX_CHARS = 128
Lookup = Callable[[str], SnmpValue | None]
Columns = Mapping[str, Mapping[str, SnmpValue]]


class CounterRates:
    """Per-second rates from successive counter readings; wraps counted, resets dropped."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[Counter, float]] = {}
        self._seen: set[str] = set()

    def rate(self, key: str, counter: Counter, now_s: float) -> float | None:
        """Rate since the last reading of ``key``; None on first sight or a reset."""
        previous = self._last.get(key)
        self._last[key] = (counter, now_s)
        self._seen.add(key)
        if previous is None:
            return None
        last, then_s = previous
        elapsed_s = now_s - then_s
        if elapsed_s <= 0 or last.bits != counter.bits:
            return None
        delta = counter.value - last.value
        if delta < 0:
            # A 32-bit counter that went down wrapped if the wrapped step is plausible (under
            # half its range); otherwise, and always for 64-bit counters, the device reset it.
            delta += 2**counter.bits
            if counter.bits >= 64 or delta >= 2 ** (counter.bits - 1):
                return None
        return delta / elapsed_s

    def forget_unseen(self) -> None:
        """Drop readings not refreshed since the last call (rows that went away)."""
        self._last = {k: v for k, v in self._last.items() if k in self._seen}
        self._seen = set()

    def clear(self) -> None:
        self._last.clear()
        self._seen.clear()


def scalar_oids(profile: Profile) -> list[str]:
    oids: list[str] = []
    for spec in profile.metrics:
        if not spec.aggregate:
            oids.extend(_source_oids(spec))
    return oids


def _source_oids(spec: MetricSpec) -> list[str]:
    extra = [spec.fallback.oid] if spec.fallback else []
    operands = [o for o in (spec.multiply_by, spec.divide_by) if o]
    return [spec.oid, *extra, *operands]


def table_columns(table: TableSpec) -> list[str]:
    columns = [label.oid for label in table.labels] + [f.oid for f in table.where]
    for spec in table.metrics:
        columns.extend(o for o in _source_oids(spec) if not spec.fallback or o != spec.fallback.oid)
    return list(dict.fromkeys(columns))


def fallback_columns(table: TableSpec) -> list[tuple[str, str]]:
    """(primary column, fallback column) pairs, walked only when the primary is empty."""
    pairs = [(lab.oid, lab.fallback_oid) for lab in table.labels if lab.fallback_oid]
    pairs += [(m.oid, m.fallback.oid) for m in table.metrics if m.fallback]
    return pairs


def scalar_metrics(
    profile: Profile, lookup: Lookup, rates: CounterRates, now_s: float
) -> dict[str, float]:
    found = {}
    for spec in profile.metrics:
        if spec.aggregate:
            continue
        value = _metric_value(spec, lookup, rates, now_s, key_suffix="")
        if value is not None:
            found[spec.name] = value
    return found


def table_rows(
    table: TableSpec, columns: Columns, rates: CounterRates, now_s: float
) -> list[TableRow]:
    """Rows of a walked table, in index order; rows without any metric value are left out."""
    metric_columns = [m.oid for m in table.metrics]
    metric_columns += [m.fallback.oid for m in table.metrics if m.fallback]
    indexes = {index for column in metric_columns for index in columns.get(column, {})}
    rows = []
    for index in sorted(indexes, key=index_order):
        row = _table_row(table, index, columns, rates, now_s)
        if row is not None:
            rows.append(row)
    return rows


def _table_row(
    table: TableSpec, index: str, columns: Columns, rates: CounterRates, now_s: float
) -> TableRow | None:
    def lookup(column: str) -> SnmpValue | None:
        return columns.get(column, {}).get(index)

    if not table.keeps(lookup):
        return None
    metrics = {}
    for spec in table.metrics:
        value = _metric_value(spec, lookup, rates, now_s, key_suffix=f".{index}")
        if value is not None:
            metrics[spec.name] = value
    if not metrics:
        return None
    labels = {table.index_label: index} if table.index_label else {}
    for label in table.labels:
        raw = lookup(label.oid)
        if raw is None and label.fallback_oid:
            raw = lookup(label.fallback_oid)
        if raw is not None and str(raw).strip():
            labels[label.name] = str(raw).strip()[:LABEL_MAX_CHARS]
    return TableRow(labels=labels, metrics=metrics)


def aggregate_metrics(specs: list[MetricSpec], columns: Columns) -> dict[str, float]:
    """Scalars that combine a walked column (``aggregate: avg`` of hrProcessorLoad, ...);
    ``aggregate: count`` is the number of rows whose value is in ``count_values`` (0 for an
    empty column: the UPS-MIB alarm table of a healthy UPS has no rows)."""
    found: dict[str, float] = {}
    for spec in specs:
        indexes = [i for i in columns.get(spec.oid, {}) if spec.keeps(_row_lookup(columns, i))]
        if spec.aggregate == "count":
            wanted = spec.count_values or []
            rows = [columns[spec.oid][i] for i in indexes]
            found[spec.name] = float(sum(any(raw_equals(r, w) for w in wanted) for r in rows))
            continue
        numbers = [_row_number(spec, _row_lookup(columns, i)) for i in indexes]
        value = _combine(spec, [n for n in numbers if n is not None])
        if value is not None:
            found[spec.name] = value
    return found


def aggregate_columns(specs: list[MetricSpec]) -> list[str]:
    """The columns the aggregates of ``specs`` walk: values, operands and ``where`` columns."""
    columns: list[str] = []
    for spec in specs:
        columns += [*_source_oids(spec), *(f.oid for f in spec.where)]
    return list(dict.fromkeys(columns))


def _row_lookup(columns: Columns, index: str) -> Lookup:
    return lambda column: columns.get(column, {}).get(index)


def _row_number(spec: MetricSpec, lookup: Lookup) -> float | None:
    raw = lookup(spec.oid)
    if raw is None or spec.is_no_value(raw):
        return None
    return _finite(_apply_operands(spec, spec.number(raw, spec.scale), lookup))


def _metric_value(
    spec: MetricSpec, lookup: Lookup, rates: CounterRates, now_s: float, key_suffix: str
) -> float | None:
    """One metric from the values read: fallback source, rate or number, then operands."""
    oid, scale, raw = spec.oid, spec.scale, lookup(spec.oid)
    if raw is None and spec.fallback:
        oid, scale, raw = spec.fallback.oid, spec.fallback.scale, lookup(spec.fallback.oid)
    if raw is None or spec.is_no_value(raw):
        return None
    if spec.type == "counter":
        counter = _as_counter(raw)
        per_s = rates.rate(f"{spec.name}@{oid}{key_suffix}", counter, now_s) if counter else None
        value = None if per_s is None else per_s * scale
    else:
        value = spec.number(raw, scale)
    return _finite(_apply_operands(spec, value, lookup))


def _finite(value: float | None) -> float | None:
    """``value``, or None for NaN and infinities ("nan" text, an Opaque float, x/0.0):
    JSON has no such numbers, and one would get the whole metrics message refused."""
    return value if value is None or math.isfinite(value) else None


def _apply_operands(spec: MetricSpec, value: float | None, lookup: Lookup) -> float | None:
    if value is None:
        return None
    if spec.multiply_by:
        factor = _plain_number(lookup(spec.multiply_by))
        value = None if factor is None else value * factor
    if spec.divide_by and value is not None:
        divisor = _plain_number(lookup(spec.divide_by))
        value = None if not divisor else value / divisor
    if spec.subtract_from is not None and value is not None:
        value = spec.subtract_from - value
    return value


def _as_counter(raw: SnmpValue) -> Counter | None:
    """A counter reading; a plain integer (a device sending the wrong type) never wraps."""
    if isinstance(raw, Counter):
        return raw
    return Counter(raw, 64) if isinstance(raw, int) else None


def _plain_number(raw: SnmpValue | None) -> float | None:
    if isinstance(raw, Counter):
        return float(raw.value)
    return float(raw) if isinstance(raw, int) else None


def _combine(spec: MetricSpec, numbers: list[float]) -> float | None:
    """The aggregate of the finite ``numbers``; None when there are none (or it overflows)."""
    numbers = [n for n in numbers if math.isfinite(n)]
    if not numbers:
        return None
    if spec.aggregate == "sum":
        return _finite(sum(numbers))
    if spec.aggregate == "min":
        return min(numbers)
    if spec.aggregate == "max":
        return max(numbers)
    return _finite(sum(numbers) / len(numbers))


def index_order(index: str) -> tuple[int, ...]:
    """Numeric order of row indexes: 2 before 10."""
    return tuple(int(part) for part in index.split(".") if part.isdigit())


def finite_only(
    metrics: dict[str, float], tables: dict[str, list[TableRow]]
) -> tuple[dict[str, float], dict[str, list[TableRow]], int]:
    """``metrics`` and ``tables`` without NaN or infinities, and how many were dropped.

    The last guard before the wire: JSON has no such numbers, pydantic writes them as
    ``null`` and the collector then refuses the agent's whole metrics message, every device.
    A table row left without metrics is left out, as ``table_rows`` does."""
    dropped = 0

    def finite(values: Mapping[str, float]) -> dict[str, float]:
        nonlocal dropped
        kept = {name: v for name, v in values.items() if math.isfinite(v)}
        dropped += len(values) - len(kept)
        return kept

    kept_metrics = finite(metrics)
    kept_tables = {
        name: [
            TableRow(labels=row.labels, metrics=kept)
            for row in rows
            if (kept := finite(row.metrics))
        ]
        for name, rows in tables.items()
    }
    return kept_metrics, kept_tables, dropped

"""A device's history for the device page: 1 h and 24 h from the TSDB, 7 d and 90 d from the
SQL hourly rollups (reports read rollups too, never long TSDB scans).

TSDB series come back named ``<kind>_<field>`` (``<kind>_<table>_<column>`` for rows, the
row's labels as extra labels); they are turned into the rollups' keys (``temperature_c``,
``disk.used_pct{mount=/}``) so one chart list serves both sources.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from roomwatch.collector.db.dashboard_queries import RollupPoint
from roomwatch.collector.db.rollups import metric_key
from roomwatch.collector.ingest.points import BASE_TAGS
from roomwatch.collector.web.charts import Series
from roomwatch.collector.web.devicedata import labels_text
from roomwatch.collector.web.tsdb_read import TsdbReader, selector


@dataclass(frozen=True)
class ChartRange:
    name: str
    span: timedelta
    source: str  # "tsdb" or "rollups"
    step_s: int  # TSDB evaluation step, or the rollup bucket
    window: str = ""  # TSDB averaging window


RANGES: dict[str, ChartRange] = {
    r.name: r
    for r in (
        ChartRange("1h", timedelta(hours=1), "tsdb", 30, "1m"),
        ChartRange("24h", timedelta(hours=24), "tsdb", 300, "5m"),
        ChartRange("7d", timedelta(days=7), "rollups", 3600),
        ChartRange("90d", timedelta(days=90), "rollups", 6 * 3600),
    )
}
DEFAULT_RANGE = "1h"
# When the TSDB does not answer, short ranges are drawn from hourly rollups.
FALLBACK_BUCKET_S = 3600
# VictoriaMetrics evaluates a range query at multiples of the step: without asking a step
# or two past now, the newest samples (up to a step old) would not be in any window.
ALIGNMENT_STEPS = 2


@dataclass(frozen=True)
class SeriesKey:
    chart: str  # scalar metric, or table.column
    labels: tuple[tuple[str, str], ...]  # row labels, empty for a scalar metric


def split_key(key: str) -> SeriesKey:
    """``disk.used_pct{mount=/}`` → chart ``disk.used_pct`` with labels (mount, /)."""
    name, _, rest = key.partition("{")
    labels: list[tuple[str, str]] = []
    for pair in rest.rstrip("}").split(",") if rest else []:
        label, _, value = pair.partition("=")
        labels.append((label, value))
    return SeriesKey(name, tuple(labels))


def tsdb_series(
    reader: TsdbReader,
    *,
    room: str,
    device: str,
    kind: str,
    tables: Iterable[str],
    start: datetime,
    end: datetime,
    chart_range: ChartRange,
) -> dict[str, list[Series]]:
    """chart id → its series, one TSDB request for every series of the device."""
    query = (
        f"avg_over_time({selector(room=room, device=device, kind=kind)}"
        f"[{chart_range.window}]) keep_metric_names"
    )
    found = reader.query_range(
        query,
        start.timestamp(),
        end.timestamp() + ALIGNMENT_STEPS * chart_range.step_s,
        chart_range.step_s,
    )
    # One key can come as several series: a tag such as ``model`` is missing while the
    # device does not answer. Their points are merged.
    points: dict[str, list[tuple[float, float]]] = defaultdict(list)
    table_prefixes = sorted((f"{kind}_{t}_" for t in tables), key=len, reverse=True)
    for item in found:
        name = item.labels.get("__name__", "")
        row = {k: v for k, v in item.labels.items() if k != "__name__" and k not in BASE_TAGS}
        key = _key_of(name, kind, row, table_prefixes)
        if key is not None:
            points[key].extend(item.points)
    by_chart: dict[str, list[Series]] = defaultdict(list)
    for key, merged in points.items():
        parts = split_key(key)
        line = sorted(dict(merged).items())
        by_chart[parts.chart].append(Series(labels_text(dict(parts.labels)), line))
    return _sorted(by_chart)


def _key_of(
    name: str, kind: str, row: Mapping[str, str], table_prefixes: Sequence[str]
) -> str | None:
    if not row:
        return name.removeprefix(f"{kind}_") if name.startswith(f"{kind}_") else None
    for prefix in table_prefixes:
        if name.startswith(prefix):
            table = prefix[len(kind) + 1 : -1]
            return metric_key(name[len(prefix) :], table, dict(row))
    return None


def rollup_series(
    rollups: Mapping[str, list[RollupPoint]], bucket_s: int
) -> dict[str, list[Series]]:
    """chart id → series with an average line and a min–max band, in ``bucket_s`` buckets."""
    by_chart: dict[str, list[Series]] = defaultdict(list)
    for key, points in rollups.items():
        parts = split_key(key)
        merged = _buckets(points, bucket_s)
        line = [(t, total / count) for t, count, total, _, _ in merged if count]
        band = [(t, low, high) for t, _, _, low, high in merged]
        by_chart[parts.chart].append(Series(labels_text(dict(parts.labels)), line, band))
    return _sorted(by_chart)


def _buckets(
    points: Sequence[RollupPoint], bucket_s: int
) -> list[tuple[float, int, float, float, float]]:
    """(bucket middle, count, sum, min, max), merging hourly rows into ``bucket_s`` buckets."""
    out: dict[float, list[float]] = {}
    for point in points:
        start = point.hour.astimezone(UTC).timestamp()
        bucket = start - start % bucket_s
        acc = out.setdefault(bucket, [0, 0.0, point.min, point.max])
        acc[0] += point.count
        acc[1] += point.avg * point.count
        acc[2] = min(acc[2], point.min)
        acc[3] = max(acc[3], point.max)
    return [(b + bucket_s / 2, int(a[0]), a[1], a[2], a[3]) for b, a in sorted(out.items())]


def _sorted(by_chart: Mapping[str, list[Series]]) -> dict[str, list[Series]]:
    return {chart: sorted(series, key=lambda s: s.label) for chart, series in by_chart.items()}


SPARK_TSDB_SPAN = timedelta(hours=2)
SPARK_TSDB_STEP_S = 120


def tsdb_sparks(
    reader: TsdbReader,
    room: str,
    wanted: Mapping[str, tuple[str, str]],
    end: datetime,
) -> dict[str, list[float | None]]:
    """device → recent values of its sparkline metric (``wanted``: device → (kind, metric)),
    one TSDB request for the whole room; None where a step has no sample."""
    names = sorted({f"{kind}_{metric}" for kind, metric in wanted.values()})
    if not names:
        return {}
    start = end - SPARK_TSDB_SPAN
    match = selector(room=room)[:-1] + f',__name__=~"{"|".join(names)}"}}'
    query = f"avg_over_time({match}[{SPARK_TSDB_STEP_S}s]) keep_metric_names"
    found = reader.query_range(
        query,
        start.timestamp(),
        end.timestamp() + ALIGNMENT_STEPS * SPARK_TSDB_STEP_S,
        SPARK_TSDB_STEP_S,
    )
    steps = int(SPARK_TSDB_SPAN.total_seconds() // SPARK_TSDB_STEP_S) + 1
    out: dict[str, list[float | None]] = {}
    for item in found:
        device = item.labels.get("device", "")
        if device not in wanted or item.labels.get("__name__") != "_".join(wanted[device]):
            continue
        values = out.setdefault(device, [None] * steps)  # series split by a tag: merged
        for t, v in item.points:
            index = min(round((t - start.timestamp()) / SPARK_TSDB_STEP_S), steps - 1)
            if index >= 0:
                values[index] = v
    return out

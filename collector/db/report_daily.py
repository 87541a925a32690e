"""A period's rollups for the report: daily rows for whole settled days, hourly for the rest.

The report's days are 24-hour steps from the period's first local midnight. A day is read
from ``rollups_daily`` when no (device, UTC date) it touches is marked pending and every
daily row of the site overlapping it has exactly its bounds; otherwise — the period's
last days before they settle, late data not folded yet, a changed time zone, and in a zone
with daylight saving every day from a clock change on (24-hour steps no longer meet the
local midnights the fold used) — from ``rollups_hourly`` as before. Both give the same
figures; the p95 from daily rows is within the sketch's error (``daily_sketch``). A quarter
of a 1,000-room site is then about 2.8 M daily rows instead of 67 M hourly ones.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import Any

import numpy
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from roomwatch.collector.db import daily_sketch
from roomwatch.collector.db import report_queries as rq
from roomwatch.collector.db.daily_models import RollupDaily
from roomwatch.collector.db.dialect import dialect_name
from roomwatch.collector.db.folded_days import (
    FoldedDays,
    Window,
    day_windows,
    foldable_days,
    site_devices,
)
from roomwatch.collector.db.models import RollupHourly
from roomwatch.collector.db.report_queries import DailyStat, DayPoint, MetricFilter, PeriodStat


@dataclass(frozen=True)
class Gathered:
    """What the report reads from rollups for one period."""

    stats: list[PeriodStat]  # per (device, metric) over the period
    # (device, metric) → its days in day order, for the daily metrics only
    series: dict[tuple[int, str], list[DayPoint]]
    p95: dict[tuple[int, str], float]  # nearest-rank p95 of the hourly means
    daily_days: int  # days read from daily rows (the rest from hourly rows)
    # day → (Σ hourly means, hours) of ``chart_metric`` over all the site's devices
    chart: dict[int, tuple[float, int]] = dataclasses.field(default_factory=dict)


def gather(
    session: Session,
    site_id: str,
    start: datetime,
    end: datetime,
    wanted: MetricFilter,
    daily_wanted: MetricFilter | None = None,
    p95_wanted: MetricFilter | None = None,
    chart_metric: str | None = None,
) -> Gathered:
    """Period stats of ``wanted`` ∪ ``daily_wanted``, the daily series of ``daily_wanted``,
    the p95 of ``p95_wanted`` and the per-day site totals of ``chart_metric``, for the
    site's devices in [start, end)."""
    daily_wanted = daily_wanted or MetricFilter()
    both = _union(_union(wanted, daily_wanted), p95_wanted or MetricFilter())
    windows = day_windows(start, end)
    folded = foldable_days(session, site_id, windows)
    starts = {windows[k][0]: k for k in folded}
    parts: list[DailyStat] = []
    series: dict[tuple[int, str], list[DayPoint]] = {}
    chart: dict[int, tuple[float, int]] = {}
    for first, last in _runs(k for k in range(len(windows)) if k not in folded):
        # One statement for a run of days read hourly, executed day by day.
        sums: dict[int, tuple[float, int]] = {}
        for row in rq.daily_stats(session, site_id, windows[first][0], windows[last][1], both):
            row = row._replace(day=first + row.day)
            parts.append(row)
            if daily_wanted.matches(row.metric):
                series.setdefault((row.device_pk, row.metric), []).append(DayPoint(*row[:6]))
            if row.metric == chart_metric:
                means, hours = sums.get(row.day, (0.0, 0))
                sums[row.day] = (means + row.sum_of_hourly_means, hours + row.hours)
        chart.update((k, total) for k, total in sums.items() if total[1])
    codes: dict[tuple[int, str], list[Any]] = defaultdict(list)  # arrays of sketch codes
    if starts:
        folded_days = FoldedDays(starts)
        period, sketches = _period_part(session, site_id, folded_days, both, p95_wanted)
        parts.extend(period)
        for key, sketch in sketches.items():
            codes[key].append(daily_sketch.decode(sketch))
        if daily_wanted.exact or daily_wanted.prefixes:
            mixed = bool(series)  # days read hourly too: each series is sorted below
            for key, rows in _daily_rows(session, site_id, folded_days, daily_wanted).items():
                series.setdefault(key, []).extend(rows)
            if mixed:
                by_day = attrgetter("day")
                for rows in series.values():
                    rows.sort(key=by_day)
        if chart_metric is not None:
            chart.update(_chart_days(session, site_id, folded_days, chart_metric))
    p95: dict[tuple[int, str], float] = {}
    if p95_wanted is not None:
        hourly = [w for k, w in enumerate(windows) if k not in folded]
        p95 = _p95(session, site_id, codes, bool(starts), hourly, p95_wanted)
    return Gathered(rq.period_from_daily(parts), series, p95, len(starts), chart)


def _runs(indexes: Iterable[int]) -> list[tuple[int, int]]:
    """Runs of consecutive indexes as (first, last)."""
    runs: list[tuple[int, int]] = []
    for k in indexes:
        if runs and runs[-1][1] == k - 1:
            runs[-1] = (runs[-1][0], k)
        else:
            runs.append((k, k))
    return runs


def _period_part(
    session: Session,
    site_id: str,
    days: FoldedDays,
    metrics: MetricFilter,
    p95_wanted: MetricFilter | None,
) -> tuple[list[DailyStat], dict[tuple[int, str], str]]:
    """The folded days' share of the period stats, one row per (device, metric), and the
    merged sketches of the ``p95_wanted`` metrics.

    One statement per part of ``metrics`` (``_split``); on SQLite each is grouped in the
    unique (device, metric, day) index's order, so SQLite walks consecutive rows with no
    sort and selects the part's keys by index range; the sketches are concatenated only in the
    parts that hold p95 metrics (row by row, by the p95 filter, only where a part holds
    both kinds). Rows are read through Core, not the ORM's result layer."""
    d = RollupDaily
    concat = func.group_concat if dialect_name(session) == "sqlite" else func.string_agg
    stats: list[DailyStat] = []
    sketches: dict[tuple[int, str], str] = {}
    connection = session.connection()
    for part, mode in _sketch_parts(session, metrics, p95_wanted):
        sketch: Any = literal("")
        if mode == "all":
            sketch = concat(d.sketch, "")
        elif mode == "some" and p95_wanted is not None:
            sketch = concat(case((p95_wanted.clause(d.metric), d.sketch), else_=literal("")), "")
        query = (
            select(
                d.device_id,
                d.metric,
                func.max(d.max),
                func.sum(d.sum_of_hourly_means),
                func.sum(d.hours),
                func.sum(d.count),
                func.sum(d.sum),
                func.min(d.min),
                sketch,
            )
            .where(_folded_rows(session, site_id, days, part))
            .group_by(d.device_id, d.metric)
        )
        for pk, m, hi, means, h, n, s, lo, merged in connection.execute(query):
            stats.append(
                DailyStat(pk, m, -1, float(hi), float(means), int(h), int(n), float(s), float(lo))
            )
            if merged:
                sketches[(pk, m)] = merged
    return stats, sketches


def _split(session: Session, metrics: MetricFilter) -> list[MetricFilter]:
    """``metrics`` as the parts read one statement each. On SQLite, disjoint parts each
    answerable from the unique (device, metric, day) index: the exact keys no prefix
    covers together, each prefix no other prefix covers alone (a key read by two parts
    would be counted twice). On PostgreSQL, which reads a quarter of daily rows by one
    sequential scan whatever the filter, the whole filter in one part: a scan a part was
    seven scans."""
    if dialect_name(session) != "sqlite":
        return [metrics] if metrics.exact or metrics.prefixes else []
    prefixes = sorted(
        p
        for p in set(metrics.prefixes)
        if not any(p != q and p.startswith(q) for q in metrics.prefixes)
    )
    exact = tuple(k for k in metrics.exact if not any(k.startswith(p) for p in prefixes))
    parts = [MetricFilter(exact=exact)] if exact else []
    return parts + [MetricFilter(prefixes=(prefix,)) for prefix in prefixes]


def _sketch_parts(
    session: Session, metrics: MetricFilter, p95: MetricFilter | None
) -> list[tuple[MetricFilter, str]]:
    """The parts of ``metrics`` (``_split``), each with whether its sketches are wanted
    for the p95: "all", "none", or "some" (decided row by row)."""
    if dialect_name(session) != "sqlite":  # the whole filter in one part
        return [(part, "none" if p95 is None else "some") for part in _split(session, metrics)]
    found: list[tuple[MetricFilter, str]] = []
    for part in _split(session, metrics):
        if p95 is None:
            found.append((part, "none"))
        elif part.exact:
            hot = tuple(key for key in part.exact if p95.matches(key))
            cold = tuple(key for key in part.exact if not p95.matches(key))
            found.extend(
                (MetricFilter(exact=keys), mode)
                for keys, mode in ((hot, "all"), (cold, "none"))
                if keys
            )
        else:
            (prefix,) = part.prefixes
            if any(prefix.startswith(p) for p in p95.prefixes):
                found.append((part, "all"))
            elif any(key.startswith(prefix) for key in (*p95.exact, *p95.prefixes)):
                found.append((part, "some"))
            else:
                found.append((part, "none"))
    return found


def _folded_rows(
    session: Session, site_id: str, days: FoldedDays, part: MetricFilter
) -> ColumnElement[bool]:
    """WHERE of the site's daily rows of one ``_split`` part on the folded days: the
    site's devices lead, so on SQLite each (device, metric) is one index range."""
    d = RollupDaily
    return and_(
        d.device_id.in_(site_devices(site_id)),
        _metric_clause(session, part, d.metric),
        days.clause(d.day_start),
    )


def _metric_clause(session: Session, part: MetricFilter, column: Any) -> ColumnElement[bool]:
    """One ``_split`` part's WHERE on the metric key: IN for the exact keys; for a prefix
    on SQLite the key range it spans (keys compare bytewise, so [prefix, prefix with its
    last character raised) holds exactly the keys that start with it, and SQLite's LIKE
    cannot use an index), elsewhere ``MetricFilter.clause`` (a PostgreSQL collation need not
    order keys by prefix)."""
    if dialect_name(session) != "sqlite":
        return part.clause(column)
    if part.exact:
        return column.in_(part.exact)
    (prefix,) = part.prefixes
    above = _next_text(prefix)
    if above is not None:
        return and_(column >= prefix, column < above)
    return part.clause(column)


def _next_text(prefix: str) -> str | None:
    """The least text above every text starting with ``prefix`` (its last character
    raised, past the surrogates), or None where there is none."""
    if not prefix or ord(prefix[-1]) >= 0x10FFFF:
        return None
    raised = ord(prefix[-1]) + 1
    return prefix[:-1] + chr(0xE000 if 0xD800 <= raised <= 0xDFFF else raised)


def _raw_rows(connection: Connection, query: Any) -> list[Any]:
    """The rows of ``query`` as the driver's tuples: SQLAlchemy compiles and executes it,
    its Row objects are skipped (half of the Python time of a million daily rows). Only
    for columns the driver already returns as their Python type (numbers, text)."""
    result = connection.execute(query)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _daily_rows(
    session: Session, site_id: str, days: FoldedDays, metrics: MetricFilter
) -> dict[tuple[int, str], list[DayPoint]]:
    """The folded days' rows of ``metrics`` as series in day order, read per ``_split``
    part (on SQLite as index ranges: a fifth of a site's daily rows are the hazard
    metrics', and only they are read), in
    ``DayPoint``'s column order, so each row becomes one without a Python call per field,
    and grouped as they come (in key order, which SQLite walks anyway)."""
    d = RollupDaily
    found: dict[tuple[int, str], list[DayPoint]] = {}
    connection = session.connection()
    make = DayPoint._make
    for part in _split(session, metrics):
        query = (
            select(
                d.device_id,
                d.metric,
                days.index(session, d.day_start),
                d.max,
                d.sum_of_hourly_means,
                d.hours,
            )
            .where(_folded_rows(session, site_id, days, part))
            .order_by(d.device_id, d.metric, d.day_start)
        )
        rows = map(make, _raw_rows(connection, query))
        for key, group in groupby(rows, key=_SERIES_KEY):
            found[key] = list(group)  # parts are disjoint: a key comes in one run
    return found


_SERIES_KEY = itemgetter(0, 1)  # (device_pk, metric) of a DayPoint


def _chart_days(
    session: Session, site_id: str, days: FoldedDays, metric: str
) -> dict[int, tuple[float, int]]:
    """Day → (Σ hourly means, hours) of ``metric`` over the site's devices, summed in SQL:
    one row per day instead of one per device and day."""
    d = RollupDaily
    query = (
        select(
            days.index(session, d.day_start),
            func.sum(d.sum_of_hourly_means),
            func.sum(d.hours),
        )
        .where(_folded_rows(session, site_id, days, MetricFilter(exact=(metric,))))
        .group_by(d.day_start)
    )
    return {
        int(k): (float(means), int(hours))
        for k, means, hours in session.connection().execute(query)
        if hours
    }


def _p95(
    session: Session,
    site_id: str,
    codes: dict[tuple[int, str], list[Any]],
    any_folded: bool,
    hourly: Iterable[Window],
    metrics: MetricFilter,
) -> dict[tuple[int, str], float]:
    """Nearest-rank p95 of the hourly means: the merged daily sketches' ``codes`` plus the
    hourly days' means bucketed the same way."""
    if not any_folded:  # nothing folded: the exact figure, as before daily rollups
        lo_hi = list(hourly)
        if not lo_hi:
            return {}
        return rq.p95_of_hourly_means(session, site_id, lo_hi[0][0], lo_hi[-1][1], metrics)
    mean = RollupHourly.sum / RollupHourly.count
    loose: dict[tuple[int, str], list[int]] = defaultdict(list)
    for lo, hi in hourly:
        query = select(RollupHourly.device_id + 0, RollupHourly.metric, mean).where(
            rq._site_rollups(site_id, lo, hi, metrics)
        )
        for pk, metric, value in session.execute(query):
            loose[(int(pk), metric)].append(daily_sketch.code_of(float(value)))
    for key, values in loose.items():
        codes[key].append(numpy.asarray(values, dtype=numpy.uint16))
    found = {key: daily_sketch.nearest_rank_p95(values) for key, values in codes.items()}
    return {key: value for key, value in found.items() if value is not None}


def _union(a: MetricFilter, b: MetricFilter) -> MetricFilter:
    return MetricFilter(
        exact=tuple(sorted({*a.exact, *b.exact})),
        prefixes=tuple(sorted({*a.prefixes, *b.prefixes})),
    )

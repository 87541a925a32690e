"""A period's rollups for the report: daily rows for whole settled days, hourly for the rest.

The report's days are 24-hour steps from the period's first local midnight. A day is read
from ``rollups_daily`` when no (device, UTC date) it touches is marked pending and every
daily row of the site overlapping it has exactly its bounds; otherwise — the period's
last days before they settle, late data not folded yet, a DST day, a changed time zone —
from ``rollups_hourly`` as before. Both give the same figures; the p95 from daily rows is
within the sketch's error (``daily_sketch``). A quarter of a 1,000-room site is then about
2.8 M daily rows instead of 67 M hourly ones.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy
from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.orm import Session

from roomwatch.collector.db import daily_sketch
from roomwatch.collector.db import report_queries as rq
from roomwatch.collector.db.daily_models import RollupDaily, RollupDailyPending
from roomwatch.collector.db.dialect import dialect_name
from roomwatch.collector.db.models import Device, RollupHourly, Room
from roomwatch.collector.db.report_queries import DailyStat, MetricFilter, PeriodStat

DAY = timedelta(days=1)
Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class Gathered:
    """What the report reads from rollups for one period."""

    stats: list[PeriodStat]  # per (device, metric) over the period
    days: list[DailyStat]  # per (device, metric, day), for the daily metrics only
    p95: dict[tuple[int, str], float]  # nearest-rank p95 of the hourly means
    daily_days: int  # days read from daily rows (the rest from hourly rows)
    # day → (Σ hourly means, hours) of ``chart_metric`` over all the site's devices
    chart: dict[int, tuple[float, int]] = dataclasses.field(default_factory=dict)


def day_windows(start: datetime, end: datetime) -> list[Window]:
    windows = []
    lo = start
    while lo < end:
        windows.append((lo, min(end, lo + DAY)))
        lo += DAY
    return windows


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
    days: list[DailyStat] = []
    chart: dict[int, tuple[float, int]] = {}
    for first, last in _runs(k for k in range(len(windows)) if k not in folded):
        # One statement for a run of days read hourly, executed day by day.
        sums: dict[int, tuple[float, int]] = {}
        for row in rq.daily_stats(session, site_id, windows[first][0], windows[last][1], both):
            row = row._replace(day=first + row.day)
            parts.append(row)
            if daily_wanted.matches(row.metric):
                days.append(row)
            if row.metric == chart_metric:
                means, hours = sums.get(row.day, (0.0, 0))
                sums[row.day] = (means + row.sum_of_hourly_means, hours + row.hours)
        chart.update((k, total) for k, total in sums.items() if total[1])
    codes: dict[tuple[int, str], list[Any]] = defaultdict(list)  # arrays of sketch codes
    if starts:
        period, sketches = _period_part(session, site_id, list(starts), both, p95_wanted)
        parts.extend(period)
        for key, sketch in sketches.items():
            codes[key].append(daily_sketch.decode(sketch))
        if daily_wanted.exact or daily_wanted.prefixes:
            days.extend(_daily_rows(session, site_id, starts, daily_wanted))
        if chart_metric is not None:
            chart.update(_chart_days(session, site_id, starts, chart_metric))
    p95: dict[tuple[int, str], float] = {}
    if p95_wanted is not None:
        hourly = [w for k, w in enumerate(windows) if k not in folded]
        p95 = _p95(session, site_id, codes, bool(starts), hourly, p95_wanted)
    return Gathered(rq.period_from_daily(parts), days, p95, len(starts), chart)


def _runs(indexes: Iterable[int]) -> list[tuple[int, int]]:
    """Runs of consecutive indexes as (first, last)."""
    runs: list[tuple[int, int]] = []
    for k in indexes:
        if runs and runs[-1][1] == k - 1:
            runs[-1] = (runs[-1][0], k)
        else:
            runs.append((k, k))
    return runs


def foldable_days(session: Session, site_id: str, windows: Sequence[Window]) -> set[int]:
    """Indexes of the windows whose daily rows are current and have the window's bounds."""
    if not windows:
        return set()
    devices = _site_devices(site_id)
    first, last = windows[0][0], windows[-1][1]
    pending = set(
        session.scalars(
            select(RollupDailyPending.day)
            .where(
                RollupDailyPending.device_id.in_(devices),
                RollupDailyPending.day >= first.date(),
                RollupDailyPending.day <= (last - timedelta(microseconds=1)).date(),
            )
            .distinct()
        )
    )
    found = _day_bounds(session, devices, first - DAY, last)
    foldable = set()
    for k, (lo, hi) in enumerate(windows):
        if hi - lo != DAY or _touches(lo, hi, pending):
            continue
        # A day without daily rows is read hourly: it may hold hours written without a
        # mark (a bulk import), and a day without any data costs nothing either way.
        overlapping = [(s, e) for s, e in found if s < hi and e > lo]
        if overlapping and all(window == (lo, hi) for window in overlapping):
            foldable.add(k)
    return foldable


def _day_bounds(
    session: Session, devices: Any, after: datetime, before: datetime
) -> list[tuple[datetime, datetime]]:
    """The distinct (day_start, day_end) of ``devices``' daily rows with ``after`` <
    day_start < ``before``.

    Walked pair by pair through the day index — one seek for the next pair after the last
    one, one to see whether any of ``devices`` has it — instead of reading the index entry
    of every row: a quarter of a 1,000-room site has 2.8 million, and a handful of pairs
    per zone and day."""
    d = RollupDaily
    at_start = bindparam("s", type_=d.day_start.type)
    at_end = bindparam("e", type_=d.day_end.type)
    following = (
        select(d.day_start, d.day_end)
        .where(
            d.day_start < before,
            tuple_(d.day_start, d.day_end) > tuple_(at_start, at_end),
        )
        .order_by(d.day_start, d.day_end)
        .limit(1)
    )
    # Correlated, so the site's device list is not built again for every pair: the
    # first of the pair's rows answers for a single-zone database.
    held = (
        select(literal(1))
        .where(
            d.day_start == at_start,
            d.day_end == at_end,
            exists(devices.where(Device.id == d.device_id)),
        )
        .limit(1)
    )
    found: list[tuple[datetime, datetime]] = []
    pair: tuple[datetime, datetime] = (after, after)
    while (row := session.execute(following, {"s": pair[0], "e": pair[1]}).first()) is not None:
        pair = (row[0], row[1])
        if session.execute(held, {"s": pair[0], "e": pair[1]}).first() is not None:
            found.append(pair)
    return found


def _touches(lo: datetime, hi: datetime, pending: set[Any]) -> bool:
    day = lo.date()
    while day <= (hi - timedelta(microseconds=1)).date():
        if day in pending:
            return True
        day += DAY
    return False


def _site_devices(site_id: str) -> Any:
    return select(Device.id).join(Room, Room.id == Device.room_id).where(Room.site_id == site_id)


def _period_part(
    session: Session,
    site_id: str,
    starts: list[datetime],
    metrics: MetricFilter,
    p95_wanted: MetricFilter | None,
) -> tuple[list[DailyStat], dict[tuple[int, str], str]]:
    """The folded days' share of the period stats, one row per (device, metric), and the
    merged sketches of the ``p95_wanted`` metrics — one pass over the daily rows.

    Here the device id is compared and grouped as it is: SQLite then walks the unique
    (device, metric, day) index in group order, with no sort (a fifth less than the day
    index and a temporary B-tree on the bench). Rows are read through Core, not the ORM's
    result layer (a third of this read's Python time)."""
    d = RollupDaily
    sketch: Any = literal("")
    if p95_wanted is not None and (p95_wanted.exact or p95_wanted.prefixes):
        picked = case((p95_wanted.clause(d.metric), d.sketch), else_=literal(""))
        sketch = (
            func.group_concat(picked, "")
            if dialect_name(session) == "sqlite"
            else func.string_agg(picked, "")
        )
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
        .where(
            d.device_id.in_(_site_devices(site_id)),
            d.day_start.in_(starts),
            metrics.clause(d.metric),
        )
        .group_by(d.device_id, d.metric)
    )
    stats: list[DailyStat] = []
    sketches: dict[tuple[int, str], str] = {}
    for pk, m, hi, means, h, n, s, lo, merged in session.connection().execute(query):
        stats.append(
            DailyStat(pk, m, -1, float(hi), float(means), int(h), int(n), float(s), float(lo))
        )
        if merged:
            sketches[(pk, m)] = merged
    return stats, sketches


def _index_parts(session: Session, metrics: MetricFilter, column: Any) -> list[ColumnElement[bool]]:
    """``metrics`` as separate clauses, each answerable from the unique (device, metric,
    day) index: the exact keys as one IN list, and each prefix on SQLite as the key range
    it spans as well (SQLite compares keys bytewise, so [prefix, prefix with its last
    character raised) holds exactly the keys starting with it, and its LIKE cannot use an
    index). PostgreSQL keeps LIKE alone: a collation need not order by prefix."""
    parts: list[ColumnElement[bool]] = []
    if metrics.exact:
        parts.append(column.in_(metrics.exact))
    ranges = dialect_name(session) == "sqlite"
    for prefix in metrics.prefixes:
        like = column.startswith(prefix, autoescape=True)
        if ranges and prefix:
            above = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            parts.append(and_(column >= prefix, column < above, like))
        else:
            parts.append(like)
    return parts


def _folded_span(
    session: Session, site_id: str, starts: dict[datetime, int], metrics: MetricFilter
) -> list[ColumnElement[bool]]:
    """WHERE clauses, one per index part of ``metrics``, of the site's daily rows from the
    first folded day to the last (days between that are not folded are dropped by the
    caller, ``_DayOf``). The site's devices lead, so each (device, metric) is one index
    range of consecutive days."""
    d = RollupDaily
    site = and_(
        d.device_id.in_(_site_devices(site_id)),
        d.day_start >= min(starts),
        d.day_start <= max(starts),
    )
    return [and_(site, part) for part in _index_parts(session, metrics, d.metric)]


class _DayOf(dict[Any, int]):
    """The folded day's index of a ``day_start`` as the driver returns it (text on
    SQLite, read raw so no row's value is parsed), -1 for a day read from hourly rows.
    Each distinct value is parsed once, on its first lookup."""

    def __init__(self, starts: dict[datetime, int]) -> None:
        super().__init__()
        self._starts = starts

    def __missing__(self, raw: Any) -> int:
        at = raw if isinstance(raw, datetime) else datetime.fromisoformat(raw)
        k = self[raw] = self._starts.get(at if at.tzinfo else at.replace(tzinfo=UTC), -1)
        return k


def _raw_day(column: Any) -> Any:
    return type_coerce(column, String)  # the stored text on SQLite, a datetime elsewhere


def _daily_rows(
    session: Session, site_id: str, starts: dict[datetime, int], metrics: MetricFilter
) -> list[DailyStat]:
    """The folded days' rows of ``metrics``, read as index ranges (a fifth of a site's
    daily rows are the hazard metrics', and only they are read)."""
    d = RollupDaily
    day_of = _DayOf(starts)
    found: list[DailyStat] = []
    connection = session.connection()
    for where in _folded_span(session, site_id, starts, metrics):
        query = select(
            d.device_id,
            d.metric,
            _raw_day(d.day_start),
            d.max,
            d.sum_of_hourly_means,
            d.hours,
            d.count,
            d.sum,
            d.min,
        ).where(where)
        for pk, m, raw, hi, means, h, n, s, lo in connection.execute(query).all():
            k = day_of[raw]
            if k >= 0:
                found.append(DailyStat(pk, m, k, hi, means, h, n, s, lo))
    return found


def _chart_days(
    session: Session, site_id: str, starts: dict[datetime, int], metric: str
) -> dict[int, tuple[float, int]]:
    """Day → (Σ hourly means, hours) of ``metric`` over the site's devices, summed in SQL:
    one row per day instead of one per device and day."""
    d = RollupDaily
    day_of = _DayOf(starts)
    raw = _raw_day(d.day_start)
    found: dict[int, tuple[float, int]] = {}
    for where in _folded_span(session, site_id, starts, MetricFilter(exact=(metric,))):
        query = (
            select(raw, func.sum(d.sum_of_hourly_means), func.sum(d.hours))
            .where(where)
            .group_by(raw)
        )
        for day_start, means, hours in session.connection().execute(query):
            k = day_of[day_start]
            if k >= 0 and hours:
                found[k] = (float(means), int(hours))
    return found


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

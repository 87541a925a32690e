"""Folding hourly rollups into daily ones (``rollups_daily``), and marking what to refold.

Whoever writes hourly rows marks (device, UTC date) in ``rollups_daily_pending`` in the
same transaction (``mark_pending``); ``fold_pending`` deletes the marks of days old enough
and rebuilds the daily rows of every local day those dates touch, in one transaction. So a
late or backfilled hour, a restart between the two, or two collectors folding at once
leave at worst a mark to fold again — never a daily row that disagrees with its hours
without a mark saying so. The report reads a day from daily rows only without a mark
(``collector.db.report_daily``).

A daily row is the site's local day: [local midnight, next local midnight) in the site's
time zone (``sites.timezone``, else the collector's). Its figures are computed in SQL
from the hourly rows of that window, the sketch too (``daily_sketch.code_sql``).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import TextClause, bindparam, delete, func, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from roomwatch.collector.db import daily_sketch
from roomwatch.collector.db.daily_models import RollupDaily, RollupDailyPending
from roomwatch.collector.db.dialect import dialect_name, upsert_insert
from roomwatch.collector.db.models import Device, RollupHourly, Room, Site, UtcDateTime

log = logging.getLogger(__name__)

# Marks of a UTC date are folded once every local day touching it has ended everywhere
# (UTC−12 .. UTC+14): two days after the date. Younger days stay hourly in reports.
SETTLE_DAYS = 2
FEW_DEVICES = 100  # up to this many, a fold finds their rows through the unique index
_IDS_PER_STATEMENT = 900

Window = tuple[datetime, datetime]


def mark_pending(session: Session, device_hours: Iterable[tuple[int, datetime]]) -> None:
    """Mark the UTC dates of these (device, hour) as changed since they were folded."""
    marks = sorted({(device_id, hour.astimezone(UTC).date()) for device_id, hour in device_hours})
    if not marks:
        return
    if dialect_name(session) == "sqlite":
        session.connection().exec_driver_sql(
            "INSERT INTO rollups_daily_pending (device_id, day) VALUES (?, ?) "
            "ON CONFLICT DO NOTHING",
            [(device_id, day.isoformat()) for device_id, day in marks],
        )
        return
    table = RollupDailyPending.__table__
    for start in range(0, len(marks), _IDS_PER_STATEMENT):
        rows = [
            {"device_id": d, "day": day} for d, day in marks[start : start + _IDS_PER_STATEMENT]
        ]
        session.execute(upsert_insert(session, table).values(rows).on_conflict_do_nothing())  # type: ignore[arg-type]


def fold_pending(
    session: Session, now: datetime, default_timezone: str, dates: int | None = None
) -> int:
    """Fold the marked days that have settled — the oldest ``dates`` UTC dates of them, or
    all — and return the local days (windows) folded. A bounded call keeps a backlog (the
    migration marks all history) from holding SQLite's write lock for minutes."""
    cutoff = now.astimezone(UTC).date() - timedelta(days=SETTLE_DAYS)
    pending = RollupDailyPending.day
    chosen = select(pending).where(pending <= cutoff).distinct().order_by(pending)
    if dates is not None:
        chosen = chosen.limit(dates)
    days = list(session.scalars(chosen))
    if not days:
        return 0
    taken = session.execute(
        delete(RollupDailyPending)
        .where(pending.in_(days))
        .returning(RollupDailyPending.device_id, RollupDailyPending.day)
    ).all()
    if not taken:
        return 0
    zones = device_timezones(session, {device_id for device_id, _ in taken}, default_timezone)
    windows: dict[Window, set[int]] = defaultdict(set)
    for device_id, day in taken:
        zone = zones.get(device_id)
        if zone is None:  # the device is gone; its hourly rows went with it
            continue
        for window in local_days_touching(day, zone):
            windows[window].add(device_id)
    for window, devices in sorted(windows.items()):
        fold_window(session, window, devices)
    return len(windows)


def device_timezones(
    session: Session, device_ids: set[int], default_timezone: str
) -> dict[int, str]:
    """device id → the time zone its site's days follow."""
    found: dict[int, str] = {}
    ids = sorted(device_ids)
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        query = (
            select(Device.id, Site.timezone)
            .join(Room, Room.id == Device.room_id)
            .join(Site, Site.id == Room.site_id)
            .where(Device.id.in_(ids[start : start + _IDS_PER_STATEMENT]))
        )
        found.update({d: zone or default_timezone for d, zone in session.execute(query)})
    return found


def local_days_touching(day: date, timezone: str) -> list[Window]:
    """[local midnight, next local midnight) in UTC of every local day the UTC ``day``
    overlaps (one or two)."""
    zone = ZoneInfo(timezone)
    first = datetime.combine(day, time(0), tzinfo=UTC)
    last = first + timedelta(days=1) - timedelta(microseconds=1)
    local, until = first.astimezone(zone).date(), last.astimezone(zone).date()
    windows = []
    while local <= until:
        windows.append((local_midnight(local, zone), local_midnight(local + timedelta(1), zone)))
        local += timedelta(days=1)
    return windows


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def fold_window(session: Session, window: Window, devices: Sequence[int] | set[int]) -> None:
    """Rebuild the daily rows of ``devices`` for one local day from their hourly rows.

    Daily rows of those devices overlapping the window under other bounds (the site's time
    zone changed) are dropped with it, so the report never counts an hour twice."""
    ensure_math(session)
    ids = sorted(devices)
    start, end = window
    for first in range(0, len(ids), _IDS_PER_STATEMENT):
        chunk = ids[first : first + _IDS_PER_STATEMENT]
        session.execute(
            delete(RollupDaily).where(
                RollupDaily.device_id.in_(chunk),
                RollupDaily.day_start < end,
                RollupDaily.day_end > start,
            )
        )
        session.execute(
            _fold_statement(session, len(chunk)), {"ids": chunk, "lo": start, "hi": end}
        )


def _fold_statement(session: Session, devices: int) -> TextClause:
    dialect = dialect_name(session)
    mean = "(sum * 1.0 / count)"
    # Few devices: the unique (device, metric, hour) index finds their rows. Many: "+ 0"
    # keeps SQLite on the hour index, one ordered read of the day (see report_queries).
    device = "device_id" if devices <= FEW_DEVICES else "device_id + 0"
    sketch = daily_sketch.concat_sql(daily_sketch.code_sql(mean, dialect), dialect)
    sql = text(
        "INSERT INTO rollups_daily (device_id, metric, day_start, day_end, hours, count, sum,"
        " min, max, sum_of_hourly_means, sketch) "
        "SELECT device_id, metric, :lo, :hi, count(*), sum(count), sum(sum), min(min),"
        f" max(max), sum({mean}), {sketch} "
        f"FROM rollups_hourly WHERE {device} IN :ids AND hour >= :lo AND hour < :hi "
        "GROUP BY device_id, metric"
    )
    return sql.bindparams(
        bindparam("ids", expanding=True),
        bindparam("lo", type_=UtcDateTime()),
        bindparam("hi", type_=UtcDateTime()),
    )


def refold_all(session: Session) -> int:
    """Mark every (device, UTC date) with hourly rows as pending (what the migration does):
    the folding job then rebuilds every daily row. For a changed site time zone."""
    session.execute(delete(RollupDailyPending))
    day = func.substr(RollupHourly.hour, 1, 10) if dialect_name(session) == "sqlite" else None
    if day is None:
        day = func.date(func.timezone("UTC", RollupHourly.hour))
    rows = session.execute(select(RollupHourly.device_id, day).distinct()).all()
    if not rows:  # an empty parameter list would insert one row of defaults (NULLs)
        return 0
    session.execute(
        insert(RollupDailyPending),
        [{"device_id": d, "day": date.fromisoformat(str(day_text))} for d, day_text in rows],
    )
    return len(rows)


def ensure_math(session: Session) -> None:
    """SQLite built without its math functions gets ``ln`` and ``ceil`` from Python."""
    if dialect_name(session) != "sqlite":
        return
    try:
        session.connection().exec_driver_sql("SELECT ln(2.0), ceil(1.5)").all()
    except OperationalError:
        raw = session.connection().connection.driver_connection
        raw.create_function("ln", 1, math.log, deterministic=True)  # type: ignore[union-attr]
        raw.create_function("ceil", 1, math.ceil, deterministic=True)  # type: ignore[union-attr]
        log.info("SQLite has no math functions: ln and ceil come from Python")

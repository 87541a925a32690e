"""Which days of a report are read from daily rollups, and how a read names them.

A report's days are 24-hour steps from its period's first local midnight (``day_windows``).
A day is folded for a site when no (device, UTC date) it touches is marked pending and
every daily row of the site's devices overlapping it has exactly its bounds
(``foldable_days``); ``FoldedDays`` gives a read over those days its WHERE on
``day_start`` and each row's day index, computed in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    exists,
    extract,
    func,
    literal,
    select,
)
from sqlalchemy import cast as sa_cast
from sqlalchemy.orm import Session

from roomwatch.collector.db.daily_models import RollupDaily, RollupDailyPending
from roomwatch.collector.db.dialect import dialect_name
from roomwatch.collector.db.models import Device, Room

DAY = timedelta(days=1)
Window = tuple[datetime, datetime]


def day_windows(start: datetime, end: datetime) -> list[Window]:
    windows = []
    lo = start
    while lo < end:
        windows.append((lo, min(end, lo + DAY)))
        lo += DAY
    return windows


def foldable_days(session: Session, site_id: str, windows: Sequence[Window]) -> set[int]:
    """Indexes of the windows whose daily rows are current and have the window's bounds."""
    if not windows:
        return set()
    devices = site_devices(site_id)
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
    found = _day_bounds(session, site_id, first - DAY, last)
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
    session: Session, site_id: str, after: datetime, before: datetime
) -> list[tuple[datetime, datetime]]:
    """The distinct (day_start, day_end) of the site's daily rows with ``after`` <
    day_start < ``before``.

    Walked pair by pair through the day index — one seek for the next pair after the last
    one, then one seek per device of the site until one has it — instead of reading the
    index entry of every row: a quarter of a 1,000-room site has 2.8 million, and a
    handful of pairs per zone and day."""
    d = RollupDaily
    at_start = bindparam("s", type_=d.day_start.type)
    at_end = bindparam("e", type_=d.day_end.type)
    # Two seeks rather than one row-value comparison, which SQLite answers by scanning
    # every entry of the current day_start for a larger day_end.
    same_start = (
        select(d.day_start, d.day_end)
        .where(d.day_start == at_start, d.day_end > at_end)
        .order_by(d.day_end)
        .limit(1)
    )
    later_start = (
        select(d.day_start, d.day_end)
        .where(d.day_start > at_start, d.day_start < before)
        .order_by(d.day_start, d.day_end)
        .limit(1)
    )
    # From the site's devices, one index seek each, stopping at the first that has the
    # pair: another site's pairs (another zone) cost a seek per device of this site, and
    # this site's the first seek, whatever the other sites' device ids.
    held = (
        select(literal(1))
        .select_from(Device)
        .join(Room, Room.id == Device.room_id)
        .where(
            Room.site_id == site_id,
            # SELECT 1, not *: all columns would send SQLite to the table's own key
            # (device_id=?) and through a device's whole history, with no statistics.
            exists(
                select(literal(1)).where(
                    d.day_start == at_start, d.day_end == at_end, d.device_id == Device.id
                )
            ),
        )
        .limit(1)
    )
    found: list[tuple[datetime, datetime]] = []
    row = session.execute(later_start, {"s": after, "e": after}).first()
    while row is not None:
        at = {"s": row[0], "e": row[1]}
        if session.execute(held, at).first() is not None:
            found.append((row[0], row[1]))
        row = session.execute(same_start, at).first() or session.execute(later_start, at).first()
    return found


def _touches(lo: datetime, hi: datetime, pending: set[Any]) -> bool:
    day = lo.date()
    while day <= (hi - timedelta(microseconds=1)).date():
        if day in pending:
            return True
        day += DAY
    return False


def site_devices(site_id: str) -> Any:
    return select(Device.id).join(Room, Room.id == Device.room_id).where(Room.site_id == site_id)


class FoldedDays:
    """The folded days of a read: their WHERE on ``day_start`` and their day index."""

    def __init__(self, starts: dict[datetime, int]) -> None:
        self.starts = sorted(starts)
        self.first = self.starts[0]
        self.first_k = starts[self.first]
        ks = [starts[at] for at in self.starts]
        self.contiguous = ks == list(range(self.first_k, self.first_k + len(ks)))

    def clause(self, column: Any) -> ColumnElement[bool]:
        """A range when the folded days follow each other (one index range per series),
        else the list of days."""
        if self.contiguous:
            return and_(column >= self.starts[0], column <= self.starts[-1])
        return cast(ColumnElement[bool], column.in_(self.starts))

    def index(self, session: Session, column: Any) -> Any:
        """The day index of a folded row's ``day_start``, in SQL: folded days are whole
        24-hour steps from the first, so no row's timestamp is parsed in Python."""
        if dialect_name(session) == "sqlite":  # julianday() of the stored text
            steps = func.julianday(column) - literal(_julian_day(self.first))
        else:
            steps = extract("epoch", column) / 86400.0 - literal(self.first.timestamp() / 86400)
        return sa_cast(func.round(steps), Integer) + self.first_k  # round: in every SQLite


def _julian_day(at: datetime) -> float:
    return at.timestamp() / 86400 + 2440587.5  # the Unix epoch is Julian day 2440587.5

"""Inspection periods: ``2026Q3``, a month ``2026-07``, or any ``from..to`` range of local
dates, and the cycle an inspection schedule (every N months from an anchor) defines.

A period is a half-open range of local dates [start, end) in the site's time zone; its
UTC instants are what rollup hours are compared with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from roomwatch.collector.reports.errors import ReportError

_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Period:
    """Local dates [start, end) in ``timezone``; ``label`` names it in reports and files."""

    start: date
    end: date
    timezone: str
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def start_utc(self) -> datetime:
        return _local_midnight(self.start, self.timezone)

    @property
    def end_utc(self) -> datetime:
        return _local_midnight(self.end, self.timezone)

    @property
    def hours(self) -> float:
        return (self.end_utc - self.start_utc).total_seconds() / 3600

    def until(self, now: datetime) -> datetime:
        """Where the period's figures stop: its end, or ``now`` for a period not over yet
        (never before its start). An open fault or span counts up to here, not to the
        end of a quarter that has not happened."""
        return max(self.start_utc, min(self.end_utc, now))

    def hours_until(self, now: datetime) -> float:
        """The hours of the period that have passed by ``now``."""
        return (self.until(now) - self.start_utc).total_seconds() / 3600

    def previous(self) -> Period:
        """The period of the same length just before this one (the previous quarter)."""
        months = _months_between(self.start, self.end)
        if months is not None:
            start = add_months(self.start, -months)
            return Period(start, self.start, self.timezone, label_of(start, self.start))
        start = self.start - timedelta(days=self.days)
        return Period(start, self.start, self.timezone, label_of(start, self.start))

    def day_date(self, day: int) -> date:
        return self.start + timedelta(days=day)


def parse_period(text: str, timezone: str) -> Period:
    """``2026Q3`` / ``2026-Q3``, ``2026-07`` or ``2026-07-01..2026-10-01`` (end exclusive)."""
    text = text.strip()
    if match := _QUARTER.match(text):
        year, quarter = int(match[1]), int(match[2])
        start = date(year, 3 * quarter - 2, 1)
        return Period(start, add_months(start, 3), timezone, f"{year}Q{quarter}")
    if match := _MONTH.match(text):
        start = date(int(match[1]), int(match[2]), 1)
        return Period(start, add_months(start, 1), timezone, text)
    if match := _RANGE.match(text):
        start, end = date.fromisoformat(match[1]), date.fromisoformat(match[2])
        if end <= start:
            raise ReportError(f"period {text!r}: the end must come after the start")
        return Period(start, end, timezone, label_of(start, end))
    raise ReportError(
        f"period {text!r}: expected a quarter (2026Q3), a month (2026-07) "
        "or a date range (2026-07-01..2026-10-01, end exclusive)"
    )


def label_of(start: date, end: date) -> str:
    """``2026Q3`` for a calendar quarter, ``2026-07`` for a month, else ``start..end``."""
    if start.day == 1 and start.month % 3 == 1 and end == add_months(start, 3):
        return f"{start.year}Q{(start.month + 2) // 3}"
    if start.day == 1 and end == add_months(start, 1):
        return f"{start.year}-{start.month:02d}"
    return f"{start.isoformat()}..{end.isoformat()}"


def cycle_period(anchor: date, interval_months: int, on: date, timezone: str) -> Period:
    """The period of a schedule (every ``interval_months`` from ``anchor``) holding ``on``."""
    offset = (on.year - anchor.year) * 12 + (on.month - anchor.month)
    steps = offset // interval_months
    start = add_months(anchor, steps * interval_months)
    if start > on:
        start = add_months(start, -interval_months)
    while add_months(start, interval_months) <= on:
        start = add_months(start, interval_months)
    end = add_months(start, interval_months)
    return Period(start, end, timezone, label_of(start, end))


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def _months_between(start: date, end: date) -> int | None:
    if start.day != end.day:
        return None
    months = (end.year - start.year) * 12 + end.month - start.month
    return months if months > 0 else None


def _local_midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)

"""The business calendar: which minutes are working time at a site.

A date is a working day by, in this order: an admin override (a date is a holiday / a
working day), a make-up working day (调休) of the public-holiday calendar, a public holiday,
and finally the weekly working days of the policy. On a working day the policy's hours
count (e.g. 08:30–17:30 in the site's time zone). Public holidays and 调休 working days come
from the ``holidays`` package (mainland China by default: its official State Council
notices, 2025 and 2026 included; ``weekend_workdays`` holds the 调休 days).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

from roomwatch.collector.sla.durations import Measure
from roomwatch.collector.sla.errors import CalendarError
from roomwatch.collector.sla.policies import WorkingHoursSpec

# Searching further than this for working time means the calendar has none.
MAX_DAYS = 3 * 366


class HolidaySource(Protocol):
    """Public holidays and make-up working days of one country."""

    def holiday_name(self, day: date) -> str | None: ...

    def is_makeup_workday(self, day: date) -> bool: ...


class PackageHolidays:
    """Holidays from the ``holidays`` package; mainland China (``CN``) by default."""

    def __init__(self, country: str = "CN", subdiv: str | None = None) -> None:
        self.country = country
        self._calendar = holidays.country_holidays(country, subdiv=subdiv)

    def holiday_name(self, day: date) -> str | None:
        name = self._calendar.get(day)
        return None if name is None else str(name)

    def is_makeup_workday(self, day: date) -> bool:
        self._calendar.get(day)  # populates the year, which fills weekend_workdays
        return day in getattr(self._calendar, "weekend_workdays", ())


@lru_cache(maxsize=8)
def package_holidays(country: str = "CN", subdiv: str | None = None) -> PackageHolidays:
    """One shared source per country (the package computes each year once)."""
    return PackageHolidays(country, subdiv)


@dataclass(frozen=True)
class Override:
    """An admin's word on a date, which wins over the holiday package."""

    working: bool
    note: str = ""


@dataclass(frozen=True)
class DayInfo:
    day: date
    working: bool
    reason: str  # "workday", "weekend", "holiday: 国庆节", "make-up working day", "override: ..."


class BusinessCalendar:
    """Working time of one policy's hours in one time zone. Answers are exact to the
    microsecond; instants come back in UTC."""

    def __init__(
        self,
        hours: WorkingHoursSpec,
        timezone: str | ZoneInfo = "Asia/Shanghai",
        holiday_source: HolidaySource | None = None,
        overrides: Mapping[date, Override] | None = None,
    ) -> None:
        self.tz = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
        self.hours = hours
        self._ranges = hours.ranges()
        self._weekdays = hours.weekday_numbers()
        self._holidays = holiday_source if holiday_source is not None else package_holidays()
        self._overrides = dict(overrides or {})

    @property
    def working_day_s(self) -> float:
        return self.hours.working_day_s

    def day(self, day: date) -> DayInfo:
        """Whether ``day`` is a working day, and why."""
        override = self._overrides.get(day)
        if override is not None:
            return DayInfo(day, override.working, f"override: {override.note}".rstrip(": "))
        if self._holidays.is_makeup_workday(day):
            return DayInfo(day, True, "make-up working day (调休)")
        name = self._holidays.holiday_name(day)
        if name is not None:
            return DayInfo(day, False, f"holiday: {name}")
        if day.weekday() in self._weekdays:
            return DayInfo(day, True, "workday")
        return DayInfo(day, False, "weekend")

    def is_working_day(self, day: date) -> bool:
        return self.day(day).working

    def working_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working hours of ``day`` (local date) as UTC instants; empty on a day off."""
        if not self.is_working_day(day):
            return []
        return [
            (
                datetime.combine(day, start, self.tz).astimezone(UTC),
                datetime.combine(day, end, self.tz).astimezone(UTC),
            )
            for start, end in self._ranges
        ]

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of working time has passed since ``start``.

        Time outside working hours does not count: an hour added at 17:00 on a Friday
        before a holiday week ends at 08:30 + 30 min on the next working day. A deadline
        that falls exactly at the end of working hours is that end (17:30), not the next
        morning. Zero returns ``start``.
        """
        _aware(start)
        if duration < timedelta(0):
            raise ValueError("working time to add must not be negative")
        left = duration
        start = start.astimezone(UTC)
        if left == timedelta(0):
            return start
        for begin, end in self._intervals_from(start):
            begin = max(begin, start)
            available = end - begin
            if left <= available:
                return begin + left
            left -= available
        raise CalendarError(f"no working time within {MAX_DAYS} days after {start.isoformat()}")

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time from ``a`` to ``b`` (negative when ``b`` is before ``a``)."""
        _aware(a)
        _aware(b)
        if b < a:
            return -self.working_time_between(b, a)
        a, b = a.astimezone(UTC), b.astimezone(UTC)
        total = timedelta(0)
        day = a.astimezone(self.tz).date()
        last = b.astimezone(self.tz).date()
        while day <= last:
            for begin, end in self.working_intervals(day):
                overlap = min(end, b) - max(begin, a)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total

    def advance(self, start: datetime, seconds: float, measure: Measure) -> datetime:
        """``start`` plus ``seconds`` of wall-clock or working time."""
        span = timedelta(seconds=seconds)
        if measure == "working":
            return self.add_working_time(start, span)
        return start.astimezone(UTC) + span

    def elapsed_s(self, a: datetime, b: datetime, measure: Measure) -> float:
        """Seconds of wall-clock or working time from ``a`` to ``b``."""
        if measure == "working":
            return self.working_time_between(a, b).total_seconds()
        return (b - a).total_seconds()

    def _intervals_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        day = start.astimezone(self.tz).date()
        for _ in range(MAX_DAYS):
            for begin, end in self.working_intervals(day):
                if end > start:
                    yield begin, end
            day += timedelta(days=1)


def _aware(moment: datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the business calendar")

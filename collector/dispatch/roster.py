"""The duty roster: who is on duty at a site at a given instant, decided from its shifts.

A shift is weekly (``weekdays`` with a local time range, e.g. working hours mon..fri
08:30-17:30, nights 17:30-08:30, weekends 00:00-00:00 = the whole day) or a date override
(``day``). At an instant, override shifts covering it win; else weekly shifts covering it;
among several, the one listed first (lowest id). A range whose end is not after its start
runs past midnight: its hours after midnight belong to the day it started, so a Friday
night shift still covers Saturday 03:00. Pure: the rows are loaded by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roomwatch.collector.timetable import WEEKDAYS, Weekday

HourMinute = str
HM_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"


class ShiftRow(Protocol):
    """What the roster reads of a stored shift (``collector.db.dispatch_models.DutyShift``)."""

    id: int
    person: str
    contact_id: int | None
    weekdays: list[str]
    day: date | None
    start_hm: str
    end_hm: str


class ShiftIn(BaseModel):
    """A shift as people write it (API, roster page)."""

    model_config = ConfigDict(extra="forbid")

    person: str = Field(min_length=1, max_length=100, description="Username of the engineer.")
    contact_id: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="SLA contact the person is reached by."
    )
    label: str = Field(default="", max_length=64, description="working_hours, nights, ...")
    weekdays: list[Weekday] = Field(default_factory=list, max_length=7)
    day: date | None = Field(default=None, description="A date override instead of weekdays.")
    start: str = Field(pattern=HM_PATTERN, description="Local time HH:MM.")
    end: str = Field(
        pattern=HM_PATTERN, description="Local time HH:MM; not after start: past midnight."
    )
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _weekly_or_dated(self) -> ShiftIn:
        if (self.day is None) == (not self.weekdays):  # both given, or neither
            raise ValueError("give either weekdays (a weekly shift) or day (a date override)")
        return self


def _hm(text: str) -> time:
    return time.fromisoformat(text)


def _covers(shift: ShiftRow, local: datetime, kind: Literal["override", "weekly"]) -> bool:
    start, end = _hm(shift.start_hm), _hm(shift.end_hm)
    overnight = end <= start
    for started_on in (local.date(), local.date() - timedelta(days=1)):
        if kind == "override":
            if shift.day != started_on:
                continue
        elif shift.day is not None or WEEKDAYS[started_on.weekday()] not in shift.weekdays:
            continue
        begins = datetime.combine(started_on, start, local.tzinfo)
        ends = datetime.combine(started_on + timedelta(days=overnight), end, local.tzinfo)
        if begins <= local < ends:
            return True
    return False


def on_duty(shifts: Iterable[ShiftRow], at: datetime, timezone: str) -> ShiftRow | None:
    """The shift whose person is on duty at ``at`` in the site's ``timezone``, if any."""
    local = at.astimezone(ZoneInfo(timezone))
    ordered: Sequence[ShiftRow] = sorted(shifts, key=lambda s: s.id)
    for kind in ("override", "weekly"):
        for shift in ordered:
            if (shift.day is not None) == (kind == "override") and _covers(shift, local, kind):
                return shift
    return None


@dataclass(frozen=True)
class DutyNow:
    """Who is on duty at a site now, for the roster page and API."""

    site_id: str
    person: str | None
    shift_id: int | None


__all__ = ["DutyNow", "HourMinute", "ShiftIn", "ShiftRow", "on_duty"]

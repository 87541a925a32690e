"""Class timetables: when a room is expected to record.

The service plan puts "recording service not running when a class is scheduled" at L1 and
the same outside class hours lower: nothing is lost yet, but the next lesson will be. A site
(or one room) gives its timetable in the inventory file; a rule with ``outside_class_level``
opens at that level while no class is scheduled and is raised to its ``level`` as soon as
one is (``collector.faults``). A room without a timetable counts as always in class, so the
rule keeps its own level there.

A day has classes when it is one of ``days`` and not a public holiday, or when it is a
make-up working day (调休) — both from the ``holidays`` package for ``holidays`` (a country
code, CN by default; ``null`` for none) — and, when ``terms`` are given, inside one of them.
A class is in session from ``lead_min`` minutes before a period starts (the recorder has to
be running when the teacher starts) until the period ends, in the site's time zone.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from roomwatch.collector.sla.calendar import package_holidays

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Period = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")]


class Term(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date
    end: date = Field(description="The term's last day (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> Term:
        if self.end < self.start:
            raise ValueError(f"term ends ({self.end}) before it starts ({self.start})")
        return self


class Timetable(BaseModel):
    """When classes are held (the inventory's ``timetable`` of a site or a room)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    periods: list[Period] = Field(
        min_length=1, description='Class periods, local time: ["08:00-08:45", ...].'
    )
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]), min_length=1)
    holidays: str | None = Field(
        default="CN",
        description="Country code: its public holidays have no class, its make-up working "
        "days (调休) do. null: weekdays only.",
    )
    terms: list[Term] = Field(
        default_factory=list, description="If given, classes only within these (vacations off)."
    )
    lead_min: float = Field(
        default=5, ge=0, le=120, description="The recorder must run this long before a period."
    )

    @field_validator("periods")
    @classmethod
    def _periods_forward(cls, periods: list[str]) -> list[str]:
        for period in periods:
            start, end = period.split("-")
            if end <= start:
                raise ValueError(f"period {period!r} ends before it starts")
        return periods

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, country: str | None) -> str | None:
        if country is not None:
            try:
                package_holidays(country)
            except (KeyError, NotImplementedError, AttributeError):
                raise ValueError(f"unknown holidays country {country!r} (e.g. CN)") from None
        return country

    def in_class(self, at: datetime, timezone: str) -> bool:
        """Whether ``at`` is within a period (or its lead time) on a day with classes."""
        local = at.astimezone(ZoneInfo(timezone))
        lead = timedelta(minutes=self.lead_min)
        for day in (local.date(), local.date() + timedelta(days=1)):  # lead crosses midnight
            if not self.has_classes(day):
                continue
            for start, end in self._spans():
                begins = datetime.combine(day, start, local.tzinfo) - lead
                if begins <= local < datetime.combine(day, end, local.tzinfo):
                    return True
        return False

    def has_classes(self, day: date) -> bool:
        if self.terms and not any(t.start <= day <= t.end for t in self.terms):
            return False
        if self.holidays is not None:
            source = package_holidays(self.holidays)
            if source.is_makeup_workday(day):
                return True
            if source.holiday_name(day) is not None:
                return False
        return WEEKDAYS[day.weekday()] in self.days

    def _spans(self) -> list[tuple[time, time]]:
        return [
            (time.fromisoformat(start), time.fromisoformat(end))
            for start, end in (p.split("-") for p in self.periods)
        ]

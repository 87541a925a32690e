"""Durations as people write them in policy files: ``30m``, ``2h``, ``4 working hours``.

A duration is measured either on the wall clock or in working time of the business
calendar. ``N working days`` means N times the length of one working day of the calendar
(Mon–Fri 08:30–17:30 → 9 h), so "3 working days" from Monday 10:00 ends Thursday 10:00 and,
from Friday evening, at the end of Wednesday's working hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Measure = Literal["wall", "working"]
Unit = Literal["minutes", "hours", "days"]

_UNIT_WORDS: dict[str, Unit] = {
    "m": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "h": "hours",
    "hour": "hours",
    "hours": "hours",
    "d": "days",
    "day": "days",
    "days": "days",
}
_PATTERN = re.compile(
    r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<working>working\s+)?(?P<unit>[a-z]+)\s*$", re.I
)
_UNIT_S = {"minutes": 60, "hours": 3600, "days": 86400}


@dataclass(frozen=True)
class Span:
    """An amount of wall-clock or working time, e.g. ``Span(3, "days", "working")``."""

    amount: float
    unit: Unit
    measure: Measure = "wall"

    def seconds(self, working_day_s: float) -> float:
        """Length in seconds; a working day counts ``working_day_s`` seconds of working time."""
        if self.unit == "days" and self.measure == "working":
            return self.amount * working_day_s
        return self.amount * _UNIT_S[self.unit]

    def __str__(self) -> str:
        amount = f"{self.amount:g}"
        working = "working " if self.measure == "working" else ""
        unit = self.unit[:-1] if self.amount == 1 else self.unit
        return f"{amount} {working}{unit}"


def parse_span(text: Any) -> Span:
    """``"30m"``, ``"2 h"``, ``"4 working hours"``, ``"3 working days"`` → Span.

    Raises ValueError with the accepted forms (pydantic turns it into a located error).
    """
    if isinstance(text, Span):
        return text
    match = _PATTERN.match(str(text))
    unit = _UNIT_WORDS.get(match.group("unit").lower()) if match else None
    if match is None or unit is None:
        raise ValueError(
            f"not a duration: {text!r} (expected e.g. 30m, 2h, 1d, 4 working hours, 3 working days)"
        )
    amount = float(match.group("amount"))
    if amount <= 0:
        raise ValueError(f"duration must be positive: {text!r}")
    return Span(amount, unit, "working" if match.group("working") else "wall")

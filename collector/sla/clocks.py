"""Clock arithmetic on ``sla_clocks`` rows: start, pause, resume, stop, breach, views.

A clock's ``budget_s`` and ``paused_total_s`` are in its measure (wall or working seconds),
so its deadline is always ``advance(started_at, budget_s + paused_total_s)``: a pause moves
the deadline by exactly the (working) time spent paused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from roomwatch.collector.db.sla_models import SlaClock
from roomwatch.collector.sla.calendar import BusinessCalendar
from roomwatch.collector.sla.durations import Measure

ClockState = Literal["running", "paused", "met", "breached"]


@dataclass(frozen=True)
class ClockView:
    """A clock as the API shows it. ``remaining_s`` is in the clock's measure (working
    seconds for a working-time clock), negative once over; for a stopped clock it is what
    was left (or over) at the stop."""

    kind: str
    measure: str
    policy_id: str
    level: int
    budget_s: float
    state: ClockState
    started_at: datetime
    deadline_at: datetime
    remaining_s: float
    paused_at: datetime | None
    paused_total_s: float
    stopped_at: datetime | None
    stopped_by: str | None
    met: bool | None
    breached_at: datetime | None
    overrun_min: int | None


def measure_of(clock: SlaClock) -> Measure:
    return "working" if clock.measure == "working" else "wall"


def note_breach(clock: SlaClock, now: datetime) -> bool:
    """Record the breach of a running clock whose deadline has passed; True if new."""
    if clock.breached_at is None and now >= clock.deadline_at:
        clock.breached_at = clock.deadline_at
        return True
    return False


def pause(clock: SlaClock, at: datetime) -> None:
    if clock.stopped_at is not None or clock.paused_at is not None:
        return
    note_breach(clock, at)
    clock.paused_at = at


def resume(clock: SlaClock, at: datetime, calendar: BusinessCalendar) -> None:
    """End a pause: the paused (working) time is added and the deadline moves by it."""
    if clock.paused_at is None:
        return
    paused_s = max(0.0, calendar.elapsed_s(clock.paused_at, at, measure_of(clock)))
    clock.paused_total_s += paused_s
    clock.paused_at = None
    clock.deadline_at = calendar.advance(
        clock.started_at, clock.budget_s + clock.paused_total_s, measure_of(clock)
    )


def stop(clock: SlaClock, at: datetime, by: str, calendar: BusinessCalendar) -> None:
    """Stop a clock: met when it never breached, with the minutes early or late."""
    if clock.stopped_at is not None:
        return
    resume(clock, at, calendar)
    note_breach(clock, at)
    clock.stopped_at = at
    clock.stopped_by = by
    clock.met = clock.breached_at is None
    late_s = calendar.elapsed_s(clock.deadline_at, at, measure_of(clock))
    clock.overrun_min = overrun_minutes(late_s)


def overrun_minutes(late_s: float) -> int:
    """Seconds after the deadline as whole minutes: any lateness is at least one minute
    late; earliness counts completed minutes (29 min 30 s early → -29)."""
    if late_s > 0:
        return math.ceil(late_s / 60)
    return -math.floor(-late_s / 60)


def view(clock: SlaClock, now: datetime, calendar: BusinessCalendar) -> ClockView:
    measure = measure_of(clock)
    if clock.stopped_at is not None:
        reference = clock.stopped_at
        state: ClockState = "met" if clock.met else "breached"
    elif clock.paused_at is not None:
        reference, state = clock.paused_at, "paused"
    else:
        reference = now
        breached = clock.breached_at is not None or now >= clock.deadline_at
        state = "breached" if breached else "running"
    return ClockView(
        kind=clock.kind,
        measure=clock.measure,
        policy_id=clock.policy_id,
        level=clock.level,
        budget_s=clock.budget_s,
        state=state,
        started_at=clock.started_at,
        deadline_at=clock.deadline_at,
        remaining_s=calendar.elapsed_s(reference, clock.deadline_at, measure),
        paused_at=clock.paused_at,
        paused_total_s=clock.paused_total_s,
        stopped_at=clock.stopped_at,
        stopped_by=clock.stopped_by,
        met=clock.met,
        breached_at=clock.breached_at,
        overrun_min=clock.overrun_min,
    )

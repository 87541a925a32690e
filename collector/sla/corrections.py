"""Corrections of clocks already running: the calendar changed under them, or their fault
came back after it was resolved.

* ``recompute_deadlines``: an admin added a day off (or a working day) or changed a
  policy's working hours. Every clock that has not stopped gets its deadline again from its
  start, budget and pauses in today's calendar — a working-time clock moves, a wall-clock
  clock does not. Budgets stay what they were when the clock started, and a breach already
  recorded stays recorded (it was escalated; a later correction does not undo it).
* ``resume_after_reopen``: a resolved fault reopened. The clocks its resolution stopped
  (``stopped_by`` resolved / closed) run again, so the fault can still breach and
  escalate; clocks a person stopped by responding (acknowledged, on site) stay met. The
  time the fault spent resolved counts as a pause: nobody could work on a fault that was
  not there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from roomwatch.collector.db import sla_store
from roomwatch.collector.db.sla_models import SlaClock
from roomwatch.collector.sla import clocks as clock_math
from roomwatch.collector.sla.calendar import BusinessCalendar

# Statuses whose stop of a clock is undone when the fault reopens: the fault went away,
# nobody answered it.
STOPPED_BY_RESOLUTION = frozenset({"resolved", "closed"})

CalendarOf = Callable[[SlaClock], BusinessCalendar]


def recompute_deadlines(clocks: list[SlaClock], calendar_of: CalendarOf) -> int:
    """New deadlines for every clock that has not stopped; returns how many moved."""
    moved = 0
    for clock in clocks:
        if clock.stopped_at is not None:
            continue
        calendar = calendar_of(clock)
        deadline = calendar.advance(
            clock.started_at,
            clock.budget_s + clock.paused_total_s,
            clock_math.measure_of(clock),
        )
        if deadline != clock.deadline_at:
            clock.deadline_at = deadline
            moved += 1
    return moved


def resume_after_reopen(
    session: Session, fault_id: int, at: datetime, calendar_of: CalendarOf
) -> list[str]:
    """Run again the clocks the fault's resolution stopped; returns their kinds."""
    resumed: list[str] = []
    for clock in sla_store.clocks_of(session, fault_id):
        if clock.stopped_at is None or clock.stopped_by not in STOPPED_BY_RESOLUTION:
            continue
        calendar = calendar_of(clock)
        measure = clock_math.measure_of(clock)
        resolved_s = max(0.0, calendar.elapsed_s(clock.stopped_at, at, measure))
        clock.paused_total_s += resolved_s
        clock.stopped_at, clock.stopped_by = None, None
        clock.met, clock.overrun_min = None, None
        clock.deadline_at = calendar.advance(
            clock.started_at, clock.budget_s + clock.paused_total_s, measure
        )
        resumed.append(clock.kind)
    return resumed


__all__ = ["STOPPED_BY_RESOLUTION", "recompute_deadlines", "resume_after_reopen"]

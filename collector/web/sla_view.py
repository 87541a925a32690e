"""SLA clocks as the pages show them: time left on each clock, amber before the deadline,
red once breached. The clocks are the SLA engine's (``collector.sla``): the pages read them
through the same ``SlaService`` the fault workflow drives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from roomwatch.collector.api.auth import clock_of

# A running clock turns amber when no more than this share of its budget is left.
AMBER_SHARE = 0.25


@dataclass(frozen=True)
class ClockView:
    kind: str  # respond, on_site, fix, replace
    deadline: datetime | None
    remaining_s: float | None  # in the clock's measure; negative once over
    state: str  # running, paused, met, breached
    budget_s: float | None = None
    measure: str = "wall"  # or "working": working seconds, counted on the site's calendar
    ticking: bool = False  # not stopped nor paused: the deadline is still ahead or passing

    @property
    def urgency(self) -> str:
        """``red`` breached, ``amber`` close to it, ``ok`` comfortable, ``done`` met."""
        if self.state == "met":
            return "done"
        if self.state == "breached" or (self.remaining_s is not None and self.remaining_s < 0):
            return "red"
        if self.remaining_s is not None and self.budget_s:
            return "amber" if self.remaining_s <= self.budget_s * AMBER_SHARE else "ok"
        return "ok"

    @property
    def live(self) -> bool:
        """Whether the browser may count it down: a ticking wall-clock clock."""
        return self.ticking and self.measure == "wall"


def sla_service(request: Request) -> Any | None:
    """The SLA service the app's fault workflow uses (so pages and hooks agree on time and
    calendars); None when the SLA engine is not installed."""
    workflow = getattr(request.app.state, "workflow", None)
    service = getattr(getattr(workflow, "hooks", None), "sla", None)
    if service is not None:
        return service
    try:
        from roomwatch.collector.sla.service import SlaService
    except ImportError:
        return None
    return SlaService(clock=clock_of(request), notify=False)


def clocks_for(
    request: Request, session: Session, fault_ids: Sequence[int]
) -> dict[int, list[ClockView]]:
    """fault id → its clocks (respond, on site, fix, replace order as the policy made them)."""
    service = sla_service(request)
    if service is None:
        return {}
    return {
        fault_id: [_view(clock) for clock in service.clocks(session, fault_id)]
        for fault_id in fault_ids
    }


def _view(clock: Any) -> ClockView:
    return ClockView(
        kind=clock.kind,
        deadline=clock.deadline_at,
        remaining_s=clock.remaining_s,
        state=clock.state,
        budget_s=clock.budget_s,
        measure=clock.measure,
        ticking=clock.stopped_at is None and clock.paused_at is None,
    )


def now_of(request: Request) -> datetime:
    """The app's clock (injectable in tests), for ages and countdowns."""
    return clock_of(request)()

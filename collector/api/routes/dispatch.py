"""Dispatch over HTTP: today's lessons at risk (``GET /api/today``), the duty roster of a
site (engineers read, admins edit) and a fault's assignee (engineers set it by hand).

Every route narrows to the caller's sites (``Principal.sites``; None: every site): another
site's roster, shift or fault answers 404 (``collector.api.scoping`` guards the path ids).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from roomwatch.collector.api.auth import Admin, Engineer, Principal, Viewer, clock_of
from roomwatch.collector.api.bounds import RowId
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.schemas import ErrorOut
from roomwatch.collector.api.scoping import scope_path_parameter
from roomwatch.collector.db import dispatch_store, faults_store, sla_store, users_store
from roomwatch.collector.db.dispatch_models import DutyShift
from roomwatch.collector.db.dispatch_store import SiteScope
from roomwatch.collector.dispatch.assign import duty_shift
from roomwatch.collector.dispatch.roster import ShiftIn
from roomwatch.collector.dispatch.today import SiteToday, site_today
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.sla.providers import DEFAULT_TIMEZONE

router = APIRouter(tags=["dispatch"])
scope_path_parameter("shift_id", DutyShift)  # the central guard: another site's shift is 404
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}


def scope_of(principal: Principal) -> SiteScope:
    """The sites the caller may see (None: every site)."""
    return principal.sites


def default_timezone(request: Request) -> str:
    sla = getattr(request.app.state, "sla", None)
    return getattr(getattr(sla, "calendars", None), "default_timezone", DEFAULT_TIMEZONE)


# ------------------------------------------------------------------ today


class RiskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str = Field(
        description="Why the lesson is at risk, a code to word it by: fault | agent_offline"
        " | recorder_not_running | storage_full"
    )
    detail: str = Field(
        description="In English, as the collector words it; a reader's words are made from"
        " kind and the fields below"
    )
    device: str | None
    fault_id: int | None
    level: int | None
    status: str | None
    assignee: str | None
    deadline_kind: str | None = Field(description="The SLA clock that runs out first")
    deadline_at: datetime | None
    titles: dict[str, str] = Field(
        description="A fault's title per language (zh-CN, en) as its rule words it; a fault"
        " reported by a person keeps its words; empty for other kinds"
    )
    label: str | None = Field(
        description="recorder_not_running: the process; storage_full: the disk or volume"
    )
    used_pct: float | None = Field(description="storage_full: the storage's use now, %")
    full_at: datetime | None = Field(description="storage_full: when it is projected full")


class RoomRiskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    room_id: str
    room_name: str
    risks: list[RiskOut]


class PeriodOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    start: datetime
    end: datetime
    label: str
    rooms: int = Field(description="Rooms with a class in this period")
    at_risk: list[RoomRiskOut]


class DayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    day: date
    periods: list[PeriodOut]


class SiteTodayOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    site_id: str
    name: str
    timezone: str
    days: list[DayOut]


class TodayOut(BaseModel):
    generated_at: datetime
    sites: list[SiteTodayOut]


def today_views(
    session: DbSession, scope: SiteScope, site: str | None, now: datetime, timezone: str
) -> list[SiteToday]:
    """Each visible site's (or the one asked for) periods and rooms at risk."""
    chosen = (
        [dispatch_store.get_site(session, site, scope)]
        if site
        else dispatch_store.sites(session, scope)
    )
    return [
        site_today(row, dispatch_store.room_facts(session, row.id, now, 6.0), now, timezone)
        for row in chosen
    ]


@router.get("/api/today", response_model=TodayOut, responses=_NOT_FOUND)
def today(
    session: DbSession,
    viewer: Viewer,
    request: Request,
    site: Annotated[
        str | None, Query(max_length=64, description="Site id; all when absent")
    ] = None,
) -> TodayOut:
    """Today's periods that have not ended (after the last, the next school day's) per
    site, with every room whose lesson is at risk and why, sorted by start time."""
    now = clock_of(request)()
    views = today_views(session, scope_of(viewer), site, now, default_timezone(request))
    return TodayOut(generated_at=now, sites=[SiteTodayOut.model_validate(view) for view in views])


# ------------------------------------------------------------------ roster


class ShiftOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: str
    person: str
    contact_id: int | None
    label: str
    weekdays: list[str]
    day: date | None
    start: str = Field(validation_alias="start_hm")
    end: str = Field(validation_alias="end_hm")
    note: str


class RosterOut(BaseModel):
    site_id: str
    timezone: str
    on_duty_now: str | None = Field(description="Who a fault opened now is assigned to")
    shifts: list[ShiftOut]


def _shift_fields(body: ShiftIn) -> dict[str, object]:
    return {
        "person": body.person,
        "contact_id": body.contact_id,
        "label": body.label,
        "weekdays": list(body.weekdays),
        "day": body.day,
        "start_hm": body.start,
        "end_hm": body.end,
        "note": body.note,
    }


@router.get("/api/roster/{site_id}", response_model=RosterOut, responses=_NOT_FOUND)
def roster(site_id: str, session: DbSession, engineer: Engineer, request: Request) -> RosterOut:
    """A site's duty shifts and who is on duty now."""
    site = dispatch_store.get_site(session, site_id, scope_of(engineer))
    timezone = default_timezone(request)
    now_shift = duty_shift(session, site.id, clock_of(request)(), timezone)
    return RosterOut(
        site_id=site.id,
        timezone=site.timezone or timezone,
        on_duty_now=now_shift.person if now_shift is not None else None,
        shifts=[ShiftOut.model_validate(s) for s in dispatch_store.shifts_of(session, site.id)],
    )


@router.post(
    "/api/roster/{site_id}/shifts",
    response_model=ShiftOut,
    status_code=status.HTTP_201_CREATED,
    responses=_NOT_FOUND,
)
def add_shift(site_id: str, body: ShiftIn, session: DbSession, admin: Admin) -> ShiftOut:
    """Add a weekly shift or a date override to a site's roster."""
    site = dispatch_store.get_site(session, site_id, scope_of(admin))
    return ShiftOut.model_validate(dispatch_store.save_shift(session, site.id, _shift_fields(body)))


@router.put("/api/roster/shifts/{shift_id}", response_model=ShiftOut, responses=_NOT_FOUND)
def replace_shift(shift_id: RowId, body: ShiftIn, session: DbSession, admin: Admin) -> ShiftOut:
    shift: DutyShift = dispatch_store.get_shift(session, shift_id, scope_of(admin))
    saved = dispatch_store.save_shift(session, shift.site_id, _shift_fields(body), shift)
    return ShiftOut.model_validate(saved)


@router.delete(
    "/api/roster/shifts/{shift_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_NOT_FOUND,
)
def delete_shift(shift_id: RowId, session: DbSession, admin: Admin) -> Response:
    dispatch_store.delete_shift(
        session, dispatch_store.get_shift(session, shift_id, scope_of(admin))
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------ assignee


class AssigneeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(
        max_length=100, description="A username, 'me' for the caller, or null to unassign."
    )


class AssigneeOut(BaseModel):
    fault_id: int
    assignee: str | None
    changed: bool


@router.put("/api/faults/{fault_id}/assignee", response_model=AssigneeOut, responses=_NOT_FOUND)
def set_assignee(
    fault_id: RowId, body: AssigneeIn, session: DbSession, engineer: Engineer, request: Request
) -> AssigneeOut:
    """Assign a fault by hand (reassign, take it: ``"me"``, or unassign: null)."""
    fault = faults_store.get_fault(session, fault_id)
    site_id, _ = sla_store.fault_site(session, fault)
    scope = scope_of(engineer)
    if scope is not None and site_id not in scope:
        raise NotFoundError(f"no fault {fault_id}")
    person = engineer.username if body.assignee == "me" else body.assignee
    if person is not None and users_store.find_user(session, person) is None:
        raise NotFoundError(f"no user {person!r}")
    changed = dispatch_store.set_assignee(
        session, fault, person, engineer.username, clock_of(request)()
    )
    return AssigneeOut(fault_id=fault.id, assignee=fault.assignee, changed=changed)

"""The plan's follow-through: return visits (回访) and training sessions per site, the
school's confirmation of an inspection's checklist, and sending the inspection reminders
due now. Viewers read; engineers record visits; a school user (for its own sites) or an
engineer (giving the school representative's name) confirms a checklist. The path
parameter ``site`` is narrowed to the caller's sites (404 otherwise)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from roomwatch.collector.api.auth import SCHOOL, Engineer, SchoolOrEngineer, Viewer
from roomwatch.collector.api.bounds import IsoDate, RowId
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.routes.reports import _run, reports_of
from roomwatch.collector.api.schemas import ErrorOut
from roomwatch.collector.db import followup_store, report_store
from roomwatch.collector.reports.reminders import send_reminders

router = APIRouter(tags=["follow-through"])
_ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}}
Kind = Literal["return_visit", "training"]
Person = Annotated[str, Field(min_length=1, max_length=100)]


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    held_on: IsoDate
    people: list[Person] = Field(min_length=1, max_length=100)
    topics: str = Field(min_length=1, max_length=4000)
    issues: str = Field(default="", max_length=4000)


class VisitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    site_id: str
    kind: str
    held_on: date
    people: list[str]
    topics: str
    issues: str
    recorded_by: str
    recorded_at: datetime


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirmed_by: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="the school's representative; a school user may leave it out (their name)",
    )
    confirmed_at: datetime | None = Field(default=None, description="default: now")
    note: str = Field(default="", max_length=2000)


class ConfirmOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    site_id: str
    period_start: date
    confirmed_by: str
    confirmed_at: datetime
    entered_by: str
    entered_role: str
    note: str


class ReminderOut(BaseModel):
    site_id: str
    period_label: str
    due_on: date


@router.post(
    "/api/sites/{site}/visits",
    response_model=VisitOut,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def add_visit(
    site: str, body: VisitIn, session: DbSession, engineer: Engineer, request: Request
) -> VisitOut:
    """Record a return visit or a training session held at the site."""
    report_store.require_site(session, site)
    row = followup_store.add_visit(
        session,
        site,
        kind=body.kind,
        held_on=body.held_on,
        people=[p.strip() for p in body.people],
        topics=body.topics.strip(),
        issues=body.issues.strip(),
        recorded_by=engineer.username,
        recorded_at=request.app.state.clock(),
    )
    return VisitOut.model_validate(row)


@router.get("/api/sites/{site}/visits", response_model=list[VisitOut], responses=_ERRORS)
def list_visits(
    site: str,
    session: DbSession,
    _viewer: Viewer,
    kind: Annotated[Kind | None, Query()] = None,
    start: Annotated[IsoDate | None, Query(alias="from")] = None,
    end: Annotated[IsoDate | None, Query(alias="to", description="exclusive")] = None,
) -> list[VisitOut]:
    report_store.require_site(session, site)
    rows = followup_store.visits(session, site, kind, start, end)
    return [VisitOut.model_validate(row) for row in rows]


@router.delete(
    "/api/sites/{site}/visits/{visit_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_ERRORS,
)
def delete_visit(site: str, visit_id: RowId, session: DbSession, _engineer: Engineer) -> Response:
    followup_store.delete_visit(session, site, visit_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/api/inspections/{site}/periods/{period}/confirmation",
    response_model=ConfirmOut,
    responses=_ERRORS,
)
def confirm_checklist(
    site: str,
    period: str,
    body: ConfirmIn,
    session: DbSession,
    who: SchoolOrEngineer,
    request: Request,
) -> ConfirmOut:
    """The school confirms the period's checklist: a school user in their own name (or a
    colleague's), an engineer with the school representative's name."""
    start = _run(lambda: reports_of(request).period_of(site, period)).start
    school = who.role == SCHOOL
    name = body.confirmed_by or (who.display_name or who.username if school else None)
    if not name or not name.strip():
        raise HTTPException(422, "confirmed_by: the school representative's name is required")
    row = followup_store.put_confirmation(
        session,
        site,
        start,
        confirmed_by=name.strip(),
        confirmed_at=body.confirmed_at or request.app.state.clock(),
        entered_by=who.username,
        entered_role=SCHOOL if school else "engineer",
        note=body.note,
    )
    return ConfirmOut.model_validate(row)


@router.get(
    "/api/inspections/{site}/periods/{period}/confirmation",
    response_model=ConfirmOut,
    responses=_ERRORS,
)
def get_confirmation(
    site: str, period: str, session: DbSession, _viewer: Viewer, request: Request
) -> ConfirmOut:
    start = _run(lambda: reports_of(request).period_of(site, period)).start
    row = followup_store.confirmation(session, site, start)
    if row is None:
        raise HTTPException(404, f"the checklist of {site} {period} is not confirmed yet")
    return ConfirmOut.model_validate(row)


@router.post("/api/inspections/reminders", response_model=list[ReminderOut])
def run_reminders(engineer: Engineer, request: Request) -> list[ReminderOut]:
    """Send the reminders of inspections (of the caller's sites) that entered their lead
    time (each once)."""
    state = request.app.state
    sent = send_reminders(state.database, reports_of(request), state.clock(), engineer.sites)
    return [ReminderOut(site_id=d.site_id, period_label=d.period_label, due_on=d.period_end)
            for d in sent]  # fmt: skip

"""SLA over HTTP: policies and the default policy, the site → policy mapping, calendar
overrides and the calendar's days, escalation contacts (admins edit, everyone logged in
reads), a fault's clocks and escalations, and logging a customer complaint (engineers).
Policies, the default policy and the calendar are shared by every site: only an admin bound
to no site changes them (403 for a bound one). Who changed a policy or a calendar override
last (``updated_by``) is shown to admins only: it names a user, and the other roles have no
say in these settings."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from roomwatch.collector.api.auth import (
    Admin,
    Engineer,
    GroupAdmin,
    Principal,
    SchoolOrEngineer,
    Scope,
    Viewer,
    clock_of,
)
from roomwatch.collector.api.bounds import IsoDate, RowId
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.schemas import EDITOR_SHOWN, ErrorOut
from roomwatch.collector.api.scoping import require_visible
from roomwatch.collector.db import sla_store
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.sla_models import SlaCalendarOverride, SlaContact, SlaPolicy
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.reports.errors import ReportError
from roomwatch.collector.reports.period import parse_period
from roomwatch.collector.reports.sla_figures import sla_figures
from roomwatch.collector.sla.errors import PolicyError
from roomwatch.collector.sla.policies import ContactDoc, PolicyDoc, WorkingHoursSpec
from roomwatch.collector.sla.service import SlaService

router = APIRouter(prefix="/api/sla", tags=["sla"])
_ERRORS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
MAX_CALENDAR_DAYS = 366


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class PolicyOut(_Out):
    policy: PolicyDoc
    source: str = Field(description="file or api: who wrote it last")
    updated_at: datetime
    updated_by: str | None = Field(description=EDITOR_SHOWN)
    default: bool
    sites: list[str] = Field(description="Sites mapped to this policy (those the caller sees)")


class DefaultPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy_id: str


class SitePolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy_id: str
    note: str = ""


class SitePolicyOut(_Out):
    site_id: str
    site_name: str
    policy_id: str | None = Field(description="The site's own mapping; null = the default")
    effective_policy_id: str | None


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    working: bool = Field(description="true: a working day; false: a holiday")
    note: str = ""


class OverrideOut(_Out):
    day: date
    working: bool
    note: str
    updated_at: datetime
    updated_by: str | None = Field(description=EDITOR_SHOWN)


class CalendarDayOut(_Out):
    day: date
    working: bool
    reason: str


class ContactOut(_Out):
    id: int
    name: str
    role: str
    site_id: str | None
    email: str | None
    phone: str | None
    channels: list[str]
    note: str


class ClockOut(_Out):
    kind: str
    measure: str
    policy_id: str
    level: int
    budget_s: float
    state: str
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


class EscalationOut(_Out):
    id: int
    trigger: str
    clock_kind: str | None
    rank: int
    role: str
    at: datetime
    actor: str
    text: str


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Annotated[str, Field(min_length=1, max_length=4000)]
    complainant: Annotated[str, Field(max_length=200)] = ""


def _service(request: Request) -> SlaService:
    found = getattr(request.app.state, "sla", None)
    return found if isinstance(found, SlaService) else SlaService(clock=clock_of(request))


def _conflict(exc: PolicyError) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


# ------------------------------------------------------------------ policies


def _policy_out(session: DbSession, doc: PolicyDoc, row: SlaPolicy, viewer: Principal) -> PolicyOut:
    sites = [
        s.site_id
        for s in sla_store.list_site_policies(session)
        if s.policy_id == doc.id and (viewer.sites is None or s.site_id in viewer.sites)
    ]
    return PolicyOut(
        policy=doc,
        source=row.source,
        updated_at=row.updated_at,
        updated_by=viewer.editor_shown(row.updated_by),
        default=sla_store.default_policy_id(session) == doc.id,
        sites=sites,
    )


@router.get("/policies", response_model=list[PolicyOut])
def list_policies(session: DbSession, viewer: Viewer) -> list[PolicyOut]:
    return [_policy_out(session, doc, row, viewer) for doc, row in sla_store.list_policies(session)]


@router.get("/policies/{policy_id}", response_model=PolicyOut, responses=_ERRORS)
def get_policy(policy_id: str, session: DbSession, viewer: Viewer) -> PolicyOut:
    row = session.get(SlaPolicy, policy_id)
    if row is None:
        raise NotFoundError(f"no SLA policy {policy_id!r}")
    return _policy_out(session, sla_store.policy_doc(row), row, viewer)


@router.put("/policies/{policy_id}", response_model=PolicyOut, responses=_ERRORS)
def put_policy(
    policy_id: str, body: PolicyDoc, session: DbSession, admin: GroupAdmin, request: Request
) -> PolicyOut:
    """Create or replace a policy (the same document as in an SLA file). Running clocks
    keep their budgets; their deadlines follow the policy's new working hours; faults
    opened from now on use the new values."""
    if body.id != policy_id:
        raise HTTPException(422, f"the body's id {body.id!r} is not {policy_id!r}")
    sla_store.put_policy(session, body, clock_of(request)(), admin.username, "api")
    session.flush()
    _service(request).recompute_deadlines(session)
    return get_policy(policy_id, session, admin)


@router.delete("/policies/{policy_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
def delete_policy(policy_id: str, session: DbSession, _admin: GroupAdmin) -> Response:
    if session.get(SlaPolicy, policy_id) is None:
        raise NotFoundError(f"no SLA policy {policy_id!r}")
    try:
        sla_store.delete_policy(session, policy_id)
    except PolicyError as exc:
        raise _conflict(exc) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/default-policy", response_model=DefaultPolicyIn)
def get_default_policy(session: DbSession, _viewer: Viewer) -> DefaultPolicyIn:
    return DefaultPolicyIn(policy_id=sla_store.default_policy_id(session) or "")


@router.put("/default-policy", response_model=DefaultPolicyIn, responses=_ERRORS)
def set_default_policy(
    body: DefaultPolicyIn, session: DbSession, _admin: GroupAdmin
) -> DefaultPolicyIn:
    """The policy of every site without its own mapping."""
    try:
        sla_store.set_default_policy(session, body.policy_id)
    except PolicyError as exc:
        raise _conflict(exc) from None
    return body


# ------------------------------------------------------------------ sites


@router.get("/sites", response_model=list[SitePolicyOut])
def list_sites(session: DbSession, _viewer: Viewer, sites: Scope) -> list[SitePolicyOut]:
    default = sla_store.default_policy_id(session)
    return [
        SitePolicyOut(
            site_id=site_id,
            site_name=name,
            policy_id=policy_id,
            effective_policy_id=policy_id or default,
        )
        for site_id, name, policy_id in sla_store.sites_overview(session)
        if sites is None or site_id in sites
    ]


@router.put("/sites/{site_id}", response_model=SitePolicyOut, responses=_ERRORS)
def put_site(
    site_id: str, body: SitePolicyIn, session: DbSession, admin: Admin, request: Request
) -> SitePolicyOut:
    """Map a site to the policy of its contract."""
    try:
        sla_store.set_site_policy(
            session, site_id, body.policy_id, body.note, clock_of(request)(), admin.username
        )
    except PolicyError as exc:
        raise _conflict(exc) from None
    return next(s for s in list_sites(session, admin, None) if s.site_id == site_id)


@router.delete("/sites/{site_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
def delete_site(site_id: str, session: DbSession, _admin: Admin) -> Response:
    """The site goes back to the default policy."""
    if not sla_store.delete_site_policy(session, site_id):
        raise NotFoundError(f"site {site_id!r} has no policy of its own")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------ calendar


@router.get("/calendar/overrides", response_model=list[OverrideOut])
def list_overrides(
    session: DbSession,
    viewer: Viewer,
    start: Annotated[IsoDate | None, Query(alias="from")] = None,
    end: Annotated[IsoDate | None, Query(alias="to")] = None,
) -> list[OverrideOut]:
    rows = sla_store.list_overrides(session, start, end)
    return [_override_out(row, viewer) for row in rows]


def _override_out(row: SlaCalendarOverride, viewer: Principal) -> OverrideOut:
    return OverrideOut(
        day=row.day,
        working=row.working,
        note=row.note,
        updated_at=row.updated_at,
        updated_by=viewer.editor_shown(row.updated_by),
    )


@router.put("/calendar/overrides/{day}", response_model=OverrideOut)
def put_override(
    day: IsoDate, body: OverrideIn, session: DbSession, admin: GroupAdmin, request: Request
) -> OverrideOut:
    """Declare a date a holiday or a working day; it wins over the holiday package. The
    deadlines of running working-time clocks move with it."""
    row = sla_store.put_override(
        session, day, body.working, body.note, clock_of(request)(), admin.username
    )
    session.flush()
    _service(request).recompute_deadlines(session)
    return _override_out(row, admin)


@router.delete(
    "/calendar/overrides/{day}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS
)
def delete_override(
    day: IsoDate, session: DbSession, _admin: GroupAdmin, request: Request
) -> Response:
    if not sla_store.delete_override(session, day):
        raise NotFoundError(f"no calendar override on {day}")
    session.flush()
    _service(request).recompute_deadlines(session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/calendar/days", response_model=list[CalendarDayOut], responses=_ERRORS)
def calendar_days(
    session: DbSession,
    _viewer: Viewer,
    request: Request,
    start: Annotated[IsoDate, Query(alias="from")],
    end: Annotated[IsoDate, Query(alias="to")],
    policy: Annotated[str | None, Query(description="Whose working weekdays (default)")] = None,
) -> list[CalendarDayOut]:
    """Each day from ``from`` to ``to`` (at most a year): working or not, and why."""
    if end < start or (end - start).days >= MAX_CALENDAR_DAYS:
        raise HTTPException(
            422, f"'to' must be on or after 'from', at most {MAX_CALENDAR_DAYS} days"
        )
    policy_id = policy or sla_store.default_policy_id(session)
    doc = sla_store.get_policy(session, policy_id) if policy_id else None
    if policy and doc is None:
        raise NotFoundError(f"no SLA policy {policy!r}")
    hours = doc.working_hours if doc is not None else WorkingHoursSpec()
    calendar = _service(request).calendars.calendar(session, hours, None)
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    return [CalendarDayOut.model_validate(calendar.day(d), from_attributes=True) for d in days]


# ------------------------------------------------------------------ contacts

_EVERY_SITE = "*"  # a contact without a site serves every site: only unbound admins add one


@router.get("/contacts", response_model=list[ContactOut])
def list_contacts(session: DbSession, _engineer: Engineer, sites: Scope) -> list[ContactOut]:
    """The people of the escalation chains (engineers and admins: personal data); for a
    user bound to sites, those of their sites and those of every site."""
    rows = sla_store.list_contacts(session)
    visible = [row for row in rows if row.site_id is None or sites is None or row.site_id in sites]
    return [ContactOut.model_validate(row) for row in visible]


@router.post(
    "/contacts", response_model=ContactOut, status_code=status.HTTP_201_CREATED, responses=_ERRORS
)
def create_contact(body: ContactDoc, session: DbSession, admin: Admin) -> ContactOut:
    require_visible(session, admin.sites, site=body.site or _EVERY_SITE)
    try:
        return ContactOut.model_validate(sla_store.put_contact(session, body))
    except PolicyError as exc:
        raise _conflict(exc) from None


@router.put("/contacts/{contact_id}", response_model=ContactOut, responses=_ERRORS)
def replace_contact(
    contact_id: RowId, body: ContactDoc, session: DbSession, admin: Admin
) -> ContactOut:
    require_visible(session, admin.sites, site=body.site or _EVERY_SITE)
    if session.get(SlaContact, contact_id) is None:
        raise NotFoundError(f"no contact {contact_id}")
    try:
        return ContactOut.model_validate(sla_store.put_contact(session, body, contact_id))
    except PolicyError as exc:
        raise _conflict(exc) from None


@router.delete("/contacts/{contact_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
def delete_contact(contact_id: RowId, session: DbSession, _admin: Admin) -> Response:
    if not sla_store.delete_contact(session, contact_id):
        raise NotFoundError(f"no contact {contact_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------ a fault's SLA


def _fault(session: DbSession, fault_id: RowId) -> Fault:
    fault = session.get(Fault, fault_id)
    if fault is None:
        raise NotFoundError(f"fault {fault_id} does not exist")
    return fault


@router.get("/faults/{fault_id}/clocks", response_model=list[ClockOut], responses=_ERRORS)
def fault_clocks(
    fault_id: RowId, session: DbSession, _viewer: Viewer, request: Request
) -> list[ClockOut]:
    """The fault's clocks: deadline, time left (in the clock's measure) and state."""
    _fault(session, fault_id)
    views = _service(request).clocks(session, fault_id)
    return [ClockOut.model_validate(v, from_attributes=True) for v in views]


@router.get("/faults/{fault_id}/escalations", response_model=list[EscalationOut], responses=_ERRORS)
def fault_escalations(
    fault_id: RowId, session: DbSession, _viewer: Viewer, request: Request
) -> list[EscalationOut]:
    _fault(session, fault_id)
    steps = _service(request).escalations(session, fault_id)
    return [EscalationOut.model_validate(s, from_attributes=True) for s in steps]


@router.post(
    "/faults/{fault_id}/complaints",
    response_model=EscalationOut,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def log_complaint(
    fault_id: RowId,
    body: ComplaintIn,
    session: DbSession,
    engineer: SchoolOrEngineer,
    request: Request,
) -> EscalationOut:
    """Log a customer complaint: it escalates at once (project lead, then higher)."""
    fault = _fault(session, fault_id)
    text = f"{body.complainant}: {body.text}" if body.complainant else body.text
    try:
        step = _service(request).complaint(
            session, fault, clock_of(request)(), engineer.username, text
        )
    except PolicyError as exc:
        raise _conflict(exc) from None
    return EscalationOut.model_validate(step, from_attributes=True)


class DeliveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[str, Field(max_length=1000)] = ""


@router.post(
    "/faults/{fault_id}/substitute-delivered", response_model=list[ClockOut], responses=_ERRORS
)
def substitute_delivered(
    fault_id: RowId, body: DeliveryIn, session: DbSession, engineer: Engineer, request: Request
) -> list[ClockOut]:
    """A substitute (replacement) unit was delivered: the ``replace`` clock stops (met when
    in time) and the delivery is an event of the fault. 409 when no such clock runs."""
    fault = _fault(session, fault_id)
    service = _service(request)
    try:
        service.substitute_delivered(
            session, fault, clock_of(request)(), engineer.username, body.note
        )
    except PolicyError as exc:
        raise _conflict(exc) from None
    views = service.clocks(session, fault_id)
    return [ClockOut.model_validate(v, from_attributes=True) for v in views]


class LevelFiguresOut(_Out):
    level: int
    opened: int
    resolved: int
    open_at_end: int
    cleared_before_response: int
    mean_respond_min: float | None
    mean_fix_min: float | None


class ClockFiguresOut(_Out):
    kind: str
    met: int
    breached: int
    running: int
    cleared: int
    met_rate: float | None  # met ÷ (met + breached): only faults a person handled


class SlaFiguresOut(BaseModel):
    site: str
    period: str
    levels: list[LevelFiguresOut]
    clocks: list[ClockFiguresOut]


@router.get("/statistics", response_model=SlaFiguresOut, responses=_ERRORS)
def sla_statistics(
    session: DbSession,
    _viewer: Viewer,
    request: Request,
    site: Annotated[str, Query(max_length=64)],
    period: Annotated[str, Query(max_length=40, description="2026Q3, 2026-07 or a..b")],
) -> SlaFiguresOut:
    """The site's SLA figures of a period, as in the inspection report. A fault that
    cleared before anyone responded counts as ``cleared``, never as met."""
    try:
        chosen = parse_period(period, sla_store.site_timezone(session, site))
    except ReportError as exc:
        raise HTTPException(422, str(exc)) from None
    section = sla_figures(session, site, chosen, clock_of(request)())
    clocks = [
        ClockFiguresOut(
            kind=c.kind,
            met=c.met,
            breached=c.breached,
            running=c.running,
            cleared=c.cleared,
            met_rate=c.met / (c.met + c.breached) if c.met + c.breached else None,
        )
        for c in section.clocks
    ]
    levels = [LevelFiguresOut.model_validate(x, from_attributes=True) for x in section.levels]
    return SlaFiguresOut(site=site, period=chosen.label, levels=levels, clocks=clocks)

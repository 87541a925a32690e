"""Faults: the filtered list, one fault in detail, and a fault reported by phone.

Reading needs ``viewer``; reporting a fault needs ``school`` (for its own rooms) or
``engineer``. The actions on a fault
(acknowledge, transitions, remote sessions, log, close, survey) are in ``fault_actions``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from roomwatch.collector.api.auth import SchoolOrEngineer, Scope, Viewer
from roomwatch.collector.api.bounds import PageOffset, RowId
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.listing import (
    NOT_MODIFIED,
    OK_HEADERS,
    CachedAnswer,
    cached_answer,
    etag,
)
from roomwatch.collector.api.routes.rooms import answer_cache
from roomwatch.collector.api.schemas import ErrorOut, FaultOut, FaultPageOut
from roomwatch.collector.api.scoping import require_visible
from roomwatch.collector.api.workflow_schemas import (
    FaultDetailOut,
    FaultEventOut,
    MaintenanceLogOut,
    ManualFaultIn,
    StatusName,
    SuppressedOut,
    SurveyOut,
)
from roomwatch.collector.db import faults_store, queries, room_versions, workflow_store
from roomwatch.collector.db.models import Device, Fault, Room
from roomwatch.collector.db.queries import FaultStatusFilter
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.workflow import ALLOWED, ManualFault, Workflow

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/faults", tags=["faults"])


def workflow_of(request: Request) -> Workflow:
    workflow: Workflow = request.app.state.workflow
    return workflow


@router.get(
    "", response_model=FaultPageOut, responses={200: {"headers": OK_HEADERS}, **NOT_MODIFIED}
)
def list_faults(
    request: Request,
    session: DbSession,
    _viewer: Viewer,
    sites: Scope,
    status: Annotated[
        FaultStatusFilter, Query(description="open = neither resolved nor closed")
    ] = "all",
    room: Annotated[str | None, Query(description="Room id")] = None,
    level: Annotated[int | None, Query(ge=1, le=4, description="1 (L1) .. 4 (L4)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[PageOffset, Query()] = 0,
    state: Annotated[StatusName | None, Query(description="One life-cycle status")] = None,
    rule: Annotated[str | None, Query(description="Rule id ('manual' for reports)")] = None,
    source: Annotated[str | None, Query(pattern="^(rule|manual)$")] = None,
    flapping: Annotated[bool | None, Query()] = None,
    site: Annotated[str | None, Query(description="Site id")] = None,
    assignee: Annotated[
        str | None, Query(max_length=100, description="Username; 'me': the caller's faults")
    ] = None,
    search: Annotated[
        str | None, Query(max_length=100, description="Part of the title or target, any case")
    ] = None,
) -> Response:
    """Faults, newest first; ``assignee=me`` lists the caller's own. Answered from the cache
    of serialised answers while the rooms' change counters stand still, with an ETag."""
    # Read before the data (collector.db.room_versions.list_version); faults of every room
    # in scope move these counters, room-less ones the NO_ROOM row.
    version = room_versions.list_version(session, sites)
    me = _viewer.username if assignee == "me" else ""
    return cached_answer(
        request,
        answer_cache(request),
        etag(request, version, sites, extra=me),
        lambda: _fault_page(
            session, _viewer.username, sites, status, room, level, limit, offset, state, rule,
            source, flapping, site, assignee, search,
        ),
    )  # fmt: skip


def _fault_page(
    session: Any,
    username: str,
    sites: Any,
    status: FaultStatusFilter,
    room: str | None,
    level: int | None,
    limit: int,
    offset: int,
    state: str | None,
    rule: str | None,
    source: str | None,
    flapping: bool | None,
    site: str | None,
    assignee: str | None,
    search: str | None,
) -> CachedAnswer:
    page = queries.list_faults(
        session,
        status,
        room or None,
        level,
        limit=limit,
        offset=offset,
        exact_status=state,
        rule_id=rule or None,
        source=source,
        flapping=flapping,
        site_id=site or None,
        assignee=username if assignee == "me" else assignee or None,
        sites=sites,
        search=search or None,
    )
    out = FaultPageOut(
        total=page.total,
        limit=limit,
        offset=offset,
        items=[FaultOut.model_validate(fault) for fault in page.items],
    )
    return CachedAnswer(out.model_dump_json().encode())


@router.post(
    "",
    response_model=FaultDetailOut,
    status_code=status.HTTP_201_CREATED,
    responses={404: {"model": ErrorOut}},
)
def report_fault(
    body: ManualFaultIn, session: DbSession, engineer: SchoolOrEngineer, request: Request
) -> FaultDetailOut:
    """A fault reported by a person (a phone call), on the same life cycle as the rest."""
    require_visible(session, engineer.sites, room=body.room_id)
    if session.get(Room, body.room_id) is None:
        raise NotFoundError(f"room {body.room_id!r} does not exist")
    workflow = workflow_of(request)
    at = request.app.state.clock()
    fault = workflow.create_manual(session, ManualFault(**body.model_dump()), engineer.username, at)
    log.info("fault %s reported by %s via %s", fault.id, engineer.username, body.channel)
    return fault_detail(session, fault, request)


@router.get("/{fault_id}", response_model=FaultDetailOut, responses={404: {"model": ErrorOut}})
def get_fault(
    fault_id: RowId, session: DbSession, _viewer: Viewer, request: Request
) -> FaultDetailOut:
    """One fault with its events, suppressed dependents, log, survey and SLA clocks."""
    return fault_detail(session, faults_store.get_fault(session, fault_id), request)


def fault_detail(session: Any, fault: Fault, request: Request) -> FaultDetailOut:
    session.flush()
    device = session.get(Device, fault.device_id) if fault.device_id is not None else None
    log_row = workflow_store.get_log(session, fault.id)
    survey = workflow_store.get_survey(session, fault.id)
    fields = {
        column: getattr(fault, column)
        for column in FaultDetailOut.model_fields
        if hasattr(Fault, column) and column not in ("events", "log", "survey")
    }
    return FaultDetailOut(
        **fields,
        device=device.device if device is not None else None,
        allowed_transitions=sorted(ALLOWED.get(fault.status, frozenset())),
        events=[FaultEventOut.model_validate(e) for e in faults_store.events_of(session, fault.id)],
        suppressed=[
            SuppressedOut.model_validate(s)
            for s in workflow_store.list_suppressed(session, root_fault_id=fault.id)
        ],
        log=MaintenanceLogOut.model_validate(log_row) if log_row is not None else None,
        survey=SurveyOut.model_validate(survey) if survey is not None else None,
        sla_clocks=_sla_clocks(session, fault, request),
    )


def _sla_clocks(session: Any, fault: Fault, request: Request) -> list[dict[str, Any]] | None:
    sla = getattr(getattr(workflow_of(request), "hooks", None), "sla", None)
    clocks = getattr(sla, "clocks", None)
    if clocks is None:
        return None
    views = clocks(session, fault.id)
    return [_as_dict(view) for view in views]


def _as_dict(view: Any) -> dict[str, Any]:
    if hasattr(view, "model_dump"):
        return dict(view.model_dump())
    if hasattr(view, "__dataclass_fields__"):
        return {name: getattr(view, name) for name in view.__dataclass_fields__}
    return dict(view)

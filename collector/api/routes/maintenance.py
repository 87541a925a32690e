"""Maintenance windows (CRUD; engineers schedule them), what fired inside them or behind a
failed parent (suppressed firings), and the device maintenance statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response
from pydantic import AwareDatetime

from roomwatch.collector.api.auth import Engineer, Scope, Viewer
from roomwatch.collector.api.bounds import RowId
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.schemas import ErrorOut
from roomwatch.collector.api.scoping import require_visible
from roomwatch.collector.api.workflow_schemas import MaintenanceStatOut, SuppressedOut, WindowOut
from roomwatch.collector.db import workflow_store
from roomwatch.collector.db.workflow_models import MaintenanceWindow
from roomwatch.collector.db.workflow_store import GroupBy
from roomwatch.collector.maintenance import WindowSpec, is_active, zone

router = APIRouter(tags=["maintenance"])
_ERRORS: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}}


@router.get("/api/maintenance-windows", response_model=list[WindowOut])
def list_windows(
    session: DbSession,
    _viewer: Viewer,
    sites: Scope,
    request: Request,
    site: Annotated[str | None, Query()] = None,
    room: Annotated[str | None, Query()] = None,
) -> list[WindowOut]:
    windows = workflow_store.list_windows(session, site or None, room or None, sites)
    return [_out(session, w, request) for w in windows]


@router.post(
    "/api/maintenance-windows",
    response_model=WindowOut,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def create_window(
    body: WindowSpec, session: DbSession, engineer: Engineer, request: Request
) -> WindowOut:
    """A one-off, weekly or date-range window for a site, a room or a device."""
    require_visible(session, engineer.sites, room=body.room_id, site=body.site_id)
    workflow_store.check_scope(session, body.site_id, body.room_id)
    window = workflow_store.add_window(
        session, _fields(body), engineer.username, request.app.state.clock()
    )
    return _out(session, window, request)


@router.get("/api/maintenance-windows/{window_id}", response_model=WindowOut, responses=_ERRORS)
def get_window(
    window_id: RowId, session: DbSession, _viewer: Viewer, request: Request
) -> WindowOut:
    return _out(session, workflow_store.get_window(session, window_id), request)


@router.put("/api/maintenance-windows/{window_id}", response_model=WindowOut, responses=_ERRORS)
def replace_window(
    window_id: RowId, body: WindowSpec, session: DbSession, engineer: Engineer, request: Request
) -> WindowOut:
    window = workflow_store.get_window(session, window_id)
    require_visible(session, engineer.sites, room=body.room_id, site=body.site_id)
    workflow_store.check_scope(session, body.site_id, body.room_id)
    workflow_store.update_window(window, _fields(body))
    return _out(session, window, request)


@router.delete(
    "/api/maintenance-windows/{window_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_ERRORS,
)
def delete_window(window_id: RowId, session: DbSession, _engineer: Engineer) -> Response:
    workflow_store.delete_window(session, workflow_store.get_window(session, window_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/api/maintenance-windows/{window_id}/firings",
    response_model=list[SuppressedOut],
    responses=_ERRORS,
)
def window_firings(window_id: RowId, session: DbSession, _viewer: Viewer) -> list[SuppressedOut]:
    """What fired inside the window (recorded, not opened)."""
    workflow_store.get_window(session, window_id)
    rows = workflow_store.list_suppressed(session, window_id=window_id)
    return [SuppressedOut.model_validate(r) for r in rows]


@router.get("/api/suppressed", response_model=list[SuppressedOut])
def list_suppressed(
    session: DbSession,
    _viewer: Viewer,
    sites: Scope,
    room: Annotated[str | None, Query()] = None,
    active: Annotated[
        bool | None, Query(description="Only ongoing (true) or ended (false)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[SuppressedOut]:
    """Firings recorded instead of opened: behind a failed parent or inside a window."""
    rows = workflow_store.list_suppressed(
        session, room_id=room or None, active=active, limit=limit, sites=sites
    )
    return [SuppressedOut.model_validate(r) for r in rows]


@router.get("/api/statistics/devices", response_model=list[MaintenanceStatOut])
def device_statistics(
    session: DbSession,
    _viewer: Viewer,
    sites: Scope,
    start: Annotated[AwareDatetime, Query(description="Period start (faults opened from)")],
    end: Annotated[AwareDatetime, Query(description="Period end (exclusive)")],
    group_by: Annotated[GroupBy, Query()] = "device",
    site: Annotated[str | None, Query()] = None,
    room: Annotated[str | None, Query()] = None,
) -> list[MaintenanceStatOut]:
    """Faults per device, model or room over a period: counts by level, closed, with a
    maintenance log, parts replaced, downtime. The inspection report reads the same."""
    if end <= start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "end must be after start")
    stats = workflow_store.maintenance_statistics(
        session,
        start,
        end,
        group_by,
        site or None,
        room or None,
        sites,
    )
    return [MaintenanceStatOut.model_validate(s) for s in stats]


def _fields(spec: WindowSpec) -> dict[str, object]:
    return spec.model_dump()


def _out(session: DbSession, window: MaintenanceWindow, request: Request) -> WindowOut:
    now: datetime = request.app.state.clock()
    tz_name = None
    if window.site_id is not None or window.room_id is not None:
        site_id = window.site_id
        if window.room_id is not None:
            site_id, tz_name = workflow_store.room_site(session, window.room_id)
        elif site_id is not None:
            tz_name = workflow_store.site_timezone(session, site_id)
    calendar = request.app.state.workflow.calendar
    default = calendar.default_timezone if calendar is not None else "UTC"
    out = WindowOut.model_validate(window)
    return out.model_copy(update={"active_now": is_active(window, now, zone(tz_name, default))})

"""Report a fault by phone (报修) for a room: school staff and engineers pick one of the rooms
they may see, optionally its device, the level and what the caller said. The form is posted
by the page's script to ``POST /api/faults`` (the same call as the API's clients), which
checks the role and the user's sites again; the browser then opens the new fault."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.db import queries
from roomwatch.collector.db.models import Device
from roomwatch.collector.web.context import PREFIX, Page
from roomwatch.collector.web.pages.today import _scope

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/report-fault")
def report_fault_page(
    request: Request, session: DbSession, room: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    page = Page.of(request, session)
    if (denied := page.login_required()) is not None:
        return denied
    if not page.viewer.can_report:
        return page.forbidden()
    scope = _scope(request)
    rooms = queries.list_rooms(session, sites=None if scope is None else frozenset(scope))
    devices = {
        r.id: list(
            session.scalars(
                select(Device.device).where(Device.room_id == r.id).order_by(Device.device)
            )
        )
        for r in rooms
    }
    return page.render(
        "report_fault.html",
        nav="report",
        rooms=rooms,
        devices=devices,
        chosen=room if room in devices else "",
    )

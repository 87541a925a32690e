"""The fault board: open faults by urgency with their SLA clocks, history with filters, one
fault in detail with the engineer's actions (acknowledge, move along, maintenance log,
posted by the page's script to the API)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from roomwatch.collector.api.bounds import RowId
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.db import dashboard_queries, faults_store, queries
from roomwatch.collector.db.dashboard_queries import FaultFilter
from roomwatch.collector.db.queries import FaultStatusFilter, FaultView
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.web import actions
from roomwatch.collector.web.context import PREFIX, Page, Zones
from roomwatch.collector.web.export_links import export_links
from roomwatch.collector.web.fault_text import Wording
from roomwatch.collector.web.sla_view import ClockView, clocks_for, now_of

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE_SIZE = 50


def urgency(fault: FaultView, clocks: list[ClockView], now: datetime) -> tuple[float, ...]:
    """Sort key, most urgent first: level, then the least time left on a running clock
    (breached clocks first), then the oldest."""
    running = [c.remaining_s for c in clocks if c.ticking and c.remaining_s is not None]
    left = min(running) if running else float("inf")
    return (fault.level, left, fault.opened_at.timestamp())


@router.get("/faults", response_class=HTMLResponse)
def board(
    request: Request,
    session: DbSession,
    view: Annotated[str, Query(pattern="^(open|history|mine)$")] = "open",
    status: Annotated[FaultStatusFilter, Query()] = "all",
    level: Annotated[int | None, Query(ge=1, le=4)] = None,
    site: Annotated[str, Query(max_length=64)] = "",
    room: Annotated[str, Query(max_length=64)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
) -> Response:
    page = Page.of(request, session)
    if (denied := page.login_required()) is not None:
        return denied
    zones = Zones.load(session, page.settings.timezone)
    now = now_of(request)
    rooms = {r.id: r for r in queries.list_rooms(session, sites=page.sites)}
    values: dict[str, Any] = {}
    if view in ("open", "mine"):
        items = dashboard_queries.open_faults(session, page.sites)
        clocks = clocks_for(request, session, [f.id for f in items])
        items.sort(key=lambda f: urgency(f, clocks.get(f.id, []), now))
        if view == "mine":  # my faults: the open ones assigned to me
            items = [f for f in items if f.assignee and f.assignee == page.viewer.username]
        values.update(items=items, clocks=clocks, total=len(items))
    else:
        tz = zones.site(site or None)
        filters = FaultFilter(
            status=status,
            site_id=site or None,
            room_id=room or None,
            level=level,
            opened_from=_day_start(since, tz),
            opened_until=_day_start(until, tz, next_day=True),
            text=q.strip() or None,
            sites=page.sites,
        )
        found = dashboard_queries.fault_history(
            session, filters, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE
        )
        values.update(
            exports=export_links(filters.opened_from, filters.opened_until, site or None, now),
            items=found.items,
            clocks={},
            total=found.total,
            page_no=page_no,
            pages=max(1, -(-found.total // PAGE_SIZE)),
        )
    room_names = {r.id: r.name for r in rooms.values()}
    return page.render(
        "faults.html",
        words=Wording.load(session, page.t.lang, values["items"], room_names),
        view=view,
        now=now,
        zones=zones,
        rooms=rooms,
        sites=sorted({(r.site_id, r.site_name) for r in rooms.values()}, key=lambda s: s[1]),
        filters={
            "status": status,
            "level": level or "",
            "site": site,
            "room": room,
            "q": q,
            "since": since,
            "until": until,
        },
        live_faults=view in ("open", "mine"),
        actions_ready=actions.available(request),
        **values,
    )


def _day_start(text: str, tz: object, next_day: bool = False) -> datetime | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    local = datetime.combine(day + timedelta(days=1 if next_day else 0), time(), tzinfo=tz)  # type: ignore[arg-type]
    return local.astimezone(UTC)


@router.get("/faults/{fault_id}", response_class=HTMLResponse)
def fault_page(request: Request, fault_id: RowId, session: DbSession) -> Response:
    page = Page.of(request, session)
    if (denied := page.login_required()) is not None:
        return denied
    try:
        detail = dashboard_queries.fault_detail(session, fault_id)
    except NotFoundError:
        return page.not_found()
    zones = Zones.load(session, page.settings.timezone)
    now = now_of(request)
    room_id = detail.fault.room_id
    room = next((r for r in queries.list_rooms(session) if r.id == room_id), None)
    names = {room.id: room.name} if room is not None else {}
    return page.render(
        "fault.html",
        said=Wording(page.t.lang, {fault_id: detail.evidence}, names)(detail.fault),
        fault=detail.fault,
        evidence=detail.evidence,
        events=detail.events,
        room=room,
        tz=zones.room(detail.fault.room_id),
        now=now,
        clocks=clocks_for(request, session, [fault_id]).get(fault_id, []),
        log=actions.maintenance_log(session, fault_id),
        log_form=actions.log_form(
            session,
            faults_store.get_fault(session, fault_id),
            page.viewer.name,
            page.t.lang,
            page.settings.timezone,
        )
        if page.viewer.can_write
        else None,
        assignable=actions.assignable(session) if page.viewer.can_write else [],
        transitions=actions.transitions(detail.fault.status) if page.viewer.can_write else [],
        actions_ready=actions.available(request),
        api=f"/api/faults/{fault_id}",
        live_fault=fault_id,
    )

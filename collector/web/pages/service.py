"""The service plan's pages: maintenance windows, spare stock per model, the survey queue
with its satisfaction summary, and inspections (due, checklist confirmation, return visits
and trainings, reports to generate and download). Each page reads only the reader's sites;
its forms post JSON to the API (``static/app.js``), which checks the role again."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from roomwatch.collector.api import auth
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.routes.reports import reports_of
from roomwatch.collector.api.routes.spares import _quota_line
from roomwatch.collector.db import (
    dashboard_queries,
    followup_store,
    queries,
    report_store,
    spares_store,
    survey_queries,
    workflow_store,
)
from roomwatch.collector.db.scope import allows
from roomwatch.collector.web.context import PREFIX, Page, Zones
from roomwatch.collector.web.timefmt import zone

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Site = Annotated[str, Query(max_length=64)]
RECENT_MOVEMENTS = 20
RECENT_REPORTS = 20


def _sites(page: Page, session: DbSession, site: str) -> list[Any]:
    """The sites the reader may see, or only ``site`` (already checked by the scope guard)."""
    return [
        s
        for s in dashboard_queries.sites(session)
        if allows(page.sites, s.id) and (not site or s.id == site)
    ]


def _engineer_page(request: Request, session: DbSession) -> tuple[Page, Response | None]:
    page = Page.of(request, session)
    denied: Response | None = page.login_required()
    if denied is None and page.closed and not page.viewer.can_write:
        denied = page.forbidden()
    return page, denied


@router.get("/windows")
def windows_page(request: Request, session: DbSession, site: Site = "") -> Response:
    page, denied = _engineer_page(request, session)
    if denied is not None:
        return denied
    sites = _sites(page, session, site)
    rooms = queries.list_rooms(session, site or None, page.sites)
    windows = workflow_store.list_windows(session, site or None, None, page.sites)
    return page.render(
        "windows.html",
        nav="service",
        sites=sites,
        rooms=rooms,
        windows=windows,
        zones=Zones.load(session, page.settings.timezone),
    )


@router.get("/spares")
def spares_page(request: Request, session: DbSession, site: Site = "") -> Response:
    page, denied = _engineer_page(request, session)
    if denied is not None:
        return denied
    stock = []
    for row in _sites(page, session, site):
        lines = [
            _quota_line(session, row.id, m)
            for m in sorted(report_store.spare_stock(session, row.id))
        ]
        moves = spares_store.movements(session, row.id, None, RECENT_MOVEMENTS, 0)
        stock.append((row, lines, moves, zone(row.timezone, page.settings.timezone)))
    return page.render("spares.html", nav="service", stock=stock)


@router.get("/surveys")
def surveys_page(request: Request, session: DbSession, site: Site = "") -> Response:
    """Engineers follow the queue; a school's staff see and answer their own surveys."""
    page = Page.of(request, session)
    if (denied := page.login_required()) is not None:
        return denied
    now = auth.clock_of(request)()
    rows = [
        r for r in survey_queries.queue(session, now, page.sites) if not site or r.site_id == site
    ]
    return page.render(
        "surveys.html",
        nav="service",
        rows=rows,
        summary=survey_queries.summary(rows),
        states=survey_queries.STATES,
        zones=Zones.load(session, page.settings.timezone),
        can_answer=page.viewer.can_report or not page.closed,
    )


@router.get("/inspections")
def inspections_page(request: Request, session: DbSession, site: Site = "") -> Response:
    """Per site: the inspection due, the checklist confirmation of the current period,
    return visits and trainings, and the archived reports (HTML and PDF)."""
    page = Page.of(request, session)
    if (denied := page.login_required()) is not None:
        return denied
    now = auth.clock_of(request)()
    service = reports_of(request)
    due = {d.site_id: d for d in service.due() if allows(page.sites, d.site_id)}
    blocks = []
    for row in _sites(page, session, site):
        tz = zone(row.timezone, page.settings.timezone)
        label = survey_queries.quarter_of(now.astimezone(tz))
        period = service.period_of(row.id, label)
        blocks.append(
            {
                "site": row,
                "tz": tz,
                "period": label,
                "due": due.get(row.id),
                "confirmation": followup_store.confirmation(session, row.id, period.start),
                "visits": list(reversed(followup_store.visits(session, row.id))),
                "reports": report_store.list_reports(
                    session, row.id, RECENT_REPORTS, 0, page.sites
                ),
            }
        )
    return page.render("inspections.html", nav="service", blocks=blocks, export_url=export_url)


def export_url(kind: str, fmt: str, site_id: str, start: date, end: date, tz: ZoneInfo) -> str:
    """The exports API's link for a report's period: local midnights of the site."""

    def midnight(day: date) -> str:
        return datetime.combine(day, time(), tzinfo=tz).isoformat()

    query = urlencode(
        {"site": site_id, "start": midnight(start), "end": midnight(end), "format": fmt}
    )
    return f"/api/exports/{kind}?{query}"

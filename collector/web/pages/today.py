"""Today (今日课堂) and the duty roster on the dashboard: the lessons at risk per site and
period (``collector.dispatch.today``) and who is on duty when. Both read only the sites the
signed-in user may see. Each risk is worded in the reader's language, as the pre-class
readiness message words it (``collector.dispatch.risk_words``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from roomwatch.collector.api import auth
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.routes.dispatch import default_timezone, today_views
from roomwatch.collector.db import dispatch_store
from roomwatch.collector.db.dispatch_store import SiteScope
from roomwatch.collector.dispatch.assign import duty_shift
from roomwatch.collector.dispatch.risk_words import risk_detail
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.web.access import current_viewer
from roomwatch.collector.web.context import PREFIX, Page
from roomwatch.collector.web.timefmt import zone

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _scope(request: Request) -> SiteScope:
    """The signed-in user's sites (None: every site, also on an open dashboard)."""
    return current_viewer(request).sites


@router.get("/today")
def today_page(
    request: Request, session: DbSession, site: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    page = Page.of(request, session)
    if (denied := page.login_required()) is not None:
        return denied
    now = auth.clock_of(request)()
    try:
        views = today_views(session, _scope(request), site or None, now, default_timezone(request))
    except NotFoundError:
        return page.not_found()
    return page.render(
        "today.html",
        views=views,
        zones={v.site_id: zone(v.timezone, v.timezone) for v in views},
        detail=risk_detail,
    )


@router.get("/roster")
def roster_page(
    request: Request, session: DbSession, site: Annotated[str, Query(max_length=64)] = ""
) -> Response:
    page = Page.of(request, session)
    if (denied := page.login_required()) is not None:
        return denied
    if page.closed and not page.viewer.can_write:
        return page.forbidden()  # personal data: engineers and admins
    now = auth.clock_of(request)()
    timezone = default_timezone(request)
    rosters = []
    for row in dispatch_store.sites(session, _scope(request)):
        if site and row.id != site:
            continue
        shift = duty_shift(session, row.id, now, timezone)
        rosters.append(
            (row, shift.person if shift else None, dispatch_store.shifts_of(session, row.id))
        )
    return page.render("roster.html", rosters=rosters)

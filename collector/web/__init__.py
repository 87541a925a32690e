"""The engineer's web dashboard, served by the collector under ``/ui``: room grid with live
colours, room and device pages with charts, the fault board with SLA clocks, sign-in, and
Chinese (default) / English texts. Server-rendered (Jinja2) with a little vanilla script;
every asset is served from ``static/``, nothing from a CDN.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from roomwatch.collector.web.settings import WebSettings

__all__ = ["WebSettings", "install_web"]


def install_web(app: FastAPI, settings: WebSettings | None = None) -> None:
    """Add the dashboard's pages, static files and live feed to the collector's app."""
    from roomwatch.collector.web.context import PREFIX, STATIC_DIR, TEMPLATE_DIR
    from roomwatch.collector.web.feed import LiveFeed
    from roomwatch.collector.web.pages import (
        account,
        admin,
        faults,
        grid,
        live,
        report_fault,
        rooms,
        service,
        today,
    )
    from roomwatch.collector.web.scope import guard_page, project_snapshot
    from roomwatch.collector.web.tsdb_read import TsdbReader

    settings = settings or WebSettings()
    app.state.web_settings = settings
    app.state.web_templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
    app.state.web_tsdb = (
        TsdbReader(settings.tsdb_url, settings.tsdb_timeout_s) if settings.tsdb_url else None
    )

    def snapshot() -> dict[str, object]:
        with app.state.database.session() as session:
            return grid.live_snapshot(session, settings)

    app.state.web_feed = LiveFeed(
        snapshot, settings.live_poll_s, settings.live_keepalive_s, project=project_snapshot
    )
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(STATIC_DIR)), name="web-static")
    for module in (grid, rooms, faults, account, live, today, report_fault, service, admin):
        # Every page is site-scoped by default: an id of another site's object is 404.
        app.include_router(module.router, dependencies=[Depends(guard_page)])

    @app.get("/", include_in_schema=False)
    def to_dashboard() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

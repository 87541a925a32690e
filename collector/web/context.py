"""What every page shares: the language, who is looking, site time zones, rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from roomwatch.collector.db import dashboard_queries
from roomwatch.collector.web import timefmt
from roomwatch.collector.web.access import Viewer, current_viewer, sign_in_required
from roomwatch.collector.web.grafana import grafana_link
from roomwatch.collector.web.i18n import Translator, pick_language
from roomwatch.collector.web.settings import WebSettings

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/ui"


def settings_of(request: Request) -> WebSettings:
    settings: WebSettings = request.app.state.web_settings
    return settings


@dataclass
class Zones:
    """Time zone of each site (its own, or the collector's default)."""

    default: ZoneInfo
    by_site: dict[str, ZoneInfo] = field(default_factory=dict)
    site_of_room: dict[str, str] = field(default_factory=dict)

    def site(self, site_id: str | None) -> ZoneInfo:
        return self.by_site.get(site_id or "", self.default)

    def room(self, room_id: str | None) -> ZoneInfo:
        return self.site(self.site_of_room.get(room_id or ""))

    @classmethod
    def load(cls, session: Session, fallback: str) -> Zones:
        default = timefmt.zone(None, fallback)
        by_site = {
            s.id: timefmt.zone(s.timezone, fallback) for s in dashboard_queries.sites(session)
        }
        return cls(default, by_site, dashboard_queries.room_sites(session))


@dataclass
class Page:
    """The request-scoped helpers a route and its template use."""

    request: Request
    t: Translator
    viewer: Viewer
    settings: WebSettings
    closed: bool  # the collector has users: pages need a signed-in one

    @classmethod
    def of(cls, request: Request, session: Session) -> Page:
        settings = settings_of(request)
        return cls(
            request=request,
            t=Translator(pick_language(request, settings.default_lang)),
            viewer=current_viewer(request),
            settings=settings,
            closed=sign_in_required(session),
        )

    @property
    def sites(self) -> frozenset[str] | None:
        """The sites the reader may see (None: every site); lists pass it to their queries
        (ids in the path or query are checked before the page runs: ``web.scope``)."""
        return self.viewer.sites

    @property
    def here(self) -> str:
        query = self.request.url.query
        return self.request.url.path + (f"?{query}" if query else "")

    def login_required(self) -> RedirectResponse | None:
        """A redirect to the sign-in page when the API has users and nobody signed in."""
        if self.viewer.signed_in or not self.closed:
            return None
        return RedirectResponse(url("/login", next=self.here), status_code=303)

    def same_origin(self) -> bool:
        """A form post came from this dashboard (browsers send Origin on POST)."""
        origin = self.request.headers.get("origin")
        if origin is None:
            return True
        return origin.rstrip("/") == f"{self.request.url.scheme}://{self.request.url.netloc}"

    def forbidden(self) -> HTMLResponse:
        return self.render("error.html", status_code=403, message=self.t("error.forbidden"))

    def not_found(self) -> HTMLResponse:
        return self.render("error.html", status_code=404, message=self.t("error.not_found"))

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        templates: Jinja2Templates = self.request.app.state.web_templates
        values.update(
            request=self.request,
            t=self.t,
            lang=self.t.lang,
            viewer=self.viewer,
            url=url,
            here=self.here,
            closed=self.closed,
            local=timefmt.local,
            iso=timefmt.iso,
            duration=lambda d, parts=2: timefmt.duration(d, self.t.lang, parts),
            grafana=lambda board, **where: grafana_link(self.settings, self.sites, board, **where),
        )
        response = templates.TemplateResponse(
            self.request, template, values, status_code=status_code
        )
        response.headers["Cache-Control"] = "no-store"
        return response


def url(path: str = "", **query: Any) -> str:
    """A dashboard URL: ``url("/rooms/r1", range="7d")`` → ``/ui/rooms/r1?range=7d``."""
    clean = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{PREFIX}{path or '/'}" + (f"?{urlencode(clean)}" if clean else "")

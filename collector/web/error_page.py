"""Errors of dashboard requests as a page in the reader's language, not the API's JSON:
a bad query parameter (``/ui/faults?status=weird``) shows which one and what is allowed, and
a 404 raised before the page ran (the site scope guard) shows the not-found page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fastapi import Request
from fastapi.responses import HTMLResponse

from roomwatch.collector.api.deps import get_database
from roomwatch.collector.web.context import Page

UI_PREFIX = "/ui"


def is_dashboard(request: Request) -> bool:
    path = request.url.path
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


def bad_request_page(request: Request, problems: Sequence[Mapping[str, object]]) -> HTMLResponse:
    """The error page (status 422) naming each bad parameter and what was expected."""
    page = get_database(request).transact(lambda session: Page.of(request, session))
    names = ", ".join(_last(p.get("loc")) for p in problems if p.get("loc"))
    message = page.t("error.bad_query").format(names=names or "?")
    return page.render("error.html", status_code=422, message=message)


def _last(loc: object) -> str:
    """The parameter's name: the last part of a validation error's location."""
    return str(loc[-1]) if isinstance(loc, list | tuple) and loc else str(loc)


def not_found_page(request: Request) -> HTMLResponse:
    """The 404 page in the reader's language (also for another site's room or fault: the
    dashboard's scope guard answers as if it did not exist)."""
    page = get_database(request).transact(lambda session: Page.of(request, session))
    return page.not_found()

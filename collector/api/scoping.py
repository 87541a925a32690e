"""The central site guard: an id in a path or query that names another site's object is
answered 404, as if it did not exist (a school must not learn what other schools have).

``require_role`` calls ``guard_scope`` for every authenticated ``/api`` request, so a new
route is scoped by naming its parameters as the rest do (``room_id``/``room``,
``fault_id``, ``site_id``/``site``, ``report_id``, ``window_id``, ``device_id``,
``contact_id``, ``job_id``). Lists narrow themselves with the caller's scope
(``auth.Scope``) through the queries in ``collector.db``; request bodies that name a room
or site are checked by their route with ``require_visible``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import HTTPException, Request, status
from sqlalchemy.orm import Session

from roomwatch.collector.db import scope
from roomwatch.collector.db.scope import SiteScope
from roomwatch.collector.db.session import Database

_ALL_SITES = "*"  # a rule override of every site (collector.db.workflow_models.ALL_SITES)


def _as_int(value: str) -> int | None:
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


def _by_int(lookup: Callable[[Session, int], str | None]) -> Callable[[Session, str], Any]:
    def site(session: Session, value: str) -> str | bool | None:
        number = _as_int(value)
        return True if number is None else lookup(session, number)  # True: leave it to 422

    return site


# parameter name -> (session, raw value) -> the site it belongs to (None: no such object)
LOOKUPS: dict[str, Callable[[Session, str], Any]] = {
    "room_id": scope.site_of_room,
    "room": scope.site_of_room,
    "site_id": scope.site_of_site,
    "site": scope.site_of_site,
    "fault_id": _by_int(scope.site_of_fault),
    "report_id": _by_int(scope.site_of_report),
    "window_id": _by_int(scope.site_of_window),
    "device_id": _by_int(scope.site_of_device),
    "contact_id": _by_int(scope.site_of_contact),  # a contact of every site: unbound only
}


def scope_path_parameter(name: str, model: Any) -> None:
    """Scope a route parameter ``name`` holding the integer id of a ``model`` row that has a
    ``site_id`` column (for modules that add their own site-bound objects)."""

    def lookup(session: Session, row_id: int) -> str | None:
        row = session.get(model, row_id)
        return getattr(row, "site_id", None) if row is not None else None

    LOOKUPS[name] = _by_int(lookup)


def guard_scope(request: Request, sites: SiteScope) -> None:
    """404 when the path or query names an object outside ``sites``."""
    if sites is None:
        return
    named = [(k, v) for k, v in request.path_params.items() if k in LOOKUPS or k == "job_id"]
    named += [(k, v) for k, v in request.query_params.items() if k in LOOKUPS and v]
    if not named:
        return
    database: Database = request.app.state.database

    def outside(session: Session) -> str | None:
        for name, value in named:
            if name == "job_id":
                site = _site_of_job(request, session, str(value))
            elif name in ("site_id", "site") and value == _ALL_SITES:
                site = None
            else:
                site = LOOKUPS[name](session, str(value))
            if site is not True and not scope.allows(sites, site):
                return f"{name} {value!r} does not exist"
        return None

    problem = database.transact(outside)
    if problem is not None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, problem)


def _site_of_job(request: Request, session: Session, job_id: str) -> Any:
    job = request.app.state.report_jobs.get(job_id)
    if job is None:
        return True  # the route answers 404 itself
    what = dict(job.what)
    if "site" in what:
        return what["site"]
    return scope.site_of_report(session, int(what.get("regenerate", 0)))


def require_visible(
    session: Session, sites: SiteScope, *, room: str | None = None, site: str | None = None
) -> None:
    """For a body naming a room or site: 404 when it is outside ``sites``."""
    if sites is None:
        return
    if room is not None and not scope.allows(sites, scope.site_of_room(session, room)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"room {room!r} does not exist")
    if site is not None and not scope.allows(sites, scope.site_of_site(session, site)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"site {site!r} does not exist")

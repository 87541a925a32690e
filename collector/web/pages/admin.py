"""The service hub (links to the plan's pages by role) and the admins' pages: users with
their API tokens (admins bound to no site only, as the API's user management), and the SLA
contacts of the escalation chains (of the admin's sites and of every site). Forms post JSON
to the API (``static/app.js``), which checks the admin role again; a new token's secret is
shown once, in the page, never stored in it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.db import dashboard_queries, sla_store, users_store
from roomwatch.collector.db.scope import allows
from roomwatch.collector.db.workflow_models import TOKEN_API
from roomwatch.collector.web.context import PREFIX, Page, Zones

router = APIRouter(prefix=PREFIX, include_in_schema=False)
CONTACT_ROLES = ("engineer_on_duty", "engineer", "project_lead", "senior_engineer", "management")


@router.get("/service")
def service_hub(request: Request, session: DbSession) -> Response:
    page = Page.of(request, session)
    if (denied := page.login_required()) is not None:
        return denied
    return page.render("service.html", nav="service")


def _admin_page(request: Request, session: DbSession) -> tuple[Page, Response | None]:
    page = Page.of(request, session)
    denied: Response | None = page.login_required()
    if denied is None and page.closed and page.viewer.role != "admin":
        denied = page.forbidden()
    return page, denied


@router.get("/users")
def users_page(request: Request, session: DbSession) -> Response:
    page, denied = _admin_page(request, session)
    if denied is not None:
        return denied
    if page.sites is not None:  # a bound admin manages no user (docs/api.md)
        return page.forbidden()
    users = [
        (user, [t for t in user.tokens if t.kind == TOKEN_API and t.revoked_at is None])
        for user in users_store.list_users(session)
    ]
    return page.render(
        "users.html", nav="service", users=users, zones=Zones.load(session, page.settings.timezone)
    )


@router.get("/contacts")
def contacts_page(request: Request, session: DbSession) -> Response:
    page, denied = _admin_page(request, session)
    if denied is not None:
        return denied
    contacts = [
        c
        for c in sla_store.list_contacts(session)
        if c.site_id is None or allows(page.sites, c.site_id)
    ]
    sites = [s for s in dashboard_queries.sites(session) if allows(page.sites, s.id)]
    return page.render(
        "contacts.html", nav="service", contacts=contacts, sites=sites, roles=CONTACT_ROLES
    )

"""Who is looking at the dashboard and what they may do.

The API owns users, roles and sessions (``collector.api.auth``): the dashboard signs people
in with the same web session cookie as ``POST /api/auth/login`` and asks the API who a
request belongs to. Roles, weakest first: viewer (reads), engineer (acknowledges, moves
faults along, writes maintenance logs), admin. The write controls are only drawn for
engineers and admins, and the actions themselves go to the API, which checks the role again.

A collector where nobody can sign in yet (a fresh install; the demo, whose only user is a
token-only admin for scripts) shows the dashboard read-only to anyone who reaches it, with
a banner saying how to create the first admin; once an active user has a password, every
page needs a signed-in user.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response
from sqlalchemy.orm import Session

from roomwatch.collector.api import auth
from roomwatch.collector.api.deps import get_database
from roomwatch.collector.db import dashboard_queries


@dataclass(frozen=True)
class Viewer:
    username: str | None = None
    display_name: str = ""
    role: str | None = None
    # The sites this user may see (collector.db.scope): None is every site, also for the
    # anonymous reader of a dashboard nobody can sign in to yet.
    sites: frozenset[str] | None = None

    @property
    def signed_in(self) -> bool:
        return self.username is not None

    @property
    def can_write(self) -> bool:
        """Engineers and admins see the fault action controls; viewers never do."""
        return self.role in ("engineer", "admin")

    @property
    def can_report(self) -> bool:
        """School staff, engineers and admins report faults and complaints."""
        return self.role in ("school", "engineer", "admin")

    @property
    def name(self) -> str:
        return self.display_name or self.username or ""


def sign_in_required(session: Session) -> bool:
    """Whether pages need a signed-in user: as soon as one active user has a password."""
    return dashboard_queries.password_users(session) > 0


def current_viewer(request: Request) -> Viewer:
    """The signed-in user of this request (session cookie or API token), or anonymous; asked
    once per request (the page scope guard and the page itself both need it)."""
    known: Viewer | None = getattr(request.state, "web_viewer", None)
    if known is None:
        known = request.state.web_viewer = _viewer_of(request)
    return known


def _viewer_of(request: Request) -> Viewer:
    if auth.request_secret(request) is None:
        return Viewer()
    # Its own short transaction, apart from the page's reads: checking writes the token's use.
    principal = get_database(request).transact(
        lambda session: auth.principal_from_request(request, session)
    )
    if principal is None:
        return Viewer()
    return Viewer(principal.username, principal.display_name, principal.role, principal.sites)


@dataclass(frozen=True)
class SessionCookie:
    """The session cookie a successful sign-in sets (the API's cookie, same flags)."""

    value: str
    secure: bool

    def apply(self, response: Response) -> None:
        response.set_cookie(
            auth.SESSION_COOKIE,
            self.value,
            max_age=int(auth.SESSION_TTL.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )


def sign_in(request: Request, username: str, password: str) -> SessionCookie | None:
    """A new web session for valid credentials; None for wrong ones (the API logs those).
    Raises TooManySignIns (``collector.api.throttle``) after too many failures."""

    def login(session: Session) -> str | None:
        issued = auth.login_throttled(request, session, username, password)
        return None if issued is None else issued.secret

    # The write lock first: the password check is slow while ingest writes.
    secret = get_database(request).transact(login, write=True)
    return None if secret is None else SessionCookie(secret, request.url.scheme == "https")


def sign_out(request: Request, response: Response) -> None:
    """End the request's web session and clear its cookie."""
    found = auth.request_secret(request)
    if found is not None and found[1] == "session":
        secret = found[0]
        get_database(request).transact(
            lambda session: auth.revoke_secret(session, secret, auth.clock_of(request)()),
            write=True,
        )
    response.delete_cookie(auth.SESSION_COOKIE)

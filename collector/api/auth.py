"""Users, roles and credentials of the API.

Roles, weakest first: ``viewer`` reads everything under ``/api``; ``school`` (a school's
staff) reads like a viewer and also reports faults, complains and answers surveys, nothing
else that writes; ``engineer`` also
acknowledges, moves faults along, records remote sessions, maintenance logs, surveys and
maintenance windows; ``admin`` also manages users and rule overrides. ``/healthz`` and
``/metrics`` need no credentials; every other ``/api`` route needs at least ``viewer``.

Sites: a user bound to sites sees only those (``collector.api.scoping`` checks every id a
path or query names, lists narrow themselves); a ``school`` user bound to none sees none.

Credentials: an API token (``Authorization: Bearer rw_...``), or the web session cookie set
by ``POST /api/auth/login``. Tokens and sessions are 256-bit random secrets shown once; only
their SHA-256 is stored. Passwords are stored as Argon2 hashes (pwdlib). A request
authenticated by the cookie that changes something must carry ``X-Requested-With`` (a
header a cross-site form cannot set). Secrets are never logged nor returned twice.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from pwdlib import PasswordHash
from sqlalchemy.orm import Session

from roomwatch.collector.api.deps import SAFE_METHODS, get_database
from roomwatch.collector.api.scoping import guard_scope
from roomwatch.collector.api.throttle import SignInThrottle
from roomwatch.collector.db import users_store
from roomwatch.collector.db.scope import SiteScope, scope_for, sites_of_user
from roomwatch.collector.db.workflow_models import ROLES, TOKEN_API, TOKEN_SESSION, ApiToken, User
from roomwatch.collector.errors import CollectorError

log = logging.getLogger(__name__)

SESSION_COOKIE = "roomwatch_session"
SESSION_TTL = timedelta(hours=12)
TOKEN_PREFIX = "rw_"
CSRF_HEADER = "X-Requested-With"
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"
# school reads like a viewer; what it may write is granted route by route (SchoolOrEngineer)
_RANK = {"viewer": 0, "school": 0, "engineer": 1, "admin": 2}
SCHOOL = "school"
_TOUCH_EVERY = timedelta(minutes=1)
_hasher = PasswordHash.recommended()
# Verifying against this when the user does not exist keeps the timing the same.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthError(CollectorError):
    """A user or credential operation that cannot be done (bad name, last admin, ...)."""


@dataclass(frozen=True)
class Principal:
    """Who a request is: the user, their role, and how they proved it."""

    user_id: int
    username: str
    role: str
    display_name: str = ""
    via: str = TOKEN_API
    token_id: int | None = None  # the token or session this request came with
    sites: SiteScope = None  # None: every site (collector.db.scope)

    def has(self, role: str) -> bool:
        return _RANK[self.role] >= _RANK[role]

    def may_report(self) -> bool:
        """A school's staff and engineers may report faults, complain and answer surveys."""
        return self.role == SCHOOL or self.has("engineer")

    def editor_shown(self, username: str) -> str | None:
        """Who changed a shared setting last (an SLA policy, a calendar day, a rule override)
        as this reader may see it: the user name for admins, who manage these settings; None
        for every other role, which has no say in them."""
        return username if self.has("admin") else None


@dataclass(frozen=True)
class IssuedSecret:
    """A token or session just issued: ``secret`` is shown this once."""

    secret: str
    token: ApiToken


# --- passwords and secrets -------------------------------------------------------------


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise AuthError("a password needs at least 8 characters")
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _hasher.verify(password, _DUMMY_HASH)
        return False
    try:
        return _hasher.verify(password, password_hash)
    except Exception:  # an unreadable hash is a failed check, never a 500
        return False


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- users and tokens --------------------------------------------------------------------


def create_user(
    session: Session,
    username: str,
    role: str,
    at: datetime,
    password: str | None = None,
    display_name: str = "",
) -> User:
    if not re.match(USERNAME_PATTERN, username):
        raise AuthError(f"user name {username!r} must match {USERNAME_PATTERN}")
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    if users_store.find_user(session, username) is not None:
        raise AuthError(f"user {username!r} exists")
    password_hash = hash_password(password) if password else None
    user = users_store.add_user(session, username, role, password_hash, at, display_name)
    log.info("user %s created with role %s", username, role)
    return user


def change_password(
    session: Session,
    user: User,
    password: str,
    at: datetime,
    keep_token_id: int | None = None,
) -> int:
    """Set ``user``'s password and revoke all their API tokens and web sessions, but
    ``keep_token_id`` (the session of a user changing their own password); how many were
    revoked. Whoever had the old password, or a token made with it, is out."""
    user.password_hash = hash_password(password)
    revoked = users_store.revoke_tokens(session, user, at, keep_token_id)
    log.info("password of %s changed; %d tokens and sessions revoked", user.username, revoked)
    return revoked


def issue_token(
    session: Session,
    user: User,
    at: datetime,
    name: str = "",
    kind: str = TOKEN_API,
    ttl: timedelta | None = None,
) -> IssuedSecret:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = users_store.add_token(
        session,
        user,
        kind=kind,
        name=name,
        token_hash=secret_hash(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        at=at,
        expires_at=at + ttl if ttl is not None else None,
    )
    if kind == TOKEN_API:
        log.info("API token %s (%s) issued to %s", token.prefix, name or "unnamed", user.username)
    return IssuedSecret(secret, token)


def login(session: Session, username: str, password: str, at: datetime) -> IssuedSecret | None:
    """A new web session for valid credentials of an active user; None otherwise."""
    user = users_store.find_user(session, username)
    valid = verify_password(password, user.password_hash if user is not None else None)
    if user is None or not valid or not user.active:
        log.warning("failed sign-in for user name %r", username[:64])
        return None
    return issue_token(session, user, at, name="web session", kind=TOKEN_SESSION, ttl=SESSION_TTL)


def login_throttled(
    request: Request, session: Session, username: str, password: str
) -> IssuedSecret | None:
    """``login`` behind the sign-in throttle (``collector.api.throttle``): raises
    TooManySignIns, without checking the password, while the name or address is over its
    limit."""
    throttle = sign_in_throttle(request)
    at = clock_of(request)()
    address = request.client.host if request.client else None
    attempt = throttle.attempt(username, address, at)
    issued = login(session, username, password, at)
    if issued is not None:
        throttle.succeeded(attempt, session)
    return issued


def sign_in_throttle(request: Request) -> SignInThrottle:
    throttle: SignInThrottle = request.app.state.sign_in_throttle  # made by create_app
    return throttle


def revoke_secret(session: Session, secret: str, at: datetime) -> None:
    token = users_store.token_by_hash(session, secret_hash(secret))
    if token is not None and token.revoked_at is None:
        token.revoked_at = at


def authenticate(session: Session, secret: str, at: datetime) -> Principal | None:
    """The principal a token or session secret belongs to, if it is valid now."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = users_store.token_by_hash(session, secret_hash(secret))
    if token is None or not hmac.compare_digest(token.token_hash, secret_hash(secret)):
        return None
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= at):
        return None
    user = token.user
    if not user.active:
        return None
    if token.last_used_at is None or at - token.last_used_at >= _TOUCH_EVERY:
        token.last_used_at = at
    sites = scope_for(user.role, sites_of_user(session, user.id))
    return Principal(
        user.id, user.username, user.role, user.display_name, token.kind, token.id, sites
    )


# --- FastAPI -------------------------------------------------------------------------------


def request_secret(request: Request) -> tuple[str, str] | None:
    """(secret, "api" | "session") from the Authorization header or the session cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), TOKEN_API
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, TOKEN_SESSION
    return None


def principal_from_request(request: Request, session: Session) -> Principal | None:
    """The request's principal, or None without valid credentials (for pages that show
    something to anonymous visitors; the API uses ``require_role``)."""
    found = request_secret(request)
    if found is None:
        return None
    return authenticate(session, found[0], clock_of(request)())


def clock_of(request: Request) -> Callable[[], datetime]:
    clock: Callable[[], datetime] | None = getattr(request.app.state, "clock", None)
    return clock or (lambda: datetime.now(UTC))


def require_role(role: str) -> Callable[[Request], Principal]:
    """A dependency: the request's principal, 401 without valid credentials, 403 when the
    role is below ``role`` (``"reporter"``: a school user or an engineer), 404 when the path
    or query names an object of a site outside the principal's scope. Cookie-authenticated
    writes need the ``X-Requested-With`` header."""
    if role not in _RANK and role != REPORTER:
        raise ValueError(f"unknown role {role!r}")

    def dependency(request: Request) -> Principal:
        principal = _authenticated(request)
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "credentials missing or invalid",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if (
            principal.via == TOKEN_SESSION
            and request.method not in SAFE_METHODS
            and not request.headers.get(CSRF_HEADER)
        ):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{CSRF_HEADER} header required")
        if role == REPORTER and not principal.may_report():
            raise HTTPException(status.HTTP_403_FORBIDDEN, "role school or engineer required")
        if role != REPORTER and not principal.has(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {role} or higher required")
        guard_scope(request, principal.sites)
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency


def _authenticated(request: Request) -> Principal | None:
    """The request's principal, authenticated once per request (several dependencies ask)."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    found = request_secret(request)
    if found is None:
        return None
    secret, at = found[0], clock_of(request)()
    principal = get_database(request).transact(lambda session: authenticate(session, secret, at))
    request.state.principal = principal
    return principal


def caller_scope(request: Request) -> SiteScope:
    """The sites the caller may see (a dependency for routes that also require a role)."""
    principal = _authenticated(request)
    return principal.sites if principal is not None else frozenset()


REPORTER = "reporter"  # require_role(REPORTER): a school user or an engineer or admin
Viewer = Annotated[Principal, Depends(require_role("viewer"))]
SchoolOrEngineer = Annotated[Principal, Depends(require_role(REPORTER))]
Engineer = Annotated[Principal, Depends(require_role("engineer"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]


_require_admin = require_role("admin")
GROUP_ADMIN_ONLY = "only an admin bound to no site may do this"


def require_group_admin(request: Request) -> Principal:
    """A dependency: an admin bound to no site (403 for one bound to sites). User management
    and the settings every site shares (SLA policies, the calendar, rule overrides of every
    site) are theirs alone: a bound admin could otherwise reach other sites through them."""
    principal = _require_admin(request)
    if principal.sites is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, GROUP_ADMIN_ONLY)
    return principal


GroupAdmin = Annotated[Principal, Depends(require_group_admin)]
Scope = Annotated[SiteScope, Depends(caller_scope)]

__all__ = [
    "SESSION_COOKIE",
    "SESSION_TTL",
    "Admin",
    "AuthError",
    "Engineer",
    "GroupAdmin",
    "IssuedSecret",
    "Principal",
    "SchoolOrEngineer",
    "Scope",
    "Viewer",
    "authenticate",
    "change_password",
    "create_user",
    "hash_password",
    "issue_token",
    "login",
    "principal_from_request",
    "require_role",
    "revoke_secret",
    "verify_password",
]

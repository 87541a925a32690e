"""Signing in and out (the web session cookie), who am I, and user / token management
(an admin bound to no site; anyone may list and issue their own tokens). An admin bound to
sites manages no user: creating one, changing one or issuing a token for another would let
it reach every site (an unbound admin), so those answer 403 for it."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response, status

from roomwatch.collector.api.auth import (
    GROUP_ADMIN_ONLY,
    SESSION_COOKIE,
    SESSION_TTL,
    AuthError,
    GroupAdmin,
    Principal,
    Viewer,
    change_password,
    create_user,
    issue_token,
    login_throttled,
    request_secret,
    revoke_secret,
)
from roomwatch.collector.api.bounds import RowId
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.schemas import ErrorOut
from roomwatch.collector.api.throttle import TooManySignIns
from roomwatch.collector.api.workflow_schemas import (
    LoginIn,
    MeOut,
    TokenIn,
    TokenIssuedOut,
    TokenOut,
    UserIn,
    UserOut,
    UserPatchIn,
)
from roomwatch.collector.db import users_store
from roomwatch.collector.db.workflow_models import TOKEN_API

router = APIRouter(tags=["users"])
_ERRORS: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}, 409: {"model": ErrorOut}}


@router.post(
    "/api/auth/login",
    response_model=MeOut,
    responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)
def sign_in(body: LoginIn, session: DbSession, request: Request, response: Response) -> MeOut:
    """Check the password and set the session cookie (HttpOnly, SameSite=Lax). After 5
    failures for a user name (20 from an address) in 15 minutes: 429 with Retry-After."""
    try:
        issued = login_throttled(request, session, body.username, body.password)
    except TooManySignIns as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            str(exc),
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None
    if issued is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong user name or password")
    response.set_cookie(
        SESSION_COOKIE,
        issued.secret,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    user = issued.token.user
    return MeOut(
        username=user.username, display_name=user.display_name, role=user.role, via="session"
    )


@router.post("/api/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(session: DbSession, request: Request) -> Response:
    found = request_secret(request)
    if found is not None and found[1] == "session":
        revoke_secret(session, found[0], request.app.state.clock())
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/api/auth/me", response_model=MeOut)
def me(viewer: Viewer) -> MeOut:
    return MeOut(
        username=viewer.username,
        display_name=viewer.display_name,
        role=viewer.role,
        via=viewer.via,
        sites=sorted(viewer.sites) if viewer.sites is not None else None,
    )


@router.get("/api/users", response_model=list[UserOut])
def list_users(session: DbSession, _admin: GroupAdmin) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in users_store.list_users(session)]


@router.post(
    "/api/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, responses=_ERRORS
)
def add_user(body: UserIn, session: DbSession, _admin: GroupAdmin, request: Request) -> UserOut:
    try:
        user = create_user(
            session,
            body.username,
            body.role,
            request.app.state.clock(),
            password=body.password,
            display_name=body.display_name,
        )
    except AuthError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return UserOut.model_validate(user)


@router.patch("/api/users/{username}", response_model=UserOut, responses=_ERRORS)
def change_user(
    username: str, body: UserPatchIn, session: DbSession, admin: GroupAdmin, request: Request
) -> UserOut:
    """Change a user's role, state, password or display name (the last admin stays one).

    A new password revokes all of the user's API tokens and web sessions; an admin changing
    their own keeps the session or token this request came with."""
    user = users_store.get_user(session, username)
    demoted = (body.role not in (None, "admin")) or body.active is False
    if user.role == "admin" and demoted and users_store.admins_count(session) <= 1:
        raise HTTPException(status.HTTP_409_CONFLICT, "the last active admin cannot be demoted")
    if body.role is not None:
        user.role = body.role
    if body.active is not None:
        user.active = body.active
    if body.display_name is not None:
        user.display_name = body.display_name
    if body.password is not None:
        own = admin.token_id if admin.username == user.username else None
        change_password(session, user, body.password, request.app.state.clock(), own)
    return UserOut.model_validate(user)


@router.get("/api/users/{username}/tokens", response_model=list[TokenOut], responses=_ERRORS)
def list_tokens(username: str, session: DbSession, viewer: Viewer) -> list[TokenOut]:
    _own_or_admin(viewer, username)
    user = users_store.get_user(session, username)
    return [TokenOut.model_validate(t) for t in user.tokens if t.kind == TOKEN_API]


@router.post(
    "/api/users/{username}/tokens",
    response_model=TokenIssuedOut,
    status_code=status.HTTP_201_CREATED,
    responses=_ERRORS,
)
def new_token(
    username: str, body: TokenIn, session: DbSession, viewer: Viewer, request: Request
) -> TokenIssuedOut:
    """A new API token; the secret is in this response only."""
    _own_or_admin(viewer, username)
    user = users_store.get_user(session, username)
    ttl = timedelta(days=body.expires_days) if body.expires_days else None
    issued = issue_token(session, user, request.app.state.clock(), name=body.name, ttl=ttl)
    return TokenIssuedOut(token=issued.secret, info=TokenOut.model_validate(issued.token))


@router.delete(
    "/api/users/{username}/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_ERRORS,
)
def revoke_token(
    username: str, token_id: RowId, session: DbSession, viewer: Viewer, request: Request
) -> Response:
    _own_or_admin(viewer, username)
    token = users_store.get_token(session, users_store.get_user(session, username), token_id)
    token.revoked_at = token.revoked_at or request.app.state.clock()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _own_or_admin(viewer: Principal, username: str) -> None:
    """Another user's tokens: an admin bound to no site only (a token for an unbound admin
    would reach every site)."""
    if viewer.username == username:
        return
    if viewer.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only admins manage other users' tokens")
    if viewer.sites is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, GROUP_ADMIN_ONLY)

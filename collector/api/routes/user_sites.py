"""Which sites a user is bound to (an admin bound to no site): a bound user sees only those
sites, a ``school`` user bound to none sees nothing (``collector.db.scope``). An admin bound
to sites may not bind anyone (itself included: ``[]`` would unbind it from every site)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from roomwatch.collector.api.auth import GroupAdmin
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.schemas import ErrorOut
from roomwatch.collector.db import scope, users_store

router = APIRouter(tags=["users"])
_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
}
SiteId = Annotated[str, Field(min_length=1, max_length=64)]


class UserSitesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sites: list[SiteId] = Field(max_length=1000, description="Site ids; empty: every site")


class UserSitesOut(BaseModel):
    username: str
    sites: list[str] = Field(description="Bound site ids; empty: every site (school: none)")


@router.get("/api/users/{username}/sites", response_model=UserSitesOut, responses=_ERRORS)
def get_user_sites(username: str, session: DbSession, _admin: GroupAdmin) -> UserSitesOut:
    user = users_store.get_user(session, username)
    return UserSitesOut(username=user.username, sites=scope.sites_of_user(session, user.id))


@router.put("/api/users/{username}/sites", response_model=UserSitesOut, responses=_ERRORS)
def put_user_sites(
    username: str, body: UserSitesIn, session: DbSession, _admin: GroupAdmin
) -> UserSitesOut:
    """Bind the user to exactly these sites (replacing earlier bindings); 409 naming a site
    that does not exist. Takes effect on the user's next request."""
    user = users_store.get_user(session, username)
    try:
        bound = scope.bind_sites(session, user, body.sites)
    except LookupError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"site {exc.args[0]!r} does not exist"
        ) from None
    return UserSitesOut(username=user.username, sites=bound)

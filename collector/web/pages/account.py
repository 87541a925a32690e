"""Signing in and out, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from roomwatch.collector.api.deps import DbSession, ReadSession
from roomwatch.collector.api.throttle import TooManySignIns
from roomwatch.collector.web import access
from roomwatch.collector.web.context import PREFIX, Page, url
from roomwatch.collector.web.i18n import COOKIE, LANGUAGES

router = APIRouter(prefix=PREFIX, include_in_schema=False)
LANG_COOKIE_AGE_S = 365 * 86400


def safe_next(target: str | None) -> str:
    """Only a path of this dashboard: never an open redirect to another site."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    return url("/")


@router.get("/lang/{lang}")
def switch_language(lang: str, next: str = "") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(COOKIE, lang, max_age=LANG_COOKIE_AGE_S, samesite="lax")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, session: DbSession, next: str = "") -> Response:
    page = Page.of(request, session)
    return page.render(
        "login.html",
        next=safe_next(next),
        error="",
        enabled=page.closed,
    )


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: ReadSession,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    page = Page.of(request, session)
    if not page.same_origin():
        return page.forbidden()
    try:
        cookie = access.sign_in(request, username, password)
    except TooManySignIns as exc:
        held = page.render(
            "login.html",
            status_code=429,
            next=safe_next(next),
            error=page.t("login.throttled", minutes=(exc.retry_after_s + 59) // 60),
            enabled=page.closed,
            username=username,
        )
        held.headers["Retry-After"] = str(exc.retry_after_s)
        return held
    if cookie is None:
        return page.render(
            "login.html",
            status_code=401,
            next=safe_next(next),
            error=page.t("login.failed"),
            enabled=page.closed,
            username=username,
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    cookie.apply(response)
    return response


@router.post("/logout")
def logout(request: Request, session: ReadSession) -> Response:
    page = Page.of(request, session)
    response = RedirectResponse(url("/login"), status_code=303)
    if page.same_origin():
        access.sign_out(request, response)
    return response

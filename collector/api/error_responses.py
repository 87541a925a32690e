"""One shape for every error the API answers, and every status it can answer documented.

Every 4xx and 5xx body is ``ErrorOut``: ``{"error": <code>, "detail": <text>}``; a request
that fails validation (422 ``invalid_request``) adds ``problems``, one ``{loc, message}``
per wrong field. Routing's own answers (404 for an unknown path, 405 for a wrong method,
400 for an unreadable body) take the same shape. What a client sent is never echoed back:
a rejected sign-in must not return the password it carried.

``install_error_responses`` registers the handlers and, when the OpenAPI document is built,
adds to each operation the statuses every route of its kind can answer: 401 and 403 where
credentials are needed, 404 where the path names something, 400 and 413 where a body is
read, 422 where anything is validated.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute

from roomwatch.collector.api.schemas import ErrorOut

_NO_BODY = frozenset({204, 304})
# The dependency ``collector.api.auth.require_role`` returns; found by its qualified name so
# that this module does not decide which routes are protected, it only reads it.
_AUTH_DEPENDENCY = "require_role.<locals>.dependency"
_REFS = "#/components/schemas/"


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "content_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}


def error_code(status_code: int) -> str:
    """``not_found`` for 404, ``content_too_large`` for 413, ...; other statuses by their
    phrase."""
    if status_code in _CODES:
        return _CODES[status_code]
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        return "error"
    return phrase.lower().replace(" ", "_").replace("-", "_")


def error_body(status_code: int, detail: str, error: str | None = None) -> dict[str, Any]:
    return {"error": error or error_code(status_code), "detail": detail}


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in _NO_BODY:
        return Response(status_code=exc.status_code, headers=exc.headers)
    from roomwatch.collector.web.error_page import (  # web imports the API
        is_dashboard,
        not_found_page,
    )

    if exc.status_code == 404 and is_dashboard(request):  # a person reads it: a page
        return await run_in_threadpool(not_found_page, request)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return JSONResponse(
        error_body(exc.status_code, detail), status_code=exc.status_code, headers=exc.headers
    )


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"loc": [str(part) for part in error.get("loc", ())], "message": str(error.get("msg"))}
        for error in exc.errors()
    ]
    from roomwatch.collector.web.error_page import (  # web imports the API
        bad_request_page,
        is_dashboard,
    )

    if is_dashboard(request):  # a person reading the dashboard gets a page, not JSON
        return bad_request_page(request, problems)
    detail = "; ".join(f"{'.'.join(p['loc'])}: {p['message']}" for p in problems[:5])
    body = error_body(422, detail or "invalid request")
    body["problems"] = problems
    return JSONResponse(body, status_code=422)


def _needs_credentials(dependant: Dependant) -> bool:
    return any(
        getattr(dep.call, "__qualname__", "") == _AUTH_DEPENDENCY or _needs_credentials(dep)
        for dep in dependant.dependencies
    )


def _has_parameters(dependant: Dependant) -> bool:
    own = (
        dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
    )
    return bool(own) or any(_has_parameters(dep) for dep in dependant.dependencies)


def _statuses(route: Any) -> Iterator[tuple[int, str]]:
    if _needs_credentials(route.dependant):
        yield 401, "Credentials missing or invalid (`WWW-Authenticate: Bearer`)"
        yield 403, "The role is too low, or a cookie-authenticated write lacks X-Requested-With"
    if route.dependant.path_params:
        yield 404, "Nothing by that name or id"
    if route.body_field is not None:
        yield 400, "The body could not be read"
        yield 413, "The body is larger than the collector accepts (`api.max_body_bytes`)"
    if _has_parameters(route.dependant):
        yield 422, "The request does not validate; `problems` says where"


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"{_REFS}ErrorOut"}}}


def document_errors(document: dict[str, Any], routes: Sequence[BaseRoute]) -> None:
    """Add to ``document`` (OpenAPI) the statuses each route can answer, in the error shape,
    and let its 422s name ``ErrorOut`` instead of the framework's own validation body."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    own = ErrorOut.model_json_schema(ref_template=_REFS + "{model}")
    schemas.update(own.pop("$defs", {}))
    schemas["ErrorOut"] = own
    paths = document.get("paths", {})
    for route in iter_route_contexts(routes):
        if getattr(route, "dependant", None) is None or not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status_code, description in _statuses(route):
                answer = responses.setdefault(str(status_code), {"description": description})
                # In the error shape, as JSON, even where the route answers HTML or a PDF.
                answer["content"] = _error_content()
    for framework_own in ("HTTPValidationError", "ValidationError"):
        schemas.pop(framework_own, None)


def install_error_responses(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        document = build_openapi()  # cached by the framework until routes change
        document_errors(document, app.routes)  # idempotent: cheap to repeat
        return document

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["error_body", "error_code", "install_error_responses"]

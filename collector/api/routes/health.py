"""Liveness with the database (``/healthz``) and Prometheus metrics (``/metrics``)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from roomwatch.collector.api.deps import get_database
from roomwatch.collector.api.schemas import HealthOut
from roomwatch.collector.db import queries

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut}})
def healthz(request: Request) -> JSONResponse:
    """200 when the database answers, 503 when it does not."""
    reachable = _database_reachable(request)
    body = HealthOut(
        status="ok" if reachable else "unavailable",
        database="ok" if reachable else "unreachable",
    )
    return JSONResponse(body.model_dump(), status_code=200 if reachable else 503)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Every registry of the app (ingest counters, API gauges) in Prometheus text format."""
    text = b"".join(generate_latest(registry) for registry in request.app.state.registries)
    return Response(content=text, media_type=CONTENT_TYPE_LATEST)


def _database_reachable(request: Request) -> bool:
    state = request.app.state
    try:
        with get_database(request).session() as session:
            queries.ping(session)
    except SQLAlchemyError as exc:
        if state.database_up:
            log.warning("database unreachable: %s", type(exc).__name__)
        state.database_up = False
        return False
    if not state.database_up:
        log.info("database reachable again")
    state.database_up = True
    return True

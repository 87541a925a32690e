"""Building the FastAPI application around a database and a metrics registry."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

import agent
from collector.api.gauges import DatabaseGauges
from collector.api.routes import faults, health, rooms
from collector.db.session import Database
from collector.errors import NotFoundError


def create_app(
    db: Database, metrics_registry: CollectorRegistry, *, database_gauges: bool = True
) -> FastAPI:
    """The API over ``db``; ``/metrics`` shows ``metrics_registry`` (the ingest counters)
    and, with ``database_gauges``, gauges read from SQL at scrape time."""
    app = FastAPI(title="roomwatch collector", version=agent.__version__)
    app.state.database = db
    app.state.database_up = True
    app.state.registries = [metrics_registry]
    if database_gauges:
        own = CollectorRegistry(auto_describe=True)
        own.register(DatabaseGauges(db))
        app.state.registries.append(own)
    app.add_exception_handler(NotFoundError, _not_found)
    for module in (rooms, faults, health):
        app.include_router(module.router)
    return app


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "not_found", "detail": str(exc)}, status_code=404)

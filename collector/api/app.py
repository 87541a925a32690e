"""Building the FastAPI application around a database and a metrics registry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry

from roomwatch import agent
from roomwatch.collector.api.error_responses import install_error_responses
from roomwatch.collector.api.gauges import DatabaseGauges
from roomwatch.collector.api.http_guard import DEFAULT_MAX_BODY_BYTES, BodyLimit, SecurityHeaders
from roomwatch.collector.api.listing import GZIP_LEVEL, GZIP_MIN_BYTES, AnswerCache
from roomwatch.collector.api.routes import dispatch as dispatch_routes
from roomwatch.collector.api.routes import exports, faults, health, quarantine, rooms, user_sites
from roomwatch.collector.api.routes import followup as followup_routes
from roomwatch.collector.api.routes import reports as report_routes
from roomwatch.collector.api.routes import sla as sla_routes
from roomwatch.collector.api.routes import spares as spare_routes
from roomwatch.collector.api.throttle import SignInThrottle
from roomwatch.collector.api.workflow_app import READ_ACCESS, Clock, install_workflow
from roomwatch.collector.db.session import Database
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.reports.jobs import ReportJobs, generate_from
from roomwatch.collector.rules.model import Rule
from roomwatch.collector.web import WebSettings, install_web
from roomwatch.collector.workflow import Workflow


def create_app(
    db: Database,
    metrics_registry: CollectorRegistry,
    *,
    database_gauges: bool = True,
    web: WebSettings | None = None,
    workflow: Workflow | None = None,
    rule_pack: list[Rule] | None = None,
    clock: Clock | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """The API over ``db``; ``/metrics`` shows ``metrics_registry`` (the ingest counters)
    and, with ``database_gauges``, gauges read from SQL at scrape time. ``workflow`` (fault
    life cycle with its SLA hooks), ``rule_pack`` and ``clock`` default to the real ones.
    Every ``/api`` route needs credentials (``collector.api.auth``); ``/healthz`` and
    ``/metrics`` do not. A request body over ``max_body_bytes`` is refused (413) unread;
    every response carries the security headers (``collector.api.http_guard``)."""
    app = FastAPI(title="roomwatch collector", version=agent.__version__, lifespan=_lifespan)
    app.state.database = db
    app.state.database_up = True
    app.state.answer_cache = AnswerCache()  # serialised dashboard lists, keyed by ETag
    app.state.sign_in_throttle = SignInThrottle(db)  # counts in SQL, shared by a group
    # Report jobs in SQL, shared by a group; each generation rebuilt from the stored request
    # with the app's report service. Its worker runs while the app is served (_lifespan).
    app.state.report_jobs = ReportJobs(
        db,
        generate_from(lambda: report_routes.service_of(app.state)),
        clock=lambda: app.state.clock(),
    )
    app.state.registries = [metrics_registry]
    if database_gauges:
        own = CollectorRegistry(auto_describe=True)
        own.register(DatabaseGauges(db))
        app.state.registries.append(own)
    install_error_responses(app)  # one error shape; every status documented
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_middleware(BodyLimit, max_body_bytes=max_body_bytes)
    # Inside SecurityHeaders (its headers and last-resort 500 stay as they are), outside
    # BodyLimit (a 413 is small and unread bodies never reach it). Answers that carry their
    # own Content-Encoding (the cached lists' pre-made gzip) pass through untouched.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)
    app.add_middleware(SecurityHeaders)  # added last: outermost, on every answer
    app.include_router(rooms.router, dependencies=READ_ACCESS)
    app.include_router(faults.router)
    app.include_router(health.router)
    app.include_router(sla_routes.router)  # SLA policies, calendar, clocks (auth per route)
    app.include_router(report_routes.router)  # inspection reports (auth per route)
    app.include_router(quarantine.router)  # GET /api/admin/quarantine (admin)
    app.include_router(dispatch_routes.router)  # today, duty roster, assignee (auth per route)
    app.include_router(user_sites.router)  # GET/PUT /api/users/{name}/sites (admin)
    app.include_router(exports.router)  # GET /api/exports/{kind}: CSV / XLSX (scoped)
    app.include_router(spare_routes.router)  # spare ledger, restock, log deletion (scoped)
    app.include_router(followup_routes.router)  # visits, trainings, confirmations (scoped)
    install_workflow(app, workflow, rule_pack, clock)
    install_web(app, web)  # the dashboard under /ui (collector/web)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.report_jobs.start()  # also runs the reports asked of other group members
    yield
    app.state.report_jobs.shutdown()  # queued reports stay queued for the next collector


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "not_found", "detail": str(exc)}, status_code=404)

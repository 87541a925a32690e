"""Inspection reports: generate, list archived, download PDF/HTML, regenerate; due
inspections, schedules, checklist items and on-site results, goals, spare stock and vendor
advisories. Viewers read; engineers write."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from roomwatch.collector.api.auth import Engineer, Scope, Viewer
from roomwatch.collector.api.bounds import Count, IsoDate, PageOffset, RowId, SqlInt
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.http_guard import REPORT_CONTENT_SECURITY_POLICY
from roomwatch.collector.api.schemas import ErrorOut
from roomwatch.collector.api.scoping import require_visible
from roomwatch.collector.db import report_store
from roomwatch.collector.reports.checklist import ItemCheck, default_items, site_items
from roomwatch.collector.reports.errors import RenderError, ReportError
from roomwatch.collector.reports.jobs import JobsStopped, ReportJob, ReportJobs
from roomwatch.collector.reports.service import ReportService
from roomwatch.collector.spares import stock

router = APIRouter(tags=["reports"])
_ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}}
DEFAULT_TIMEZONE = "Asia/Shanghai"  # the collector config's default


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ReportRequest(_In):
    site: str
    period: str = Field(description="2026Q3, 2026-07, or 2026-07-01..2026-10-01")
    lang: Literal["zh-CN", "en"] = "zh-CN"
    pdf: bool = True
    devices: Literal["auto", "all", "exceptions"] = Field(
        default="auto",
        description="every device, or only those with low availability, "
        "faults or hazards; auto: all up to 300 devices",
    )


class ArchivedOut(_Out):
    id: int
    site_id: str
    period_label: str
    period_start: date
    period_end: date
    lang: str
    params: dict[str, Any]
    summary: dict[str, Any]
    generated_at: datetime
    generated_by: str
    regenerated_from: int | None


class DueOut(_Out):
    site_id: str
    site_name: str
    customer: str | None
    engineer: str | None
    period_label: str
    period_start: date
    period_end: date
    days_overdue: int


class ScheduleIn(_In):
    customer: str | None = Field(default=None, max_length=200)
    interval_months: int = Field(default=3, ge=1, le=12)
    anchor: date = Field(default=date(2000, 1, 1), description="first day of some period")
    lead_days: int = Field(default=14, ge=0, le=180)
    active: bool = True
    engineer: str | None = Field(default=None, max_length=100)


class ScheduleOut(ScheduleIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")
    site_id: str


class ChecklistItemIn(_In):
    zh: str = Field(min_length=1, max_length=300)
    en: str = Field(min_length=1, max_length=300)
    position: SqlInt = 100
    check: ItemCheck | None = None
    enabled: bool = True


class ChecklistResultOut(_Out):
    item_key: str
    status: str
    value: str | None
    note: str
    checked_by: str
    checked_at: datetime


class ChecklistItemOut(BaseModel):
    key: str
    zh: str
    en: str
    position: int
    check: ItemCheck | None
    automatic: bool
    result: ChecklistResultOut | None = None


class ChecklistResultIn(_In):
    status: Literal["pass", "fail", "n/a"]
    value: str | None = Field(default=None, max_length=200)
    note: str = Field(default="", max_length=4000)


class GoalsIn(_In):
    items: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(max_length=100)
    note: str = Field(default="", max_length=4000)


class GoalsOut(BaseModel):
    site_id: str
    period_start: date
    items: list[str]
    note: str
    edited: bool
    edited_by: str | None
    updated_at: datetime | None


class SpareIn(_In):
    held: Count
    used: Count = 0
    location: str | None = Field(default=None, max_length=200)


class SpareOut(_Out):
    model: str
    held: int
    used: int
    location: str | None
    updated_at: datetime


class AdvisoryIn(_In):
    vendor: str | None = Field(default=None, max_length=200)
    model: str = Field(min_length=1, max_length=200)
    firmware_min: str | None = Field(default=None, max_length=64)
    firmware_max: str | None = Field(default=None, max_length=64)
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    title: str = Field(min_length=1, max_length=300)
    text: str = ""
    action: str = ""
    url: str | None = Field(default=None, max_length=500)
    published: date | None = None
    active: bool = True


class AdvisoryOut(_Out):
    code: str
    vendor: str | None
    model: str
    firmware_min: str | None
    firmware_max: str | None
    severity: str
    title: str
    text: str
    action: str
    url: str | None
    published: date | None
    active: bool
    created_at: datetime


class AdvisoryApplyOut(BaseModel):
    opened: list[int]
    resolved: list[int]
    matched: int


def reports_of(request: Request) -> ReportService:
    return service_of(request.app.state)


def service_of(state: Any) -> ReportService:
    """The report service of an app's state; ``inventory_file`` (set by the collector) gives
    the sites' sign-off names and logos, as ``roomwatch report`` has them."""
    web = getattr(state, "web_settings", None)
    zone = getattr(web, "timezone", None) or getattr(state, "timezone", None) or DEFAULT_TIMEZONE
    return ReportService(
        state.database,
        state.workflow,
        zone,
        clock=state.clock,
        inventory_file=getattr(state, "inventory_file", None),
    )


# --- reports ------------------------------------------------------------------------------


@router.get("/api/reports", response_model=list[ArchivedOut])
def list_reports(
    session: DbSession,
    _viewer: Viewer,
    sites: Scope,
    site: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[PageOffset, Query()] = 0,
) -> list[ArchivedOut]:
    """Archived reports (of the caller's sites), newest first."""
    rows = report_store.list_reports(session, site or None, limit, offset, sites)
    return [ArchivedOut.model_validate(row) for row in rows]


class JobOut(BaseModel):
    id: str
    state: Literal["queued", "running", "done", "failed"]
    request: dict[str, Any]
    actor: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    report_id: int | None
    report_url: str | None
    error: str | None


_GENERATE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    202: {"model": JobOut, "description": "Still generating: poll the job's URL"},
    503: {"model": ErrorOut},
}
_WAIT = Annotated[
    float,
    Query(ge=0, le=300, description="Seconds to wait for the report before answering 202."),
]


@router.post(
    "/api/reports",
    response_model=ArchivedOut,
    status_code=status.HTTP_201_CREATED,
    responses=_GENERATE_ERRORS,
)
def generate_report(
    body: ReportRequest, engineer: Engineer, request: Request, wait: _WAIT = 30
) -> Any:
    """Generate and archive the report of a site for a period (HTML, and PDF unless off).

    Generation runs in the background, one report at a time. Finished within ``wait``
    seconds: 201 with the archived report. Otherwise 202 with the job (``Location``: its
    URL, ``GET /api/reports/jobs/{id}``), which names the report once it is done."""
    service = reports_of(request)
    if engineer.sites is not None:
        request.app.state.database.transact(
            lambda session: require_visible(session, engineer.sites, site=body.site)
        )
    _run(lambda: service.period_of(body.site, body.period))  # 404 / 422 now, not in the job
    # The job is the request itself: any collector of the group can run it.
    job = _submit(request, body.model_dump(), engineer.username)
    return _finished_or_accepted(request, service, job, wait)


@router.get("/api/reports/jobs/{job_id}", response_model=JobOut, responses=_ERRORS)
def get_job(job_id: str, _viewer: Viewer, request: Request) -> JobOut:
    """A report generation's state; ``report_id`` once it is done, ``error`` if it failed.
    Jobs are kept in SQL: every collector of a group answers, a restart keeps them;
    finished ones are forgotten after 7 days (404)."""
    job = report_jobs(request).get(job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"report job {job_id!r} does not exist")
    return _job_out(job)


@router.get("/api/reports/{report_id}", response_model=ArchivedOut, responses=_ERRORS)
def get_report(report_id: RowId, session: DbSession, _viewer: Viewer) -> ArchivedOut:
    return ArchivedOut.model_validate(
        report_store.get_report(session, report_id, with_content=False)
    )


@router.get("/api/reports/{report_id}/pdf", responses=_ERRORS, response_class=Response)
def download_pdf(report_id: RowId, session: DbSession, _viewer: Viewer) -> Response:
    row = report_store.get_report(session, report_id)
    if row.pdf is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this report was archived without a PDF")
    return Response(
        row.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{_filename(row, "pdf")}"'},
    )


@router.get("/api/reports/{report_id}/html", responses=_ERRORS, response_class=HTMLResponse)
def download_html(report_id: RowId, session: DbSession, _viewer: Viewer) -> HTMLResponse:
    row = report_store.get_report(session, report_id)
    return HTMLResponse(
        row.html,
        headers={
            "Content-Disposition": f'inline; filename="{_filename(row, "html")}"',
            # The archived page carries its stylesheet inline and needs nothing else.
            "Content-Security-Policy": REPORT_CONTENT_SECURITY_POLICY,
        },
    )


@router.post(
    "/api/reports/{report_id}/regenerate",
    response_model=ArchivedOut,
    status_code=status.HTTP_201_CREATED,
    responses=_GENERATE_ERRORS,
)
def regenerate_report(
    report_id: RowId, engineer: Engineer, request: Request, wait: _WAIT = 30
) -> Any:
    """The same site, period and language again, with today's data: a new archived report
    (in the background, answered as ``POST /api/reports`` is)."""
    service = reports_of(request)
    service.archived(report_id)  # 404 now rather than in the job
    job = _submit(request, {"regenerate": report_id}, engineer.username)
    return _finished_or_accepted(request, service, job, wait)


# --- inspections --------------------------------------------------------------------------


@router.get("/api/inspections/due", response_model=list[DueOut])
def due_inspections(
    _viewer: Viewer,
    sites: Scope,
    request: Request,
    on: Annotated[IsoDate | None, Query()] = None,
) -> list[DueOut]:
    """Inspections (of the caller's sites) whose period ends within the schedule's lead
    days (or ended) and that have no archived report; the most overdue first."""
    due = reports_of(request).due(on)
    return [DueOut.model_validate(d) for d in due if sites is None or d.site_id in sites]


@router.get("/api/inspections/{site}/schedule", response_model=ScheduleOut, responses=_ERRORS)
def get_schedule(site: str, session: DbSession, _viewer: Viewer) -> ScheduleOut:
    report_store.require_site(session, site)
    row = report_store.get_schedule(session, site)
    return ScheduleOut.model_validate(row) if row else ScheduleOut(site_id=site)


@router.put("/api/inspections/{site}/schedule", response_model=ScheduleOut, responses=_ERRORS)
def put_schedule(
    site: str, body: ScheduleIn, session: DbSession, _engineer: Engineer, request: Request
) -> ScheduleOut:
    row = report_store.put_schedule(session, site, request.app.state.clock(), **body.model_dump())
    return ScheduleOut.model_validate(row)


@router.get(
    "/api/inspections/{site}/checklist", response_model=list[ChecklistItemOut], responses=_ERRORS
)
def get_checklist(
    site: str,
    session: DbSession,
    _viewer: Viewer,
    request: Request,
    period: Annotated[str | None, Query(description="show the results of this period")] = None,
) -> list[ChecklistItemOut]:
    """The site's checklist (defaults + its own items) with the on-site results of a period."""
    report_store.require_site(session, site)
    results = {}
    if period is not None:
        start = _run(lambda: reports_of(request).period_of(site, period)).start
        results = report_store.checklist_results(session, site, start)
    return [
        ChecklistItemOut(
            key=item.key,
            zh=item.zh,
            en=item.en,
            position=item.position,
            check=item.check,
            automatic=item.check is not None,
            result=ChecklistResultOut.model_validate(results[item.key])
            if item.key in results
            else None,
        )
        for item in site_items(report_store.checklist_items(session, site))
    ]


@router.put(
    "/api/inspections/{site}/checklist/{key}", response_model=ChecklistItemOut, responses=_ERRORS
)
def put_checklist_item(
    site: str, key: str, body: ChecklistItemIn, session: DbSession, _engineer: Engineer
) -> ChecklistItemOut:
    """Add a site item, or override a shipped one with the same key (``enabled: false``
    drops it from this site's list)."""
    if not key.replace("_", "").isalnum() or not key.islower() or len(key) > 64:
        raise HTTPException(422, "key: lower-case letters, digits and _ only, at most 64")
    report_store.put_checklist_item(
        session,
        site,
        key,
        title_zh=body.zh,
        title_en=body.en,
        position=body.position,
        check=body.check.model_dump() if body.check else None,
        enabled=body.enabled,
    )
    return ChecklistItemOut(
        key=key,
        zh=body.zh,
        en=body.en,
        position=body.position,
        check=body.check,
        automatic=body.check is not None,
    )


@router.put(
    "/api/inspections/{site}/periods/{period}/checklist/{key}",
    response_model=ChecklistResultOut,
    responses=_ERRORS,
)
def put_checklist_result(
    site: str,
    period: str,
    key: str,
    body: ChecklistResultIn,
    session: DbSession,
    engineer: Engineer,
    request: Request,
) -> ChecklistResultOut:
    """What the engineer found on site for one item (wins over the automatic verdict)."""
    known = {i.key for i in default_items()} | {
        row.key for row in report_store.checklist_items(session, site)
    }
    if key not in known:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"checklist item {key!r} does not exist")
    start = _run(lambda: reports_of(request).period_of(site, period)).start
    row = report_store.put_checklist_result(
        session,
        site,
        start,
        key,
        status=body.status,
        value=body.value,
        note=body.note,
        checked_by=engineer.username,
        checked_at=request.app.state.clock(),
    )
    return ChecklistResultOut.model_validate(row)


@router.get(
    "/api/inspections/{site}/periods/{period}/goals", response_model=GoalsOut, responses=_ERRORS
)
def get_goals(
    site: str,
    period: str,
    _viewer: Viewer,
    request: Request,
    lang: Annotated[Literal["zh-CN", "en"], Query()] = "zh-CN",
) -> GoalsOut:
    """The next period's goals as edited, else the draft the report would print."""
    report = _run(lambda: reports_of(request).build(site, period, lang))
    goals = report.goals
    return GoalsOut(
        site_id=site,
        period_start=report.period.start,
        items=goals.items,
        note=goals.note,
        edited=goals.edited,
        edited_by=goals.edited_by,
        updated_at=goals.updated_at,
    )


@router.put(
    "/api/inspections/{site}/periods/{period}/goals", response_model=GoalsOut, responses=_ERRORS
)
def put_goals(
    site: str,
    period: str,
    body: GoalsIn,
    session: DbSession,
    engineer: Engineer,
    request: Request,
) -> GoalsOut:
    start = _run(lambda: reports_of(request).period_of(site, period)).start
    row = report_store.put_goals(
        session, site, start, body.items, body.note, engineer.username, request.app.state.clock()
    )
    return GoalsOut(
        site_id=site,
        period_start=start,
        items=list(row.items),
        note=row.note,
        edited=True,
        edited_by=row.edited_by,
        updated_at=row.updated_at,
    )


# --- spares and advisories ----------------------------------------------------------------


@router.get("/api/spares/{site}", response_model=list[SpareOut], responses=_ERRORS)
def list_spares(site: str, session: DbSession, _viewer: Viewer) -> list[SpareOut]:
    report_store.require_site(session, site)
    stock = report_store.spare_stock(session, site)
    return [SpareOut.model_validate(stock[model]) for model in sorted(stock)]


@router.put("/api/spares/{site}/{model}", response_model=SpareOut, responses=_ERRORS)
def put_spare(
    site: str, model: str, body: SpareIn, session: DbSession, engineer: Engineer, request: Request
) -> SpareOut:
    """A stock count: held and used as counted (a movement in the ledger); the model's
    quota fault opens or resolves with it. Deliveries: POST .../restock."""
    at = request.app.state.clock()
    before = report_store.spare_stock(session, site).get(model)
    held_before = before.held if before is not None else 0
    row = report_store.put_spare_stock(session, site, model, at, **body.model_dump())
    stock.counted(session, request.app.state.workflow, row, held_before, engineer.username, at)
    return SpareOut.model_validate(row)


@router.get("/api/advisories", response_model=list[AdvisoryOut])
def list_advisories(session: DbSession, _viewer: Viewer) -> list[AdvisoryOut]:
    return [AdvisoryOut.model_validate(row) for row in report_store.advisories(session)]


@router.put("/api/advisories/{code}", response_model=AdvisoryOut, responses=_ERRORS)
def put_advisory(code: str, body: AdvisoryIn, _engineer: Engineer, request: Request) -> AdvisoryOut:
    """Record (or change) a vendor advisory; matching devices get their L4 fault now."""
    service = reports_of(request)
    with service.db.session(write=True) as session:  # reads, then inserts or updates
        row = report_store.put_advisory(session, code, service.clock(), **body.model_dump())
        out = AdvisoryOut.model_validate(row)
    service.apply_advisories()
    return out


@router.post("/api/advisories/apply", response_model=AdvisoryApplyOut)
def apply_advisories(_engineer: Engineer, request: Request) -> AdvisoryApplyOut:
    """Match every active advisory against today's inventory and firmware again."""
    applied = reports_of(request).apply_advisories()
    return AdvisoryApplyOut(
        opened=applied.opened, resolved=applied.resolved, matched=applied.matched
    )


def report_jobs(request: Request) -> ReportJobs:
    jobs: ReportJobs = request.app.state.report_jobs  # made by create_app
    return jobs


def _submit(request: Request, what: dict[str, Any], actor: str) -> ReportJob:
    try:
        return report_jobs(request).submit(what, actor)
    except JobsStopped as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None


def _finished_or_accepted(
    request: Request, service: ReportService, submitted: ReportJob, wait: float
) -> Any:
    job = report_jobs(request).wait(submitted.id, wait) or submitted
    if not job.finished:
        url = str(request.url_for("get_job", job_id=job.id).path)
        return JSONResponse(
            _job_out(job).model_dump(mode="json"),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )
    if job.state == "failed":  # answered as if generated in this request: 404, 422, 503, 500
        raise HTTPException(job.error_status or 500, job.error or "report generation failed")
    return ArchivedOut.model_validate(service.archived(job.report_id or 0))


def _job_out(job: ReportJob) -> JobOut:
    return JobOut(
        id=job.id,
        state=job.state,
        request=dict(job.what),
        actor=job.actor,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        report_id=job.report_id,
        report_url=f"/api/reports/{job.report_id}" if job.report_id else None,
        error=job.error,
    )


def _run(call: Any) -> Any:
    try:
        return call()
    except RenderError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    except ReportError as exc:
        raise HTTPException(422, str(exc)) from exc


def _filename(row: Any, ext: str) -> str:
    return f"inspection-{row.site_id}-{row.period_label.replace('..', '_')}-{row.lang}.{ext}"

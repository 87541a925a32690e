"""The spare stock ledger: restock a model (resolves its "spare stock below quota" fault),
the movements of a site's stock, each model against its quota, and deleting a fault's
maintenance log (its spares go back to stock). Viewers read; engineers write. Path
parameters ``site`` and ``fault_id`` are narrowed to the caller's sites (404 otherwise)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from roomwatch.collector.api.auth import Engineer, Viewer
from roomwatch.collector.api.bounds import Count, PageOffset, RowId
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.routes.faults import workflow_of
from roomwatch.collector.api.schemas import ErrorOut
from roomwatch.collector.db import faults_store, report_store, spares_store
from roomwatch.collector.spares import stock
from roomwatch.collector.spares.quota import StockFigures, stock_key

router = APIRouter(tags=["spares"])
_ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}, 422: {"model": ErrorOut}}
Model = Annotated[str, Field(min_length=1, max_length=200)]


class RestockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: Annotated[int, Field(ge=1, le=100_000)]
    note: str = Field(default="", max_length=2000)


class QuotaOut(BaseModel):
    """One stocked model against the plan's 15 % (rounded up) of the procured quantity."""

    model: str
    procured: int
    quota: int
    held: int
    used: int
    short: bool
    fault_id: int | None = Field(description="the open spare_stock_low fault, if any")


class RestockOut(QuotaOut):
    resolved: list[int] = Field(description="faults the restock resolved")


class MovementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    model: str
    delta: int = Field(description="+ into stock, - out of it")
    reason: str = Field(description="taken | returned | restock | count")
    fault_id: int | None
    actor: str
    at: datetime
    note: str


@router.post(
    "/api/spares/{site}/{model}/restock",
    response_model=RestockOut,
    responses={**_ERRORS, 409: {"model": ErrorOut}},
)
def restock(
    site: str, model: Model, body: RestockIn, session: DbSession, engineer: Engineer,
    request: Request,
) -> RestockOut:  # fmt: skip
    """Spares delivered: held grows by ``quantity``; back at quota, the fault resolves."""
    at = request.app.state.clock()
    _row, done = stock.restock(
        session, workflow_of(request), site, model, body.quantity, engineer.username, at,
        body.note,
    )  # fmt: skip
    resolved = [t.fault_id for t in done if t.kind == "resolved"]
    return RestockOut(**_quota_line(session, site, model).model_dump(), resolved=resolved)


@router.get("/api/spares/{site}/quota", response_model=list[QuotaOut], responses=_ERRORS)
def quota(site: str, session: DbSession, _viewer: Viewer) -> list[QuotaOut]:
    """Every stocked model of the site against its quota."""
    report_store.require_site(session, site)
    return [_quota_line(session, site, m) for m in sorted(report_store.spare_stock(session, site))]


@router.get("/api/spares/{site}/movements", response_model=list[MovementOut], responses=_ERRORS)
def movements(
    site: str,
    session: DbSession,
    _viewer: Viewer,
    model: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[Count, Query(le=1000)] = 200,
    offset: Annotated[PageOffset, Query()] = 0,
) -> list[MovementOut]:
    """The site's stock movements, newest first (``model`` narrows to one model)."""
    report_store.require_site(session, site)
    rows = spares_store.movements(session, site, model, limit, offset)
    return [MovementOut.model_validate(row) for row in rows]


@router.delete(
    "/api/faults/{fault_id}/log",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
def delete_log(
    fault_id: RowId, session: DbSession, engineer: Engineer, request: Request
) -> Response:
    """Delete the fault's maintenance log; the spares it took go back to stock. A closed
    fault's log stays (409)."""
    fault = faults_store.get_fault(session, fault_id, lock=True)
    workflow_of(request).delete_log(session, fault, engineer.username, request.app.state.clock())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _quota_line(session: Any, site: str, model: str) -> QuotaOut:
    row = spares_store.stock_row(session, site, model)
    procured = spares_store.procured_by_model(session, site).get(model, 0)
    figures = StockFigures(site, model, procured, row.held if row is not None else 0)
    fault = faults_store.find_active(session, stock_key(site, model))
    return QuotaOut(
        model=model,
        procured=procured,
        quota=figures.quota,
        held=figures.held,
        used=row.used if row is not None else 0,
        short=figures.shortfall > 0,
        fault_id=fault.id if fault is not None else None,
    )

"""``GET /api/exports/{faults|logs|devices}``: a period of one site (or of every site the
caller sees) as CSV or XLSX, scoped like every list (``collector.api.scoping``)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import AwareDatetime

from roomwatch.collector.api.auth import Scope, Viewer
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.schemas import ErrorOut
from roomwatch.collector.db import scope
from roomwatch.collector.reports.exports import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    ExportFormat,
    ExportKind,
    export_table,
    to_csv,
    to_xlsx,
)

router = APIRouter(tags=["exports"])
_FILES = {
    "content": {CSV_MEDIA_TYPE: {}, XLSX_MEDIA_TYPE: {}},
    "description": "The table, one header row",
}


@router.get(
    "/api/exports/{kind}",
    response_class=Response,
    responses={200: _FILES, 404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
def export(
    kind: ExportKind,
    session: DbSession,
    _viewer: Viewer,
    sites: Scope,
    start: Annotated[AwareDatetime, Query(description="Period start (inclusive)")],
    end: Annotated[AwareDatetime, Query(description="Period end (exclusive)")],
    site: Annotated[str | None, Query(max_length=64, description="Site id; all: omit")] = None,
    format: Annotated[ExportFormat, Query()] = "csv",
) -> Response:
    """Faults opened (with their SLA outcome), maintenance logs recorded, or faults per
    device (statistics) in [start, end)."""
    if end <= start:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "end must be after start")
    if site and scope.site_of_site(session, site) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"site {site!r} does not exist")
    header, rows = export_table(session, kind, site or None, start, end, sites)
    label = re.sub(r"[^A-Za-z0-9_.-]", "_", site or "all")
    name = f"roomwatch-{kind}-{label}-{start:%Y%m%d}-{end:%Y%m%d}.{format}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "xlsx":
        return Response(
            to_xlsx(kind, header, rows), media_type=XLSX_MEDIA_TYPE, headers=disposition
        )
    return Response(to_csv(header, rows), media_type=CSV_MEDIA_TYPE, headers=disposition)

"""Exports of a site's period as CSV or XLSX: faults with their SLA outcome, maintenance
logs, and device statistics (faults per device, as in the inspection report).

CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) are prefixed with ``'``, as OWASP recommends against CSV
injection; XLSX cells hold the text itself, typed as strings, never formulas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from openpyxl import Workbook
from sqlalchemy.orm import Session

from roomwatch.collector.db import export_queries, workflow_store
from roomwatch.collector.db.scope import SiteScope

ExportKind = Literal["faults", "logs", "devices"]
ExportFormat = Literal["csv", "xlsx"]
DEVICE_COLUMNS = (
    "room", "device", "kind", "model", "faults", "L1", "L2", "L3", "L4", "closed", "with_log",
    "parts_replaced", "downtime_h",
)  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_table(
    session: Session,
    kind: ExportKind,
    site_id: str | None,
    start: datetime,
    end: datetime,
    sites: SiteScope,
) -> tuple[Sequence[str], list[tuple[Any, ...]]]:
    """(header, rows) of one export over [start, end)."""
    if kind == "faults":
        return export_queries.FAULT_COLUMNS, export_queries.fault_rows(
            session, site_id, start, end, sites
        )
    if kind == "logs":
        return export_queries.LOG_COLUMNS, export_queries.log_rows(
            session, site_id, start, end, sites
        )
    stats = workflow_store.maintenance_statistics(
        session, start, end, "device", site_id, None, sites
    )
    rows = [
        (
            s.room_id,
            s.device,
            s.kind,
            s.model,
            s.faults,
            *(s.by_level.get(level, 0) for level in (1, 2, 3, 4)),
            s.closed,
            s.with_log,
            s.parts_replaced,
            round(s.downtime_s / 3600, 2),
        )
        for s in stats
    ]
    return DEVICE_COLUMNS, rows


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a string that would start a formula gets a
    leading ``'``; numbers stay numbers."""
    if isinstance(value, bool) or value is None or isinstance(value, datetime):
        return _text(value)
    if isinstance(value, int | float):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(header: Sequence[str], rows: list[tuple[Any, ...]]) -> bytes:
    """UTF-8 with a BOM (so Excel reads Chinese text), one header line."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode()


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return _text(value)


def to_xlsx(title: str, header: Sequence[str], rows: list[tuple[Any, ...]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = title[:31]
    sheet.append(list(header))
    for row in rows:
        sheet.append([_xlsx_value(value) for value in row])
    for cell_row in sheet.iter_rows(min_row=2):
        for cell in cell_row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text, never a formula, even when it starts with '='
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()

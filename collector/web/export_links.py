"""Links to the API's exports (``GET /api/exports/{faults|logs|devices}``) from dashboard
pages: the period and site the page shows, CSV and XLSX. The browser sends the session
cookie; the API checks the role and narrows to the reader's sites again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

KINDS = ("faults", "logs", "devices")
FORMATS = ("csv", "xlsx")
DEFAULT_SPAN = timedelta(days=90)


@dataclass(frozen=True)
class ExportLink:
    kind: str  # faults, logs, devices
    format: str  # csv, xlsx
    href: str


def export_links(
    start: datetime | None, end: datetime | None, site: str | None, now: datetime
) -> list[ExportLink]:
    """One link per kind and format for ``[start, end)`` (default: the 90 days up to now)
    and ``site`` (None: every site the reader sees)."""
    # the end is exclusive: the next whole minute, so what opened just now is in
    until = end or (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    since = start or until - DEFAULT_SPAN
    query = {"start": _iso(since), "end": _iso(until), "site": site}
    return [
        ExportLink(
            kind,
            fmt,
            f"/api/exports/{kind}?"
            + urlencode({k: v for k, v in {**query, "format": fmt}.items() if v}),
        )
        for kind in KINDS
        for fmt in FORMATS
    ]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")

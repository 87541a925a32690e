"""A site's SLA figures for a period, the same as the inspection report's fault section:
counts by level, clocks met / breached / running / cleared before response, mean times.
The API's ``GET /api/sla/statistics`` and the report read them from here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from roomwatch.collector.db import report_queries as rq
from roomwatch.collector.reports.fault_section import build_fault_section
from roomwatch.collector.reports.model import FaultSection
from roomwatch.collector.reports.period import Period


def sla_figures(session: Session, site_id: str, period: Period, now: datetime) -> FaultSection:
    """The faults opened in ``period`` at ``site_id`` and their SLA figures as of ``now``."""
    rooms, devices = rq.site_inventory(session, site_id)
    start, end = period.start_utc, period.end_utc
    faults = [
        f for f in rq.faults_overlapping(session, site_id, start, end) if start <= f.opened_at < end
    ]
    ids = [f.id for f in faults]
    return build_fault_section(
        faults,
        period,
        rq.sla_clocks(session, ids),
        rq.maintenance_logs(session, ids),
        rq.first_human_action(session, ids),
        {room.id: room.name for room in rooms},
        {d.pk: d.device for d in devices},
        now,
    )


__all__ = ["sla_figures"]

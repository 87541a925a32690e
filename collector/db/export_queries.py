"""Rows for the exports (``collector.reports.exports``): faults with their SLA outcome and
maintenance logs of one site (or all the caller may see) over a period, as plain tuples."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from roomwatch.collector.db.models import Device, Fault, Room
from roomwatch.collector.db.scope import SiteScope, narrow
from roomwatch.collector.db.sla_models import SlaClock
from roomwatch.collector.db.workflow_models import MaintenanceLog

FAULT_COLUMNS = (
    "fault_id", "site", "room", "device", "level", "status", "title", "source", "reporter",
    "opened_at", "resolved_at", "closed_at", "sla",
)  # fmt: skip
LOG_COLUMNS = (
    "fault_id", "site", "room", "device", "title", "phenomenon", "cause", "solution",
    "engineer", "parts_replaced", "spares_used", "recorded_at",
)  # fmt: skip


def _faults(
    session: Session, site_id: str | None, start: datetime, end: datetime, sites: SiteScope
) -> Any:
    query = (
        select(Fault, Room.site_id, Device.device)
        .join(Room, Room.id == Fault.room_id)
        .outerjoin(Device, Device.id == Fault.device_id)
        .where(Fault.opened_at >= start, Fault.opened_at < end)
        .order_by(Fault.opened_at, Fault.id)
    )
    if site_id is not None:
        query = query.where(Room.site_id == site_id)
    return session.execute(narrow(query, Room.site_id, sites)).all()


def fault_rows(
    session: Session, site_id: str | None, start: datetime, end: datetime, sites: SiteScope
) -> list[tuple[Any, ...]]:
    """Faults opened in [start, end), oldest first; ``sla`` reads ``respond: met; fix:
    breached`` (a running clock: ``running``)."""
    rows = _faults(session, site_id, start, end, sites)
    outcomes: dict[int, list[str]] = defaultdict(list)
    ids = [fault.id for fault, _site, _device in rows]
    if ids:
        clocks = session.scalars(
            select(SlaClock).where(SlaClock.fault_id.in_(ids)).order_by(SlaClock.id)
        )
        for clock in clocks:
            outcomes[clock.fault_id].append(f"{clock.kind}: {_outcome(clock)}")
    return [
        (
            fault.id,
            site,
            fault.room_id,
            device,
            f"L{fault.level}",
            fault.status,
            fault.title,
            fault.source,
            fault.reporter,
            fault.opened_at,
            fault.resolved_at,
            fault.closed_at,
            "; ".join(outcomes[fault.id]),
        )
        for fault, site, device in rows
    ]


def _outcome(clock: SlaClock) -> str:
    if clock.met is True:
        return "met"
    if clock.met is False or clock.breached_at is not None:
        return "breached"
    return "running" if clock.stopped_at is None else "stopped"


def log_rows(
    session: Session, site_id: str | None, start: datetime, end: datetime, sites: SiteScope
) -> list[tuple[Any, ...]]:
    """Maintenance logs recorded in [start, end), oldest first; parts as ``model ×n``."""
    query = (
        select(MaintenanceLog, Fault, Room.site_id, Device.device)
        .join(Fault, Fault.id == MaintenanceLog.fault_id)
        .join(Room, Room.id == Fault.room_id)
        .outerjoin(Device, Device.id == Fault.device_id)
        .where(MaintenanceLog.recorded_at >= start, MaintenanceLog.recorded_at < end)
        .order_by(MaintenanceLog.recorded_at, MaintenanceLog.id)
    )
    if site_id is not None:
        query = query.where(Room.site_id == site_id)
    return [
        (
            fault.id,
            site,
            fault.room_id,
            device,
            fault.title,
            log.phenomenon,
            log.cause,
            log.solution,
            log.engineer,
            _parts(log.parts_replaced),
            _parts(log.spares_used),
            log.recorded_at,
        )
        for log, fault, site, device in session.execute(narrow(query, Room.site_id, sites))
    ]


def _parts(parts: list[dict[str, Any]]) -> str:
    """``name (model) ×quantity, ...`` of the log's parts (collector.workflow.logbook.Part)."""
    return ", ".join(_part(part) for part in parts or [])


def _part(part: dict[str, Any]) -> str:
    model = f" ({part['model']})" if part.get("model") else ""
    return f"{part.get('name', '?')}{model} ×{part.get('quantity', 1)}"

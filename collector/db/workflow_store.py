"""SQL of the fault workflow: maintenance windows, suppressed firings, maintenance logs,
surveys, rule overrides and the device maintenance statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from roomwatch.collector.db.models import Device, Fault, Room, Site
from roomwatch.collector.db.scope import EVERY_SITE, SiteScope, rooms_in
from roomwatch.collector.db.workflow_models import (
    MaintenanceLog,
    MaintenanceWindow,
    RuleOverrideRow,
    SuppressedFiring,
    Survey,
)
from roomwatch.collector.errors import NotFoundError

# --- places -----------------------------------------------------------------------------


def room_site(session: Session, room_id: str) -> tuple[str | None, str | None]:
    """(site id, site time zone) of a room; (None, None) for an unknown room."""
    row = session.execute(
        select(Site.id, Site.timezone).join(Room, Room.site_id == Site.id).where(Room.id == room_id)
    ).first()
    return (row[0], row[1]) if row else (None, None)


def site_timezone(session: Session, site_id: str) -> str | None:
    site = session.get(Site, site_id)
    return site.timezone if site is not None else None


# --- maintenance windows ------------------------------------------------------------------


def windows_for(session: Session, site_id: str | None, room_id: str) -> Sequence[MaintenanceWindow]:
    """Enabled windows scoped to the room (or a device in it) or to its site."""
    scope = MaintenanceWindow.room_id == room_id
    if site_id is not None:
        scope = scope | (
            (MaintenanceWindow.site_id == site_id) & MaintenanceWindow.room_id.is_(None)
        )
    query = select(MaintenanceWindow).where(MaintenanceWindow.enabled.is_(True), scope)
    return list(session.scalars(query.order_by(MaintenanceWindow.id)))


def list_windows(
    session: Session,
    site_id: str | None = None,
    room_id: str | None = None,
    sites: SiteScope = EVERY_SITE,
) -> list[MaintenanceWindow]:
    query = select(MaintenanceWindow).order_by(MaintenanceWindow.id)
    if sites is not None:  # a window names its site or its room
        query = query.where(
            MaintenanceWindow.site_id.in_(sorted(sites))
            | MaintenanceWindow.room_id.in_(rooms_in(sites))
        )
    if site_id is not None:
        query = query.where(MaintenanceWindow.site_id == site_id)
    if room_id is not None:
        query = query.where(MaintenanceWindow.room_id == room_id)
    return list(session.scalars(query))


def get_window(session: Session, window_id: int) -> MaintenanceWindow:
    window = session.get(MaintenanceWindow, window_id)
    if window is None:
        raise NotFoundError(f"maintenance window {window_id} does not exist")
    return window


def add_window(
    session: Session, fields: dict[str, Any], actor: str, at: datetime
) -> MaintenanceWindow:
    window = MaintenanceWindow(**fields, created_by=actor, created_at=at)
    session.add(window)
    session.flush()
    return window


def update_window(window: MaintenanceWindow, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        setattr(window, key, value)


def delete_window(session: Session, window: MaintenanceWindow) -> None:
    """Delete a window; what fired inside it keeps its record (the link is cleared)."""
    for firing in session.scalars(
        select(SuppressedFiring).where(SuppressedFiring.window_id == window.id)
    ):
        firing.window_id = None
    session.delete(window)


def check_scope(session: Session, site_id: str | None, room_id: str | None) -> None:
    """NotFoundError when the site or room of a window does not exist."""
    if site_id is not None and session.get(Site, site_id) is None:
        raise NotFoundError(f"site {site_id!r} does not exist")
    if room_id is not None and session.get(Room, room_id) is None:
        raise NotFoundError(f"room {room_id!r} does not exist")


# --- suppressed firings -------------------------------------------------------------------


def find_suppressed(session: Session, open_key: str) -> SuppressedFiring | None:
    return session.scalar(select(SuppressedFiring).where(SuppressedFiring.open_key == open_key))


def add_suppressed(session: Session, **fields: Any) -> SuppressedFiring:
    firing = SuppressedFiring(fire_count=1, **fields)
    session.add(firing)
    session.flush()
    return firing


def end_suppressed(
    firing: SuppressedFiring, at: datetime, outcome: str, fault_id: int | None = None
) -> None:
    firing.open_key = None
    firing.ended_at = at
    firing.outcome = outcome
    firing.fault_id = fault_id


def list_suppressed(
    session: Session,
    *,
    room_id: str | None = None,
    root_fault_id: int | None = None,
    window_id: int | None = None,
    active: bool | None = None,
    limit: int = 200,
    sites: SiteScope = EVERY_SITE,
) -> list[SuppressedFiring]:
    query = select(SuppressedFiring).order_by(SuppressedFiring.id.desc())
    if sites is not None:
        query = query.where(SuppressedFiring.room_id.in_(rooms_in(sites)))
    if room_id is not None:
        query = query.where(SuppressedFiring.room_id == room_id)
    if root_fault_id is not None:
        query = query.where(SuppressedFiring.root_fault_id == root_fault_id)
    if window_id is not None:
        query = query.where(SuppressedFiring.window_id == window_id)
    if active is not None:
        query = query.where(
            SuppressedFiring.open_key.is_not(None)
            if active
            else SuppressedFiring.open_key.is_(None)
        )
    return list(session.scalars(query.limit(limit)))


# --- maintenance log and surveys ---------------------------------------------------------


def get_log(session: Session, fault_id: int) -> MaintenanceLog | None:
    return session.scalar(select(MaintenanceLog).where(MaintenanceLog.fault_id == fault_id))


def save_log(
    session: Session, fault_id: int, fields: dict[str, Any], actor: str, at: datetime
) -> MaintenanceLog:
    """Create or replace the fault's maintenance log."""
    entry = get_log(session, fault_id)
    if entry is None:
        entry = MaintenanceLog(fault_id=fault_id, recorded_by=actor, recorded_at=at, updated_at=at)
        session.add(entry)
    for key, value in fields.items():
        setattr(entry, key, value)
    entry.updated_at = at
    session.flush()
    return entry


def delete_log(session: Session, fault_id: int) -> bool:
    """Remove the fault's maintenance log; False when it had none."""
    entry = get_log(session, fault_id)
    if entry is None:
        return False
    session.delete(entry)
    session.flush()
    return True


def get_survey(session: Session, fault_id: int) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.fault_id == fault_id))


def add_survey(session: Session, fault_id: int, reason: str, at: datetime) -> Survey:
    survey = Survey(fault_id=fault_id, reason=reason, due_at=at, comment="")
    session.add(survey)
    session.flush()
    return survey


def list_surveys(
    session: Session, state: Literal["due", "sent", "answered", "all"]
) -> list[Survey]:
    query = select(Survey).order_by(Survey.due_at.desc())
    if state == "due":
        query = query.where(Survey.sent_at.is_(None))
    elif state == "sent":
        query = query.where(Survey.sent_at.is_not(None), Survey.answered_at.is_(None))
    elif state == "answered":
        query = query.where(Survey.answered_at.is_not(None))
    return list(session.scalars(query))


# --- rule overrides -----------------------------------------------------------------------


def list_rule_overrides(session: Session) -> list[RuleOverrideRow]:
    query = select(RuleOverrideRow).order_by(RuleOverrideRow.rule_id, RuleOverrideRow.site_id)
    return list(session.scalars(query))


def rule_overrides_signature(session: Session) -> tuple[int, datetime | None]:
    """Changes whenever an override is added, changed or removed (count, newest change)."""
    row = session.execute(
        select(func.count(RuleOverrideRow.id), func.max(RuleOverrideRow.updated_at))
    ).one()
    return int(row[0]), row[1]


def save_rule_override(
    session: Session, rule_id: str, site_id: str, changes: dict[str, Any], actor: str, at: datetime
) -> RuleOverrideRow:
    row = session.scalar(
        select(RuleOverrideRow).where(
            RuleOverrideRow.rule_id == rule_id, RuleOverrideRow.site_id == site_id
        )
    )
    if row is None:
        row = RuleOverrideRow(rule_id=rule_id, site_id=site_id)
        session.add(row)
    row.changes = changes
    row.updated_by = actor
    row.updated_at = at
    session.flush()
    return row


def delete_rule_override(session: Session, rule_id: str, site_id: str) -> None:
    row = session.scalar(
        select(RuleOverrideRow).where(
            RuleOverrideRow.rule_id == rule_id, RuleOverrideRow.site_id == site_id
        )
    )
    if row is None:
        raise NotFoundError(f"no override of rule {rule_id!r} for site {site_id!r}")
    session.delete(row)


# --- device maintenance statistics -------------------------------------------------------

GroupBy = Literal["device", "model", "room"]


@dataclass(frozen=True)
class MaintenanceStat:
    """Faults of one device / model / room opened in a period (the inspection report's
    statistics of maintained devices)."""

    key: str
    room_id: str | None
    device: str | None
    kind: str | None
    model: str | None
    faults: int
    by_level: dict[int, int]
    closed: int
    with_log: int
    parts_replaced: int
    downtime_s: float


def maintenance_statistics(
    session: Session,
    start: datetime,
    end: datetime,
    group_by: GroupBy = "device",
    site_id: str | None = None,
    room_id: str | None = None,
    sites: SiteScope = EVERY_SITE,
) -> list[MaintenanceStat]:
    """Faults opened in [start, end) grouped by device, model or room, most faults first.

    Downtime is the sum of (resolved − opened) of the faults resolved so far, in seconds.
    """
    query = _stats_query(start, end, site_id, room_id)
    if sites is not None:
        query = query.where(Fault.room_id.in_(rooms_in(sites)))
    rows = session.execute(query).all()
    groups: dict[str, dict[str, Any]] = {}
    for fault, device, kind, model, log_parts in rows:
        key, room, dev = _group_key(group_by, fault, device, model)
        group = groups.setdefault(
            key,
            {
                "key": key,
                "room_id": room,
                "device": dev,
                "kind": kind if group_by != "room" else None,
                "model": model if group_by != "room" else None,
                "faults": 0,
                "by_level": {},
                "closed": 0,
                "with_log": 0,
                "parts_replaced": 0,
                "downtime_s": 0.0,
            },
        )
        group["faults"] += 1
        group["by_level"][fault.level] = group["by_level"].get(fault.level, 0) + 1
        group["closed"] += int(fault.status == "closed")
        if log_parts is not None:
            group["with_log"] += 1
            group["parts_replaced"] += len(log_parts)
        if fault.resolved_at is not None:
            group["downtime_s"] += (fault.resolved_at - fault.opened_at).total_seconds()
    stats = [MaintenanceStat(**g) for g in groups.values()]
    return sorted(stats, key=lambda s: (-s.faults, s.key))


def _stats_query(
    start: datetime, end: datetime, site_id: str | None, room_id: str | None
) -> Select[Any]:
    query = (
        select(Fault, Device.device, Device.kind, Device.model, MaintenanceLog.parts_replaced)
        .outerjoin(Device, Fault.device_id == Device.id)
        .outerjoin(MaintenanceLog, MaintenanceLog.fault_id == Fault.id)
        .where(Fault.opened_at >= start, Fault.opened_at < end)
    )
    if room_id is not None:
        query = query.where(Fault.room_id == room_id)
    if site_id is not None:
        query = query.join(Room, Room.id == Fault.room_id).where(Room.site_id == site_id)
    return query.order_by(Fault.id)


def _group_key(
    group_by: GroupBy, fault: Fault, device: str | None, model: str | None
) -> tuple[str, str | None, str | None]:
    if group_by == "room":
        return fault.room_id or "-", fault.room_id, None
    if group_by == "model":
        return model or "(unknown model)", None, None
    name = device or (fault.target.split("/", 2)[1] if "/" in fault.target else fault.target)
    return f"{fault.room_id}/{name}", fault.room_id, name

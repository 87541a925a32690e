"""SQL of faults and fault events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from roomwatch.collector.db.models import Device, Fault, FaultEvent, Room, Site
from roomwatch.collector.errors import NotFoundError

ACTIVE_STATUSES = ("open", "acknowledged", "on_site", "waiting_customer", "waiting_parts")
SYSTEM_ACTOR = "roomwatch"


def find_active(session: Session, open_key: str) -> Fault | None:
    return session.scalar(select(Fault).where(Fault.open_key == open_key))


def get_fault(session: Session, fault_id: int, *, lock: bool = False) -> Fault:
    """The fault, or NotFoundError; ``lock`` takes a row lock (PostgreSQL) for an update."""
    query = select(Fault).where(Fault.id == fault_id)
    if lock:
        query = query.with_for_update()
    fault = session.scalar(query)
    if fault is None:
        raise NotFoundError(f"fault {fault_id} does not exist")
    return fault


def active_keys(session: Session, key_prefix: str | None = None) -> Sequence[str]:
    query = select(Fault.open_key).where(Fault.open_key.is_not(None))
    if key_prefix is not None:
        query = query.where(Fault.open_key.startswith(key_prefix, autoescape=True))
    return [key for key in session.scalars(query) if key is not None]


def active_by_rules(session: Session, room_id: str, rule_ids: Iterable[str]) -> list[Fault]:
    """Active rule faults of a room whose rule is one of ``rule_ids``."""
    ids = list(rule_ids)
    if not ids:
        return []
    query = select(Fault).where(
        Fault.room_id == room_id, Fault.open_key.is_not(None), Fault.rule_id.in_(ids)
    )
    return list(session.scalars(query))


def transitions_since(session: Session, rule_id: str, target: str, since: datetime) -> int:
    """Openings plus resolutions of (rule, target) at or after ``since`` (flap detection)."""
    same = (Fault.rule_id == rule_id, Fault.target == target)
    opened = session.scalar(select(func.count()).where(*same, Fault.opened_at >= since)) or 0
    resolved = session.scalar(select(func.count()).where(*same, Fault.resolved_at >= since)) or 0
    return int(opened) + int(resolved)


def changes_since(session: Session, fault_id: int, since: datetime) -> int:
    """The fault's openings, resolutions and reopenings at or after ``since`` (flapping)."""
    query = select(func.count()).where(
        FaultEvent.fault_id == fault_id,
        FaultEvent.type.in_(("opened", "resolved", "reopened")),
        FaultEvent.at >= since,
    )
    return int(session.scalar(query) or 0)


def last_resolved(session: Session, fault_key: str, since: datetime) -> Fault | None:
    """The latest fault of ``fault_key`` resolved (not closed) at or after ``since``."""
    query = (
        select(Fault)
        .where(Fault.fault_key == fault_key, Fault.status == "resolved", Fault.resolved_at >= since)
        .order_by(Fault.resolved_at.desc(), Fault.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def latest_by_key(session: Session, fault_key: str) -> Fault | None:
    """The most recent fault of ``fault_key``, whatever its status."""
    query = select(Fault).where(Fault.fault_key == fault_key).order_by(Fault.id.desc()).limit(1)
    return session.scalar(query)


def resolved_by_rules(
    session: Session, room_id: str, rule_ids: Iterable[str], since: datetime
) -> list[Fault]:
    """Faults of a room's ``rule_ids`` resolved at or after ``since`` (recovery grace)."""
    ids = list(rule_ids)
    if not ids:
        return []
    query = select(Fault).where(
        Fault.room_id == room_id,
        Fault.rule_id.in_(ids),
        Fault.status == "resolved",
        Fault.resolved_at >= since,
    )
    return list(session.scalars(query.order_by(Fault.resolved_at)))


def open_fault(session: Session, *, open_key: str | None, at: datetime, **fields: Any) -> Fault:
    """Insert an active fault; if another writer opened the same key first, return theirs.

    The ``opened`` event is added by the caller (``collector.workflow``), who knows the actor.
    """
    fault = Fault(
        open_key=open_key,
        fault_key=open_key,
        status="open",
        opened_at=at,
        last_seen_at=at,
        fire_count=1,
        **fields,
    )
    try:
        with session.begin_nested():
            session.add(fault)
            session.flush()
    except IntegrityError:
        existing = find_active(session, open_key) if open_key is not None else None
        if existing is None:
            raise
        return existing
    return fault


def touch_fault(
    fault: Fault, at: datetime, evidence: dict[str, Any], title: str | None = None
) -> None:
    """The condition fired again on an open fault: its title and evidence follow the
    latest value (the opening value stays in the ``opened`` event)."""
    if at > fault.last_seen_at:
        fault.last_seen_at = at
    fault.fire_count += 1
    fault.evidence = evidence
    if title is not None:
        fault.title = title[:300]


def reopen(fault: Fault, at: datetime) -> None:
    """A resolved fault's incident is back: active again under its key."""
    fault.status = "open"
    fault.open_key = fault.fault_key
    fault.resolved_at = None
    fault.clear_since = None
    fault.last_seen_at = max(fault.last_seen_at, at)
    fault.fire_count += 1


def mark_resolved(fault: Fault, at: datetime) -> None:
    """The fault stops being active: resolved at ``at``; its (rule, target) may open again."""
    fault.status = "resolved"
    fault.resolved_at = at
    fault.open_key = None
    fault.clear_since = None


def add_event(
    session: Session,
    fault: Fault,
    at: datetime,
    kind: str,
    detail: dict[str, Any],
    actor: str = SYSTEM_ACTOR,
) -> FaultEvent:
    event = FaultEvent(fault=fault, at=at, type=kind, actor=actor, detail=detail)
    session.add(event)
    return event


def has_event(session: Session, fault_id: int, kind: str) -> bool:
    query = select(FaultEvent.id).where(FaultEvent.fault_id == fault_id, FaultEvent.type == kind)
    return session.scalar(query.limit(1)) is not None


def events_of(session: Session, fault_id: int) -> list[FaultEvent]:
    query = select(FaultEvent).where(FaultEvent.fault_id == fault_id).order_by(FaultEvent.id)
    return list(session.scalars(query))


def device_pk(session: Session, room_id: str, device: str) -> int | None:
    return session.scalar(
        select(Device.id).where(Device.room_id == room_id, Device.device == device)
    )


def device_kind(session: Session, room_id: str, device: str) -> tuple[str, str | None] | None:
    """(kind, model) of a room's device, None when the room has no such device."""
    row = session.execute(
        select(Device.kind, Device.model).where(Device.room_id == room_id, Device.device == device)
    ).first()
    return (row[0], row[1]) if row else None


def room_timetable(session: Session, room_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """The room's timetable as stored (its own, else its site's; None: none) and the site's
    time zone (None: the collector's)."""
    row = session.execute(
        select(Room.timetable, Site.timetable, Site.timezone)
        .join(Site, Room.site_id == Site.id)
        .where(Room.id == room_id)
    ).one_or_none()
    if row is None:
        return None, None
    return row[0] or row[1], row[2]


def room_devices(session: Session, room_id: str) -> list[tuple[str, str | None]]:
    """(device id, parent) of every device of a room (the room graph's links)."""
    rows = session.execute(
        select(Device.device, Device.parent).where(Device.room_id == room_id)
    ).all()
    return [(device, parent) for device, parent in rows]


def search_text(query_text: str) -> Any:
    """A WHERE clause matching a fault's title or target (case-insensitive)."""
    like = f"%{query_text.lower()}%"
    return or_(func.lower(Fault.title).like(like), func.lower(Fault.target).like(like))

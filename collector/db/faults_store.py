"""SQL of faults and fault events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.db.models import Fault, FaultEvent

ACTIVE_STATUSES = ("open", "acknowledged", "on_site", "waiting_customer", "waiting_parts")
SYSTEM_ACTOR = "roomwatch"


def find_active(session: Session, open_key: str) -> Fault | None:
    return session.scalar(select(Fault).where(Fault.open_key == open_key))


def active_keys(session: Session, key_prefix: str | None = None) -> Sequence[str]:
    query = select(Fault.open_key).where(Fault.open_key.is_not(None))
    if key_prefix is not None:
        query = query.where(Fault.open_key.startswith(key_prefix, autoescape=True))
    return [key for key in session.scalars(query) if key is not None]


def open_fault(session: Session, *, open_key: str, at: datetime, **fields: Any) -> Fault:
    """Insert an active fault; if another writer opened the same key first, return theirs."""
    fault = Fault(
        open_key=open_key, status="open", opened_at=at, last_seen_at=at, fire_count=1, **fields
    )
    try:
        with session.begin_nested():
            session.add(fault)
            session.flush()
    except IntegrityError:
        existing = find_active(session, open_key)
        if existing is None:
            raise
        return existing
    add_event(session, fault, at, "opened", {"level": fault.level, "evidence": fault.evidence})
    return fault


def touch_fault(fault: Fault, at: datetime, evidence: dict[str, Any]) -> None:
    """The condition fired again on an open fault."""
    if at > fault.last_seen_at:
        fault.last_seen_at = at
    fault.fire_count += 1
    fault.evidence = evidence


def resolve_fault(
    session: Session, fault: Fault, at: datetime, reason: str, actor: str = SYSTEM_ACTOR
) -> None:
    """Auto-resolution: the condition cleared; the recovery time is recorded."""
    fault.status = "resolved"
    fault.resolved_at = at
    fault.open_key = None
    add_event(session, fault, at, "resolved", {"reason": reason}, actor)


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

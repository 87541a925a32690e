"""SQL of the spare stock ledger: what a fault's log took, movements in and out, the
procured counts the quota is computed from, and where a site's spare fault is placed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from roomwatch.collector.db.followup_models import SpareMovement
from roomwatch.collector.db.models import Device, Room
from roomwatch.collector.db.report_models import SpareStock


def stock_row(
    session: Session, site_id: str, model: str, *, lock: bool = False
) -> SpareStock | None:
    query = select(SpareStock).where(SpareStock.site_id == site_id, SpareStock.model == model)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def taken_by_fault(session: Session, fault_id: int) -> dict[tuple[str, str], int]:
    """(site, model) → spares the fault's log has taken from stock so far (net)."""
    query = (
        select(SpareMovement.site_id, SpareMovement.model, func.sum(SpareMovement.delta))
        .where(
            SpareMovement.fault_id == fault_id,
            SpareMovement.reason.in_(("taken", "returned")),
        )
        .group_by(SpareMovement.site_id, SpareMovement.model)
    )
    return {(site, model): -int(total or 0) for site, model, total in session.execute(query)}


def add_movement(
    session: Session,
    *,
    site_id: str,
    model: str,
    delta: int,
    reason: str,
    actor: str,
    at: datetime,
    fault_id: int | None = None,
    note: str = "",
) -> SpareMovement:
    row = SpareMovement(
        site_id=site_id,
        model=model,
        delta=delta,
        reason=reason,
        fault_id=fault_id,
        actor=actor,
        at=at,
        note=note,
    )
    session.add(row)
    session.flush()
    return row


def movements(
    session: Session, site_id: str, model: str | None = None, limit: int = 200, offset: int = 0
) -> Sequence[SpareMovement]:
    """A site's movements, newest first."""
    query = select(SpareMovement).where(SpareMovement.site_id == site_id)
    if model is not None:
        query = query.where(SpareMovement.model == model)
    query = query.order_by(SpareMovement.at.desc(), SpareMovement.id.desc())
    return session.scalars(query.limit(limit).offset(offset)).all()


def procured_by_model(session: Session, site_id: str) -> dict[str, int]:
    """model → devices of the site counted as procured (the inventory's ``procured: true``)."""
    query = (
        select(Device.model, func.count())
        .join(Room, Room.id == Device.room_id)
        .where(Room.site_id == site_id, Device.model.is_not(None), Device.procured.is_(True))
        .group_by(Device.model)
    )
    return {str(model): int(n) for model, n in session.execute(query)}


def room_for_model(session: Session, site_id: str, model: str) -> str | None:
    """The room a site's spare fault of ``model`` is filed under: the first room (by id)
    holding such a device, else the site's first room. A fault lives in a room, and the
    room is what carries its site to scoping, SLA policy and contacts."""
    with_model = select(func.min(Room.id)).join(Device, Device.room_id == Room.id)
    found = session.scalar(with_model.where(Room.site_id == site_id, Device.model == model))
    if found is None:
        found = session.scalar(select(func.min(Room.id)).where(Room.site_id == site_id))
    return found


def sites_of_models(session: Session) -> dict[str, set[str]]:
    """site → models it stocks (every row of the spare stock)."""
    found: dict[str, set[str]] = defaultdict(set)
    for site_id, model in session.execute(select(SpareStock.site_id, SpareStock.model)):
        found[site_id].add(model)
    return dict(found)

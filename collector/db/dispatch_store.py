"""SQL of dispatch: duty shifts, assignees, readiness runs, and what the Today view loads."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from roomwatch.collector.db import faults_store
from roomwatch.collector.db.dialect import upsert_insert
from roomwatch.collector.db.dispatch_models import DutyShift, ReadinessRun
from roomwatch.collector.db.faults_store import ACTIVE_STATUSES
from roomwatch.collector.db.models import (
    Agent,
    Device,
    DeviceState,
    Fault,
    RollupHourly,
    Room,
    Site,
)
from roomwatch.collector.db.sla_models import SlaClock, SlaContact
from roomwatch.collector.errors import NotFoundError

SiteScope = Collection[str] | None
"""The sites a caller may see; None: every site."""


def _in_scope(site_id: str, allowed: SiteScope) -> bool:
    return allowed is None or site_id in allowed


# ---------------------------------------------------------------- sites


def sites(session: Session, allowed: SiteScope = None) -> list[Site]:
    query = select(Site).order_by(Site.id)
    if allowed is not None:
        query = query.where(Site.id.in_(list(allowed)))
    return list(session.scalars(query))


def get_site(session: Session, site_id: str, allowed: SiteScope = None) -> Site:
    """The site; NotFoundError when it does not exist or is outside ``allowed``."""
    site = session.get(Site, site_id)
    if site is None or not _in_scope(site_id, allowed):
        raise NotFoundError(f"no site {site_id!r}")
    return site


# ---------------------------------------------------------------- duty shifts


def shifts_of(session: Session, site_id: str) -> list[DutyShift]:
    query = select(DutyShift).where(DutyShift.site_id == site_id).order_by(DutyShift.id)
    return list(session.scalars(query))


def get_shift(session: Session, shift_id: int, allowed: SiteScope = None) -> DutyShift:
    shift = session.get(DutyShift, shift_id)
    if shift is None or not _in_scope(shift.site_id, allowed):
        raise NotFoundError(f"no duty shift {shift_id}")
    return shift


def save_shift(
    session: Session, site_id: str, fields: dict[str, Any], shift: DutyShift | None = None
) -> DutyShift:
    """Insert a shift (``shift`` None) or overwrite one; NotFoundError for a contact that
    does not exist."""
    contact_id = fields.get("contact_id")
    if contact_id is not None and session.get(SlaContact, contact_id) is None:
        raise NotFoundError(f"no SLA contact {contact_id}")
    if shift is None:
        shift = DutyShift(site_id=site_id)
        session.add(shift)
    for name, value in fields.items():
        setattr(shift, name, value)
    session.flush()
    return shift


def delete_shift(session: Session, shift: DutyShift) -> None:
    session.delete(shift)


def person_contacts(session: Session, site_id: str | None, person: str) -> list[SlaContact]:
    """How ``person`` is reached: the contacts their shifts at the site name, then SLA
    contacts named like them (the site's own, or those for every site)."""
    found: dict[int, SlaContact] = {}
    if site_id is not None:
        linked = select(DutyShift.contact_id).where(
            DutyShift.site_id == site_id,
            DutyShift.person == person,
            DutyShift.contact_id.is_not(None),
        )
        for contact in session.scalars(
            select(SlaContact).where(SlaContact.id.in_(linked)).order_by(SlaContact.id)
        ):
            found[contact.id] = contact
    named = select(SlaContact).where(SlaContact.name == person)
    named = named.where(
        or_(SlaContact.site_id.is_(None), SlaContact.site_id == site_id)
        if site_id is not None
        else SlaContact.site_id.is_(None)
    )
    for contact in session.scalars(named.order_by(SlaContact.id)):
        found.setdefault(contact.id, contact)
    return list(found.values())


def set_assignee(
    session: Session, fault: Fault, person: str | None, actor: str, at: datetime
) -> bool:
    """Assign (or unassign with None) and record it; False when nothing changed."""
    if fault.assignee == person:
        return False
    detail = {"from": fault.assignee, "to": person}
    fault.assignee = person
    faults_store.add_event(session, fault, at, "assigned", detail, actor)
    return True


# ---------------------------------------------------------------- readiness runs


def readiness_run(session: Session, site_id: str, day: date) -> ReadinessRun | None:
    return session.get(ReadinessRun, (site_id, day))


def claim_readiness_run(
    session: Session, site_id: str, day: date, at: datetime, rooms: list[str]
) -> ReadinessRun | None:
    """Record the day's check; None when it was already recorded (by an earlier run, or by
    another collector at the same moment)."""
    insert = upsert_insert(session, ReadinessRun.__table__)  # type: ignore[arg-type]
    statement = insert.values(
        site_id=site_id, day=day, ran_at=at, not_ready=len(rooms), rooms=rooms, recipients=0
    ).on_conflict_do_nothing(index_elements=["site_id", "day"])
    if session.execute(statement).rowcount == 0:  # type: ignore[attr-defined]
        return None
    return session.get(ReadinessRun, (site_id, day))


def readiness_runs(session: Session, site_id: str, limit: int = 30) -> Sequence[ReadinessRun]:
    query = select(ReadinessRun).where(ReadinessRun.site_id == site_id)
    return session.scalars(query.order_by(ReadinessRun.day.desc()).limit(limit)).all()


# ---------------------------------------------------------------- what Today loads


@dataclass
class RoomFacts:
    """What decides whether a room's lesson is at risk, loaded once per request."""

    room: Room
    devices: list[Device] = field(default_factory=list)
    states: dict[int, DeviceState] = field(default_factory=dict)
    agents: list[Agent] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    # fault id → (clock kind, deadline) of the earliest running SLA clock
    deadlines: dict[int, tuple[str, datetime]] = field(default_factory=dict)
    # device id → metric key → [(hour, avg)] over the recent hours
    history: dict[int, dict[str, list[tuple[datetime, float]]]] = field(default_factory=dict)


def room_facts(session: Session, site_id: str, now: datetime, history_h: float) -> list[RoomFacts]:
    rooms = session.scalars(select(Room).where(Room.site_id == site_id).order_by(Room.id))
    facts = {room.id: RoomFacts(room) for room in rooms}
    if not facts:
        return []
    room_ids = list(facts)
    for device in session.scalars(select(Device).where(Device.room_id.in_(room_ids))):
        facts[device.room_id].devices.append(device)
        if device.state is not None:
            facts[device.room_id].states[device.id] = device.state
    for agent in session.scalars(select(Agent).where(Agent.room_id.in_(room_ids))):
        if agent.room_id is not None:
            facts[agent.room_id].agents.append(agent)
    faults = list(
        session.scalars(
            select(Fault)
            .where(Fault.room_id.in_(room_ids), Fault.status.in_(ACTIVE_STATUSES))
            .order_by(Fault.level, Fault.opened_at)
        )
    )
    clocks = session.scalars(
        select(SlaClock)
        .where(SlaClock.fault_id.in_([f.id for f in faults]), SlaClock.stopped_at.is_(None))
        .order_by(SlaClock.deadline_at)
    )
    deadlines: dict[int, tuple[str, datetime]] = {}
    for clock in clocks:
        deadlines.setdefault(clock.fault_id, (clock.kind, clock.deadline_at))
    for fault in faults:
        if fault.room_id is not None:
            facts[fault.room_id].faults.append(fault)
            if fault.id in deadlines:
                facts[fault.room_id].deadlines[fault.id] = deadlines[fault.id]
    _load_storage_history(session, facts, now - timedelta(hours=history_h))
    return list(facts.values())


def _load_storage_history(session: Session, facts: dict[str, RoomFacts], since: datetime) -> None:
    room_of = {d.id: room_id for room_id, f in facts.items() for d in f.devices}
    if not room_of:
        return
    rows = session.execute(
        select(
            RollupHourly.device_id,
            RollupHourly.metric,
            RollupHourly.hour,
            RollupHourly.sum,
            RollupHourly.count,
        )
        .where(
            RollupHourly.device_id.in_(list(room_of)),
            RollupHourly.hour >= since,
            or_(
                RollupHourly.metric.like("disk.used_pct%"),
                RollupHourly.metric.like("storage.used_pct%"),
            ),
        )
        .order_by(RollupHourly.hour)
    )
    for device_id, metric, hour, total, count in rows:
        if count:
            history = facts[room_of[device_id]].history.setdefault(device_id, {})
            history.setdefault(metric, []).append((hour, total / count))

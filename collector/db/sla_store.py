"""SQL of the SLA engine and the notification outbox."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from roomwatch.collector.db.dialect import upsert_insert
from roomwatch.collector.db.models import Base, Device, Fault, Room, Site
from roomwatch.collector.db.sla_models import (
    OUTBOX_FAILED,
    OUTBOX_PENDING,
    OUTBOX_SENT,
    OutboxMessage,
    SlaCalendarOverride,
    SlaClock,
    SlaContact,
    SlaEscalation,
    SlaPolicy,
    SlaPolicyDeadline,
    SlaSetting,
    SlaSitePolicy,
)
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.notify.base import Notification
from roomwatch.collector.sla.calendar import Override
from roomwatch.collector.sla.errors import PolicyError
from roomwatch.collector.sla.policies import KINDS, ContactDoc, PolicyDoc, PolicyFile

DEFAULT_POLICY_KEY = "default_policy"
_KIND_ORDER: dict[str, int] = {kind: n for n, kind in enumerate(KINDS)}
_DEDUPE_MAX = 200

# ---------------------------------------------------------------- policies


def policy_doc(row: SlaPolicy) -> PolicyDoc:
    """A policy row (with its deadline rows) as the document the API and files use."""
    levels: dict[str, dict[str, Any]] = {}
    in_order = sorted(row.deadlines, key=lambda d: (d.level, _KIND_ORDER.get(d.kind, 9)))
    for deadline in in_order:
        levels.setdefault(f"L{deadline.level}", {})[deadline.kind] = {
            "within": _span_text(deadline),
            "starts": deadline.starts,
        }
    return PolicyDoc.model_validate(
        {
            "id": row.id,
            "name": row.name,
            "description": row.description,
            "working_hours": row.working_hours,
            "levels": levels,
            "escalation": row.escalation,
            "notify_on": row.notify_on,
        }
    )


def get_policy(session: Session, policy_id: str) -> PolicyDoc | None:
    row = session.get(SlaPolicy, policy_id)
    return None if row is None else policy_doc(row)


def list_policies(session: Session) -> list[tuple[PolicyDoc, SlaPolicy]]:
    rows = session.scalars(select(SlaPolicy).order_by(SlaPolicy.id))
    return [(policy_doc(row), row) for row in rows]


def put_policy(session: Session, doc: PolicyDoc, at: datetime, by: str, source: str) -> bool:
    """Insert or replace a policy and its deadlines; True when it was new."""
    row = session.get(SlaPolicy, doc.id)
    created = row is None
    if row is None:
        row = SlaPolicy(id=doc.id)
        session.add(row)
    dumped = doc.model_dump(mode="json")
    row.name = doc.name
    row.description = doc.description
    row.working_hours = dumped["working_hours"]
    row.escalation = dumped["escalation"]
    row.notify_on = dumped["notify_on"]
    row.source = source
    row.updated_at = at
    row.updated_by = by
    row.deadlines.clear()
    session.flush()
    for level, deadlines in doc.levels.items():
        for kind, spec in deadlines.items():
            row.deadlines.append(
                SlaPolicyDeadline(
                    level=int(level[1]),
                    kind=kind,
                    amount=spec.within.amount,
                    unit=spec.within.unit,
                    measure=spec.within.measure,
                    starts=spec.starts,
                )
            )
    session.flush()
    return created


def delete_policy(session: Session, policy_id: str) -> None:
    """Remove a policy no site and no default uses; PolicyError says who still uses it."""
    row = session.get(SlaPolicy, policy_id)
    if row is None:
        raise PolicyError(f"no SLA policy {policy_id!r}")
    if default_policy_id(session) == policy_id:
        raise PolicyError(f"SLA policy {policy_id!r} is the default policy")
    sites = list(
        session.scalars(select(SlaSitePolicy.site_id).where(SlaSitePolicy.policy_id == policy_id))
    )
    if sites:
        raise PolicyError(f"SLA policy {policy_id!r} is used by sites: {', '.join(sites)}")
    session.delete(row)
    session.flush()


def default_policy_id(session: Session) -> str | None:
    setting = session.get(SlaSetting, DEFAULT_POLICY_KEY)
    return None if setting is None else setting.value


def set_default_policy(session: Session, policy_id: str) -> None:
    if session.get(SlaPolicy, policy_id) is None:
        raise PolicyError(f"no SLA policy {policy_id!r}")
    setting = session.get(SlaSetting, DEFAULT_POLICY_KEY)
    if setting is None:
        session.add(SlaSetting(key=DEFAULT_POLICY_KEY, value=policy_id))
    else:
        setting.value = policy_id
    session.flush()


# ---------------------------------------------------------------- sites


def site_policy_id(session: Session, site_id: str) -> str | None:
    row = session.get(SlaSitePolicy, site_id)
    return None if row is None else row.policy_id


def list_site_policies(session: Session) -> Sequence[SlaSitePolicy]:
    return session.scalars(select(SlaSitePolicy).order_by(SlaSitePolicy.site_id)).all()


def set_site_policy(
    session: Session, site_id: str, policy_id: str, note: str, at: datetime, by: str
) -> SlaSitePolicy:
    if session.get(Site, site_id) is None:
        raise PolicyError(f"no site {site_id!r} in the inventory")
    if session.get(SlaPolicy, policy_id) is None:
        raise PolicyError(f"no SLA policy {policy_id!r}")
    row = session.get(SlaSitePolicy, site_id)
    if row is None:
        row = SlaSitePolicy(site_id=site_id)
        session.add(row)
    row.policy_id, row.note, row.updated_at, row.updated_by = policy_id, note, at, by
    session.flush()
    return row


def sites_overview(session: Session) -> list[tuple[str, str, str | None]]:
    """Every site of the inventory: (id, name, mapped policy id or None)."""
    rows = session.execute(
        select(Site.id, Site.name, SlaSitePolicy.policy_id)
        .outerjoin(SlaSitePolicy, SlaSitePolicy.site_id == Site.id)
        .order_by(Site.id)
    )
    return [(site_id, name, policy_id) for site_id, name, policy_id in rows]


def delete_site_policy(session: Session, site_id: str) -> bool:
    result = session.execute(delete(SlaSitePolicy).where(SlaSitePolicy.site_id == site_id))
    return bool(getattr(result, "rowcount", 0))


def fault_site(session: Session, fault: Fault) -> tuple[str | None, str | None]:
    """The site of a fault's room and that site's time zone (None when unknown)."""
    if fault.room_id is None:
        return None, None
    row = session.execute(
        select(Site.id, Site.timezone)
        .join(Room, Room.site_id == Site.id)
        .where(Room.id == fault.room_id)
    ).first()
    return (None, None) if row is None else (row[0], row[1])


@dataclass(frozen=True)
class FaultPlace:
    """Where a fault is, in the words of its notifications: school, room, device, model,
    and the language the site reads."""

    site_id: str | None = None
    site_name: str | None = None
    language: str = "zh-CN"
    room_name: str | None = None
    device: str | None = None
    device_model: str | None = None


def fault_place(session: Session, fault: Fault) -> FaultPlace:
    """The school, room and device of a fault (what is unknown stays None)."""
    site_id = site_name = room_name = device = model = None
    language = "zh-CN"
    if fault.room_id is not None:
        row = session.execute(
            select(Site.id, Site.name, Site.language, Room.name)
            .join(Room, Room.site_id == Site.id)
            .where(Room.id == fault.room_id)
        ).first()
        if row is not None:
            site_id, site_name, language, room_name = row
    found = None
    if fault.device_id is not None:
        found = session.get(Device, fault.device_id)
    elif fault.room_id is not None and fault.target.count("/") >= 1:
        # A fault placed by target only (room/device[/table{...}]): its device by that id.
        found = session.scalars(
            select(Device).where(
                Device.room_id == fault.room_id, Device.device == fault.target.split("/")[1]
            )
        ).first()
    if found is not None:
        device, model = found.device, found.model
    return FaultPlace(site_id, site_name, language or "zh-CN", room_name, device, model)


def site_timezone(session: Session, site_id: str) -> str:
    """The site's time zone; NotFoundError for an unknown site."""
    site = session.get(Site, site_id)
    if site is None:
        raise NotFoundError(f"no site {site_id!r}")
    return site.timezone or "Asia/Shanghai"


# ---------------------------------------------------------------- calendar overrides


def calendar_overrides(session: Session) -> dict[date, Override]:
    rows = session.scalars(select(SlaCalendarOverride))
    return {row.day: Override(row.working, row.note) for row in rows}


def list_overrides(
    session: Session, first: date | None = None, last: date | None = None
) -> Sequence[SlaCalendarOverride]:
    query = select(SlaCalendarOverride).order_by(SlaCalendarOverride.day)
    if first is not None:
        query = query.where(SlaCalendarOverride.day >= first)
    if last is not None:
        query = query.where(SlaCalendarOverride.day <= last)
    return session.scalars(query).all()


def put_override(
    session: Session, day: date, working: bool, note: str, at: datetime, by: str
) -> SlaCalendarOverride:
    row = session.get(SlaCalendarOverride, day)
    if row is None:
        row = SlaCalendarOverride(day=day)
        session.add(row)
    row.working, row.note, row.updated_at, row.updated_by = working, note, at, by
    session.flush()
    return row


def delete_override(session: Session, day: date) -> bool:
    result = session.execute(delete(SlaCalendarOverride).where(SlaCalendarOverride.day == day))
    return bool(getattr(result, "rowcount", 0))


# ---------------------------------------------------------------- contacts


def contacts_for(session: Session, role: str, site_id: str | None) -> list[SlaContact]:
    """The people of ``role`` for a site: the site's own, else those for every site."""
    if site_id is not None:
        own = list(
            session.scalars(
                select(SlaContact)
                .where(SlaContact.role == role, SlaContact.site_id == site_id)
                .order_by(SlaContact.id)
            )
        )
        if own:
            return own
    return list(
        session.scalars(
            select(SlaContact)
            .where(SlaContact.role == role, SlaContact.site_id.is_(None))
            .order_by(SlaContact.id)
        )
    )


def list_contacts(session: Session) -> Sequence[SlaContact]:
    return session.scalars(select(SlaContact).order_by(SlaContact.role, SlaContact.id)).all()


def put_contact(session: Session, doc: ContactDoc, contact_id: int | None = None) -> SlaContact:
    """Create a contact, or replace the one with ``contact_id``."""
    if doc.site is not None and session.get(Site, doc.site) is None:
        raise PolicyError(f"no site {doc.site!r} in the inventory")
    row = None if contact_id is None else session.get(SlaContact, contact_id)
    if contact_id is not None and row is None:
        raise PolicyError(f"no contact {contact_id}")
    if row is None:
        row = SlaContact()
        session.add(row)
    row.name, row.role, row.site_id = doc.name, doc.role, doc.site
    row.email, row.phone, row.channels, row.note = doc.email, doc.phone, doc.channels, doc.note
    session.flush()
    return row


def delete_contact(session: Session, contact_id: int) -> bool:
    result = session.execute(delete(SlaContact).where(SlaContact.id == contact_id))
    return bool(getattr(result, "rowcount", 0))


# ---------------------------------------------------------------- loading a file


@dataclass
class SyncReport:
    policies: list[str] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)
    overrides: int = 0
    contacts: int = 0
    skipped: list[str] = field(default_factory=list)


def sync_policy_file(
    session: Session, data: PolicyFile, at: datetime, *, authoritative: bool, by: str = "file"
) -> SyncReport:
    """Write an SLA file to SQL. The shipped file (``authoritative=False``) only adds what
    is missing, so admins' edits survive restarts; a site's own file wins for every policy,
    site, date and contact (by name, role and site) it names."""
    report = SyncReport()
    for doc in data.policies:
        if authoritative or session.get(SlaPolicy, doc.id) is None:
            put_policy(session, doc, at, by, "file")
            report.policies.append(doc.id)
    if data.default_policy is not None and (authoritative or default_policy_id(session) is None):
        set_default_policy(session, data.default_policy)
    for mapping in data.sites:
        if session.get(Site, mapping.site) is None:
            report.skipped.append(f"sites: {mapping.site}: not in the inventory")
            continue
        set_site_policy(session, mapping.site, mapping.policy, mapping.note, at, by)
        report.sites.append(mapping.site)
    for override in data.calendar_overrides:
        put_override(session, override.date, override.working, override.note, at, by)
        report.overrides += 1
    for contact in data.contacts:
        if contact.site is not None and session.get(Site, contact.site) is None:
            report.skipped.append(f"contacts: {contact.name}: site {contact.site} unknown")
            continue
        existing = session.scalar(
            select(SlaContact.id).where(
                SlaContact.name == contact.name,
                SlaContact.role == contact.role,
                SlaContact.site_id.is_(None)
                if contact.site is None
                else SlaContact.site_id == contact.site,
            )
        )
        put_contact(session, contact, existing)
        report.contacts += 1
    return report


# ---------------------------------------------------------------- clocks


def clocks_of(session: Session, fault_id: int) -> list[SlaClock]:
    """A fault's clocks: respond, on_site, fix, replace (those it has)."""
    rows = session.scalars(select(SlaClock).where(SlaClock.fault_id == fault_id))
    return sorted(rows, key=lambda c: (_KIND_ORDER.get(c.kind, 9), c.id))


def add_clock(session: Session, **fields: Any) -> SlaClock | None:
    """Insert a clock; None when the fault already has one of that kind."""
    new_id = _insert_unless_exists(
        session, SlaClock, {"paused_total_s": 0.0, **fields}, ["fault_id", "kind"]
    )
    return None if new_id is None else session.get(SlaClock, new_id)


def running_clocks(session: Session) -> list[tuple[SlaClock, Fault]]:
    """Clocks neither stopped nor paused, with their faults (oldest deadline first)."""
    rows = session.execute(
        select(SlaClock, Fault)
        .join(Fault, Fault.id == SlaClock.fault_id)
        .where(SlaClock.stopped_at.is_(None), SlaClock.paused_at.is_(None))
        .order_by(SlaClock.deadline_at, SlaClock.id)
    )
    return [(clock, fault) for clock, fault in rows]


def unstopped_clocks(session: Session) -> list[SlaClock]:
    """Clocks not stopped (running or paused): those a calendar change can move."""
    return list(session.scalars(select(SlaClock).where(SlaClock.stopped_at.is_(None))))


# ---------------------------------------------------------------- escalations


def record_escalation(session: Session, **fields: Any) -> SlaEscalation | None:
    """Insert an escalation step; None when its ``step_key`` was recorded before."""
    new_id = _insert_unless_exists(session, SlaEscalation, {"notified": 0, **fields}, ["step_key"])
    return None if new_id is None else session.get(SlaEscalation, new_id)


def escalations_of(session: Session, fault_id: int) -> list[SlaEscalation]:
    return list(
        session.scalars(
            select(SlaEscalation)
            .where(SlaEscalation.fault_id == fault_id)
            .order_by(SlaEscalation.id)
        )
    )


def highest_rank(session: Session, fault_id: int) -> int | None:
    return session.scalar(
        select(func.max(SlaEscalation.rank)).where(SlaEscalation.fault_id == fault_id)
    )


# ---------------------------------------------------------------- outbox


def outbox_add(session: Session, notification: Notification) -> int:
    """Insert a message in the caller's transaction; an existing ``dedupe_key`` wins."""
    key = notification.dedupe_key
    if key is not None and len(key) > _DEDUPE_MAX:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    values = {
        "channel": notification.channel,
        "recipient": notification.recipient,
        "subject": notification.subject[:300],
        "body": notification.body,
        "data": notification.data,
        "dedupe_key": key,
        "fault_id": notification.fault_id,
        "status": OUTBOX_PENDING,
        "attempts": 0,
        "created_at": notification.at,
        "next_attempt_at": notification.at,
    }
    new_id = _insert_unless_exists(session, OutboxMessage, values, ["dedupe_key"])
    if new_id is not None:
        return new_id
    existing = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key))
    assert existing is not None
    return existing


def outbox_claim_due(
    session: Session, now: datetime, limit: int, lease: timedelta
) -> list[OutboxMessage]:
    """Take up to ``limit`` due messages: their next attempt moves ``lease`` ahead, so
    another sender skips them, and a sender that dies leaves them to be retried."""
    rows = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == OUTBOX_PENDING, OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for row in rows:
        row.next_attempt_at = now + lease
    session.flush()
    return rows


def outbox_release(session: Session, message_id: int, at: datetime) -> None:
    """Give a claimed message back untouched (e.g. its channel is rate limited)."""
    row = session.get(OutboxMessage, message_id)
    if row is not None and row.status == OUTBOX_PENDING:
        row.next_attempt_at = at


def outbox_sent(session: Session, message_id: int, at: datetime) -> None:
    row = session.get(OutboxMessage, message_id)
    if row is not None:
        row.status, row.sent_at, row.attempts = OUTBOX_SENT, at, row.attempts + 1
        row.last_error = None


def outbox_failed(session: Session, message_id: int, error: str, retry_at: datetime | None) -> int:
    """Record a failed attempt; ``retry_at`` None gives up. Returns the attempts so far."""
    row = session.get(OutboxMessage, message_id)
    if row is None:
        return 0
    row.attempts += 1
    row.last_error = error
    if retry_at is None:
        row.status = OUTBOX_FAILED
    else:
        row.next_attempt_at = retry_at
    return row.attempts


def outbox_messages(
    session: Session, fault_id: int | None = None, status: str | None = None
) -> Sequence[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if fault_id is not None:
        query = query.where(OutboxMessage.fault_id == fault_id)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return session.scalars(query).all()


def _insert_unless_exists(
    session: Session, model: type[Base], values: dict[str, Any], unique: list[str]
) -> int | None:
    """INSERT .. ON CONFLICT DO NOTHING RETURNING id: the new id, or None when a row with
    the same ``unique`` columns exists. No savepoint: on SQLite (pysqlite) a SAVEPOINT that
    opens the transaction would commit on release, outside the caller's transaction."""
    session.flush()
    table = cast(Table, model.__table__)
    statement = (
        upsert_insert(session, table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=unique)
        .returning(table.c.id)
    )
    return session.execute(statement).scalar_one_or_none()


def _span_text(deadline: SlaPolicyDeadline) -> str:
    working = "working " if deadline.measure == "working" else ""
    return f"{deadline.amount:g} {working}{deadline.unit}"

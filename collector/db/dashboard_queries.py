"""Read queries of the web dashboard (``collector/web``), beside the API's ``queries``.

The grid, room, device and fault pages reuse ``queries`` for rooms and faults; what only the
pages need lives here: site time zones, one device by its room id, fault periods to shade on
a chart, hourly rollups of a device, fault history with the board's filters, a fault's events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, inspect, or_, select
from sqlalchemy.orm import Session

from roomwatch.collector.db.models import (
    Device,
    DeviceState,
    Fault,
    FaultEvent,
    RollupHourly,
    Room,
    Site,
)
from roomwatch.collector.db.queries import (
    CLOSED_STATUSES,
    FaultPage,
    FaultStatusFilter,
    FaultView,
    _device_view,
    _fault_view,
)
from roomwatch.collector.db.scope import EVERY_SITE, SiteScope, rooms_in
from roomwatch.collector.errors import NotFoundError


@dataclass(frozen=True)
class SiteView:
    id: str
    name: str
    timezone: str | None


@dataclass(frozen=True)
class FaultPeriod:
    """When a fault was active, for shading a chart; ``resolved_at`` None = still active."""

    id: int
    level: int
    title: str
    opened_at: datetime
    resolved_at: datetime | None
    rule_id: str = ""
    device_pk: int | None = None  # None: a fault of the room's agent


@dataclass(frozen=True)
class RollupPoint:
    hour: datetime
    count: int
    avg: float
    min: float
    max: float


@dataclass(frozen=True)
class FaultEventView:
    at: datetime
    type: str
    actor: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class FaultDetail:
    fault: FaultView
    evidence: dict[str, Any]
    events: list[FaultEventView]


@dataclass(frozen=True)
class FaultFilter:
    """The fault board's history filters; None means any."""

    status: FaultStatusFilter = "all"
    site_id: str | None = None
    room_id: str | None = None
    level: int | None = None
    device: str | None = None
    opened_from: datetime | None = None
    opened_until: datetime | None = None
    text: str | None = None
    sites: SiteScope = EVERY_SITE  # the reader's sites (collector.db.scope)


def sites(session: Session) -> list[SiteView]:
    """Every site with its time zone (None: the collector's default)."""
    rows = session.scalars(select(Site).order_by(Site.name, Site.id))
    return [SiteView(site.id, site.name, site.timezone) for site in rows]


def room_sites(session: Session) -> dict[str, str]:
    """room id → site id."""
    return {room: site for room, site in session.execute(select(Room.id, Room.site_id))}


def device_with_key(session: Session, room_id: str, device: str) -> tuple[int, Any]:
    """(primary key, DeviceView) of one device of a room; NotFoundError when absent."""
    row = session.execute(
        select(Device, DeviceState)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .where(Device.room_id == room_id, Device.device == device)
    ).first()
    if row is None:
        raise NotFoundError(f"device {device!r} of room {room_id!r} does not exist")
    return row[0].id, _device_view(row[0], row[1])


def fault_periods(
    session: Session, room_id: str, device_pk: int | None, start: datetime, end: datetime
) -> list[FaultPeriod]:
    """Faults of a device (and the room's agent faults, which hide every device) that were
    active at some time in [start, end], oldest first."""
    about: ColumnElement[bool] = Fault.device_id.is_(None)
    if device_pk is not None:
        about = or_(Fault.device_id == device_pk, about)
    query = (
        select(Fault)
        .where(
            Fault.room_id == room_id,
            about,
            Fault.opened_at <= end,
            or_(Fault.resolved_at.is_(None), Fault.resolved_at >= start),
        )
        .order_by(Fault.opened_at, Fault.id)
    )
    return [
        FaultPeriod(
            f.id,
            f.level,
            f.title,
            f.opened_at,
            f.resolved_at,
            f.rule_id,
            f.device_id,
        )
        for f in session.scalars(query)
    ]


def rollups(
    session: Session,
    device_pk: int,
    start: datetime,
    end: datetime,
    metrics: Sequence[str] | None = None,
) -> dict[str, list[RollupPoint]]:
    """metric key → hourly points of one device in [start, end], oldest first."""
    query = select(RollupHourly).where(
        RollupHourly.device_id == device_pk, RollupHourly.hour >= start, RollupHourly.hour <= end
    )
    if metrics is not None:
        query = query.where(RollupHourly.metric.in_(list(metrics)))
    by_metric: dict[str, list[RollupPoint]] = defaultdict(list)
    for row in session.scalars(query.order_by(RollupHourly.metric, RollupHourly.hour)):
        avg = row.sum / row.count if row.count else 0.0
        by_metric[row.metric].append(RollupPoint(row.hour, row.count, avg, row.min, row.max))
    return dict(by_metric)


def rollup_metric_keys(session: Session, device_pk: int, since: datetime) -> list[str]:
    """Every metric key a device has hourly rollups for since ``since``."""
    query = (
        select(RollupHourly.metric)
        .where(RollupHourly.device_id == device_pk, RollupHourly.hour >= since)
        .distinct()
        .order_by(RollupHourly.metric)
    )
    return list(session.scalars(query))


def room_rollups(
    session: Session, room_id: str, start: datetime, metrics: Sequence[str]
) -> dict[str, dict[str, list[RollupPoint]]]:
    """device id → metric key → hourly points since ``start``, for a room's sparklines."""
    query = (
        select(Device.device, RollupHourly)
        .join(RollupHourly, RollupHourly.device_id == Device.id)
        .where(
            Device.room_id == room_id,
            RollupHourly.hour >= start,
            RollupHourly.metric.in_(list(metrics)),
        )
        .order_by(Device.device, RollupHourly.metric, RollupHourly.hour)
    )
    out: dict[str, dict[str, list[RollupPoint]]] = defaultdict(lambda: defaultdict(list))
    for device, row in session.execute(query):
        avg = row.sum / row.count if row.count else 0.0
        out[device][row.metric].append(RollupPoint(row.hour, row.count, avg, row.min, row.max))
    return {device: dict(metrics_) for device, metrics_ in out.items()}


def worst_open_faults(session: Session, sites: SiteScope = EVERY_SITE) -> dict[str, FaultView]:
    """room id → its most urgent open fault (lowest level, then oldest), of the rooms of
    the ``sites`` in scope."""
    query = (
        select(Fault, Device.device)
        .outerjoin(Device, Fault.device_id == Device.id)
        .where(Fault.status.not_in(CLOSED_STATUSES), Fault.room_id.is_not(None))
        .order_by(Fault.level, Fault.opened_at, Fault.id)
    )
    if sites is not None:
        query = query.where(Fault.room_id.in_(rooms_in(sites)))
    worst: dict[str, FaultView] = {}
    for fault, device in session.execute(query):
        assert fault.room_id is not None
        worst.setdefault(fault.room_id, _fault_view(fault, device))
    return worst


def open_faults(session: Session, sites: SiteScope = EVERY_SITE) -> list[FaultView]:
    """Every open fault (neither resolved nor closed) the ``sites`` in scope see (a fault
    of no room only with every site)."""
    query = (
        select(Fault, Device.device)
        .outerjoin(Device, Fault.device_id == Device.id)
        .where(Fault.status.not_in(CLOSED_STATUSES))
        .order_by(Fault.level, Fault.opened_at, Fault.id)
    )
    if sites is not None:
        query = query.where(Fault.room_id.in_(rooms_in(sites)))
    return [_fault_view(fault, device) for fault, device in session.execute(query)]


def fault_history(
    session: Session, filters: FaultFilter, limit: int = 50, offset: int = 0
) -> FaultPage:
    """Faults matching the board's filters, newest first."""
    query = _filtered(filters)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(Fault.opened_at.desc(), Fault.id.desc()).limit(limit).offset(offset)
    )
    return FaultPage(total=total, items=[_fault_view(fault, device) for fault, device in rows])


def fault_detail(session: Session, fault_id: int) -> FaultDetail:
    """One fault with its evidence and every event, oldest first."""
    row = session.execute(
        select(Fault, Device.device)
        .outerjoin(Device, Fault.device_id == Device.id)
        .where(Fault.id == fault_id)
    ).first()
    if row is None:
        raise NotFoundError(f"fault {fault_id} does not exist")
    fault, device = row
    events = session.scalars(
        select(FaultEvent).where(FaultEvent.fault_id == fault_id).order_by(FaultEvent.id)
    )
    return FaultDetail(
        fault=_fault_view(fault, device),
        evidence=dict(fault.evidence or {}),
        events=[FaultEventView(e.at, e.type, e.actor, dict(e.detail or {})) for e in events],
    )


@dataclass(frozen=True)
class WindowView:
    id: int
    name: str
    reason: str
    kind: str
    scope: str  # "site", "room" or "device"
    device: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    weekdays: list[int]
    start_time: str | None
    end_time: str | None
    date_from: date | None
    date_to: date | None


def maintenance_windows(session: Session, room_id: str, site_id: str) -> list[WindowView] | None:
    """Enabled maintenance windows that cover a room (its own, its devices', its site's);
    None when the schema has no maintenance windows yet."""
    if not has_table(session, "maintenance_windows"):
        return None
    from roomwatch.collector.db.workflow_models import MaintenanceWindow as W

    query = (
        select(W)
        .where(
            W.enabled.is_(True),
            or_(W.room_id == room_id, (W.site_id == site_id) & W.room_id.is_(None)),
        )
        .order_by(W.kind, W.id)
    )
    return [
        WindowView(
            id=w.id,
            name=w.name,
            reason=w.reason,
            kind=w.kind,
            scope="device" if w.device else "room" if w.room_id else "site",
            device=w.device,
            starts_at=w.starts_at,
            ends_at=w.ends_at,
            weekdays=list(w.weekdays or []),
            start_time=w.start_time,
            end_time=w.end_time,
            date_from=w.date_from,
            date_to=w.date_to,
        )
        for w in session.scalars(query)
    ]


def password_users(session: Session) -> int:
    """How many active users can sign in with a password (0 on a schema without users);
    token-only users are programs, not people."""
    if not has_table(session, "users"):
        return 0
    from roomwatch.collector.db.workflow_models import User

    query = select(func.count()).where(User.active.is_(True), User.password_hash.is_not(None))
    return session.scalar(query) or 0


def fault_evidence(session: Session, fault_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """fault id → its evidence, for the pages that word faults in the reader's language."""
    if not fault_ids:
        return {}
    query = select(Fault.id, Fault.evidence).where(Fault.id.in_(list(fault_ids)))
    return {fault_id: dict(evidence or {}) for fault_id, evidence in session.execute(query)}


def has_table(session: Session, name: str) -> bool:
    """Whether the schema holds ``name`` (pages show optional sections only when it does)."""
    return bool(inspect(session.connection()).has_table(name))


def _filtered(filters: FaultFilter) -> Select:
    query = select(Fault, Device.device).outerjoin(Device, Fault.device_id == Device.id)
    if filters.status == "open":
        query = query.where(Fault.status.not_in(CLOSED_STATUSES))
    elif filters.status == "closed":
        query = query.where(Fault.status.in_(CLOSED_STATUSES))
    if filters.site_id:
        query = query.join(Room, Fault.room_id == Room.id).where(Room.site_id == filters.site_id)
    if filters.room_id:
        query = query.where(Fault.room_id == filters.room_id)
    if filters.sites is not None:
        query = query.where(Fault.room_id.in_(rooms_in(filters.sites)))
    if filters.level:
        query = query.where(Fault.level == filters.level)
    if filters.device:
        query = query.where(Device.device == filters.device)
    if filters.opened_from:
        query = query.where(Fault.opened_at >= filters.opened_from)
    if filters.opened_until:
        query = query.where(Fault.opened_at < filters.opened_until)
    if filters.text:
        pattern = f"%{filters.text}%"
        query = query.where(or_(Fault.title.ilike(pattern), Fault.target.ilike(pattern)))
    return query

"""Read queries for the API: rooms with their state, one room in detail, faults.

Results are plain frozen dataclasses; the API turns them into its response schemas. A room
list costs four statements whatever the number of rooms.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, case, func, or_, select, text
from sqlalchemy.orm import Session

from roomwatch.collector.db.models import Agent, Device, DeviceState, Fault, Room, Site
from roomwatch.collector.db.scope import EVERY_SITE, SiteScope, narrow, rooms_in
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.rules.model import FlapPolicy

# A fault is open until it is resolved (automatically or by hand) or closed with its log.
CLOSED_STATUSES = ("resolved", "closed")
FaultStatusFilter = Literal["open", "closed", "all"]


@dataclass(frozen=True)
class AgentView:
    id: str
    online: bool
    last_seen_at: datetime | None
    status_changed_at: datetime | None
    version: str | None
    hostname: str | None


@dataclass(frozen=True)
class RoomSummary:
    id: str
    name: str
    building: str | None
    site_id: str
    site_name: str
    agents: list[AgentView]
    device_count: int
    unreachable_count: int
    open_fault_count: int
    worst_open_level: int | None


@dataclass(frozen=True)
class DeviceStateView:
    reachable: bool
    rtt_ms: float | None
    error: str | None
    sampled_at: datetime
    metrics: dict[str, Any]
    tables: dict[str, Any]


@dataclass(frozen=True)
class DeviceView:
    id: str
    kind: str
    model: str | None
    vendor: str | None
    firmware: str | None
    address: str | None
    parent: str | None
    procured: bool
    source: str
    state: DeviceStateView | None


@dataclass(frozen=True)
class FaultView:
    id: int
    rule_id: str
    target: str
    room_id: str | None
    device: str | None
    agent_id: str | None
    level: int
    status: str
    title: str
    description: str
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    fire_count: int
    source: str = "rule"
    flapping: bool = False
    # A flapping fault clear since some time resolves then, unless it fires again.
    held_until: datetime | None = None
    assignee: str | None = None
    remote_sessions: int = 0
    on_site_visits: int = 0


@dataclass(frozen=True)
class RoomDetail:
    room: RoomSummary
    devices: list[DeviceView]
    open_faults: list[FaultView]


@dataclass(frozen=True)
class FaultPage:
    total: int
    items: list[FaultView]


def ping(session: Session) -> None:
    """Raise if the database does not answer."""
    session.execute(text("SELECT 1"))


def list_rooms(
    session: Session, site_id: str | None = None, sites: SiteScope = EVERY_SITE
) -> list[RoomSummary]:
    """Every room (of one site, of the ``sites`` in scope) with agents, device counts and
    its worst open fault level.

    Four column queries whatever the number of rooms, scoped by a join on the site rather
    than by lists of room ids (1,000-item IN lists dominated the time of this call).
    """
    query = (
        select(Room.id, Room.name, Room.building, Room.site_id, Site.name)
        .join(Site)
        .order_by(Room.site_id, Room.id)
    )
    if site_id is not None:
        query = query.where(Room.site_id == site_id)
    rows = session.execute(narrow(query, Room.site_id, sites)).all()
    scope = _Scope(site_id=site_id)
    agents = _agents_by_room(session, scope)
    devices = _device_counts(session, scope)
    faults = _open_fault_stats(session, scope)
    return [
        _summary(row, agents.get(row[0], []), devices.get(row[0]), faults.get(row[0]))
        for row in rows
    ]


def get_room(session: Session, room_id: str) -> RoomDetail:
    """One room with every device's latest state and the room's open faults."""
    row = session.execute(
        select(Room.id, Room.name, Room.building, Room.site_id, Site.name)
        .join(Site)
        .where(Room.id == room_id)
    ).first()
    if row is None:
        raise NotFoundError(f"room {room_id!r} does not exist")
    scope = _Scope(room_id=room_id)
    summary = _summary(
        row,
        _agents_by_room(session, scope).get(room_id, []),
        _device_counts(session, scope).get(room_id),
        _open_fault_stats(session, scope).get(room_id),
    )
    devices = session.execute(
        select(Device, DeviceState)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .where(Device.room_id == room_id)
        .order_by(Device.device)
    )
    open_faults = _fault_views(session, _fault_query("open", room_id, None).order_by(*_NEWEST))
    return RoomDetail(
        room=summary,
        devices=[_device_view(device, state) for device, state in devices],
        open_faults=open_faults,
    )


def list_faults(
    session: Session,
    status: FaultStatusFilter = "all",
    room_id: str | None = None,
    level: int | None = None,
    limit: int = 50,
    offset: int = 0,
    *,
    exact_status: str | None = None,
    rule_id: str | None = None,
    source: str | None = None,
    flapping: bool | None = None,
    site_id: str | None = None,
    assignee: str | None = None,
    sites: SiteScope = EVERY_SITE,
    search: str | None = None,
) -> FaultPage:
    """Faults, newest first; ``status="open"`` means neither resolved nor closed;
    ``exact_status`` picks one life-cycle status (acknowledged, on_site, ...); ``search`` is
    part of the title or target, any case."""
    query = _fault_query(status, room_id, level)
    if exact_status is not None:
        query = query.where(Fault.status == exact_status)
    if rule_id is not None:
        query = query.where(Fault.rule_id == rule_id)
    if source is not None:
        query = query.where(Fault.source == source)
    if flapping is not None:
        query = query.where(Fault.flapping.is_(flapping))
    if site_id is not None:
        query = query.where(Fault.room_id.in_(select(Room.id).where(Room.site_id == site_id)))
    if assignee is not None:
        query = query.where(Fault.assignee == assignee)
    if sites is not None:
        query = query.where(Fault.room_id.in_(rooms_in(sites)))
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(Fault.title.ilike(pattern, escape="\\"), Fault.target.ilike(pattern, escape="\\"))
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = _fault_views(session, query.order_by(*_NEWEST).limit(limit).offset(offset))
    return FaultPage(total=total, items=items)


def open_faults_by_level(session: Session) -> dict[int, int]:
    """level → number of open faults (levels without any are absent)."""
    rows = session.execute(
        select(Fault.level, func.count())
        .where(Fault.status.not_in(CLOSED_STATUSES))
        .group_by(Fault.level)
    )
    return {level: count for level, count in rows}


def agents_online(session: Session) -> tuple[int, int]:
    """(agents online, agents placed in a room)."""
    online = func.sum(case((Agent.online.is_(True), 1), else_=0))
    row = session.execute(select(func.count(), online).where(Agent.room_id.is_not(None))).one()
    return int(row[1] or 0), int(row[0])


_NEWEST = (Fault.opened_at.desc(), Fault.id.desc())


def _fault_query(status: FaultStatusFilter, room_id: str | None, level: int | None) -> Select:
    query = select(Fault, Device.device).outerjoin(Device, Fault.device_id == Device.id)
    if status == "open":
        query = query.where(Fault.status.not_in(CLOSED_STATUSES))
    elif status == "closed":
        query = query.where(Fault.status.in_(CLOSED_STATUSES))
    if room_id is not None:
        query = query.where(Fault.room_id == room_id)
    if level is not None:
        query = query.where(Fault.level == level)
    return query


def _fault_views(session: Session, query: Select) -> list[FaultView]:
    return [_fault_view(fault, device) for fault, device in session.execute(query)]


@dataclass(frozen=True)
class _Scope:
    """Which rooms a summary query covers: all, one site's, or one room."""

    site_id: str | None = None
    room_id: str | None = None

    def apply(self, query: Select, room_column: Any) -> Select:
        if self.room_id is not None:
            return query.where(room_column == self.room_id)
        if self.site_id is not None:
            return query.join(Room, Room.id == room_column).where(Room.site_id == self.site_id)
        return query


def _agents_by_room(session: Session, scope: _Scope) -> dict[str, list[AgentView]]:
    by_room: dict[str, list[AgentView]] = defaultdict(list)
    query = select(
        Agent.room_id,
        Agent.id,
        Agent.online,
        Agent.last_seen_at,
        Agent.status_changed_at,
        Agent.version,
        Agent.hostname,
    ).where(Agent.room_id.is_not(None))
    query = scope.apply(query, Agent.room_id).order_by(Agent.id)
    for room_id, agent_id, online, seen, changed, version, hostname in session.execute(query):
        by_room[str(room_id)].append(AgentView(agent_id, online, seen, changed, version, hostname))
    return by_room


def _device_counts(session: Session, scope: _Scope) -> dict[str, tuple[int, int]]:
    unreachable = func.sum(case((DeviceState.reachable.is_(False), 1), else_=0))
    query = select(Device.room_id, func.count(Device.id), unreachable).outerjoin(
        DeviceState, DeviceState.device_id == Device.id
    )
    query = scope.apply(query, Device.room_id).group_by(Device.room_id)
    return {room: (int(total), int(down or 0)) for room, total, down in session.execute(query)}


def _open_fault_stats(session: Session, scope: _Scope) -> dict[str, tuple[int, int]]:
    query = select(Fault.room_id, func.count(Fault.id), func.min(Fault.level)).where(
        Fault.room_id.is_not(None), Fault.status.not_in(CLOSED_STATUSES)
    )
    query = scope.apply(query, Fault.room_id).group_by(Fault.room_id)
    return {str(room): (int(count), int(worst)) for room, count, worst in session.execute(query)}


def _summary(
    row: Any,
    agents: list[AgentView],
    devices: tuple[int, int] | None,
    faults: tuple[int, int] | None,
) -> RoomSummary:
    room_id, name, building, site_id, site_name = row
    return RoomSummary(
        id=room_id,
        name=name,
        building=building,
        site_id=site_id,
        site_name=site_name,
        agents=agents,
        device_count=devices[0] if devices else 0,
        unreachable_count=devices[1] if devices else 0,
        open_fault_count=faults[0] if faults else 0,
        worst_open_level=faults[1] if faults else None,
    )


def _device_view(device: Device, state: DeviceState | None) -> DeviceView:
    return DeviceView(
        id=device.device,
        kind=device.kind,
        model=device.model,
        vendor=device.vendor,
        firmware=device.firmware,
        address=device.address,
        parent=device.parent,
        procured=device.procured,
        source=device.source,
        state=None
        if state is None
        else DeviceStateView(
            reachable=state.reachable,
            rtt_ms=state.rtt_ms,
            error=state.error,
            sampled_at=state.sampled_at,
            metrics=dict(state.metrics),
            tables=dict(state.tables),
        ),
    )


def _held_until(fault: Fault) -> datetime | None:
    """When a held flapping fault resolves if it stays clear (the default hold time)."""
    if not fault.flapping or fault.clear_since is None or fault.open_key is None:
        return None
    return fault.clear_since + timedelta(seconds=FlapPolicy().hold_s)


def _fault_view(fault: Fault, device: str | None) -> FaultView:
    return FaultView(
        id=fault.id,
        rule_id=fault.rule_id,
        target=fault.target,
        room_id=fault.room_id,
        device=device,
        agent_id=fault.agent_id,
        level=fault.level,
        status=fault.status,
        title=fault.title,
        description=fault.description,
        opened_at=fault.opened_at,
        last_seen_at=fault.last_seen_at,
        resolved_at=fault.resolved_at,
        fire_count=fault.fire_count,
        source=fault.source,
        flapping=fault.flapping,
        held_until=_held_until(fault),
        assignee=fault.assignee,
        remote_sessions=fault.remote_sessions,
        on_site_visits=fault.on_site_visits,
    )

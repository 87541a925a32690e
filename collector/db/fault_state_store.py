"""Loading the fault decisions' room state (``collector.fault_room.RoomState``) from SQL.

A fixed number of statements for all the rooms a batch touches: rooms and sites, devices,
active and recently resolved faults, their state-change events, suppressed firings, guard
counts and maintenance windows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from roomwatch.collector.db.faults_store import SYSTEM_ACTOR
from roomwatch.collector.db.guard_models import FaultGuard
from roomwatch.collector.db.models import Device, Fault, FaultEvent, Room, Site
from roomwatch.collector.db.workflow_models import MaintenanceWindow, SuppressedFiring
from roomwatch.collector.fault_decide import GuardCount
from roomwatch.collector.fault_room import DeviceInfo, FaultView, FiringView, RoomState
from roomwatch.collector.graph import RoomGraph
from roomwatch.collector.timetable import Timetable

_CHANGES = ("opened", "resolved", "reopened")


def load_rooms(
    session: Session, room_ids: Iterable[str], at: datetime, horizon_s: float
) -> dict[str, RoomState]:
    """The state of each room at ``at``; faults resolved and state changes older than
    ``horizon_s`` before it (the longest reopen, flapping or grace window) are left out."""
    ids = sorted(set(room_ids))
    since = at - timedelta(seconds=horizon_s)
    rooms = {room_id: RoomState(room_id) for room_id in ids}
    if not ids:
        return rooms
    _rooms_and_sites(session, rooms)
    links: dict[str, list[tuple[str, str | None]]] = {room_id: [] for room_id in ids}
    for device in session.scalars(select(Device).where(Device.room_id.in_(ids))):
        links[device.room_id].append((device.device, device.parent))
        rooms[device.room_id].devices[device.device] = DeviceInfo(
            device.id, device.kind, device.model
        )
    for room_id, room_links in links.items():
        rooms[room_id].graph = RoomGraph.from_links(room_links)
    _faults(session, rooms, ids, since)
    for firing in session.scalars(
        select(SuppressedFiring).where(
            SuppressedFiring.room_id.in_(ids), SuppressedFiring.open_key.is_not(None)
        )
    ):
        if firing.room_id is not None and firing.open_key is not None:
            rooms[firing.room_id].suppressed[firing.open_key] = FiringView(
                firing.open_key, firing.reason, firing.root_fault_id, firing.window_id, firing.id
            )
    for row in session.scalars(select(FaultGuard).where(FaultGuard.room_id.in_(ids))):
        counts = rooms[row.room_id].guards.setdefault(row.open_key, {})
        counts[row.rule_id] = GuardCount(row.since, row.polls, row.history)
    _windows(session, rooms)
    return rooms


def _rooms_and_sites(session: Session, rooms: dict[str, RoomState]) -> None:
    query = (
        select(Room.id, Room.site_id, Room.timetable, Site.timetable, Site.timezone)
        .join(Site, Room.site_id == Site.id)
        .where(Room.id.in_(list(rooms)))
    )
    for room_id, site_id, own, sites, tz in session.execute(query):
        room = rooms[room_id]
        room.site_id, room.timezone = site_id, tz
        stored = own or sites
        room.timetable = None if stored is None else Timetable.model_validate(stored)


def _faults(session: Session, rooms: dict[str, RoomState], ids: list[str], since: datetime) -> None:
    """Active faults and the latest resolved one per key, with their recent changes and
    whether a person set their level."""
    query = select(Fault).where(
        Fault.room_id.in_(ids),
        or_(
            Fault.open_key.is_not(None),
            (Fault.status == "resolved") & (Fault.resolved_at >= since),
        ),
    )
    views: dict[int, FaultView] = {}
    for fault in session.scalars(query.order_by(Fault.id)):
        if fault.room_id is None or fault.fault_key is None:
            continue
        view = FaultView(
            key=fault.fault_key,
            rule_id=fault.rule_id,
            target=fault.target,
            level=fault.level,
            active=fault.open_key is not None,
            flapping=fault.flapping,
            clear_since=fault.clear_since,
            resolved_at=fault.resolved_at,
            id=fault.id,
        )
        views[fault.id] = view
        room = rooms[fault.room_id]
        if view.active:
            room.active[view.key] = view
        else:
            room.recent[view.key] = view  # ordered by id: the latest wins
    if not views:
        return
    events = select(FaultEvent.fault_id, FaultEvent.type, FaultEvent.at).where(
        FaultEvent.fault_id.in_(list(views)),
        or_(
            FaultEvent.type.in_(_CHANGES) & (FaultEvent.at >= since),
            (FaultEvent.type == "level_changed") & (FaultEvent.actor != SYSTEM_ACTOR),
        ),
    )
    for fault_id, kind, at in session.execute(events.order_by(FaultEvent.id)):
        if kind == "level_changed":
            views[fault_id].level_by_person = True
        else:
            views[fault_id].changes.append(at)


def _windows(session: Session, rooms: dict[str, RoomState]) -> None:
    """Enabled windows scoped to each room (or a device in it) or to its site."""
    sites = {room.site_id for room in rooms.values() if room.site_id is not None}
    query = select(MaintenanceWindow).where(
        MaintenanceWindow.enabled.is_(True),
        or_(
            MaintenanceWindow.room_id.in_(list(rooms)),
            MaintenanceWindow.site_id.in_(sites) & MaintenanceWindow.room_id.is_(None),
        ),
    )
    found: dict[str, list[MaintenanceWindow]] = {room_id: [] for room_id in rooms}
    for window in session.scalars(query.order_by(MaintenanceWindow.id)):
        for room in rooms.values():
            if window.room_id == room.room_id or (
                window.room_id is None and window.site_id == room.site_id
            ):
                found[room.room_id].append(window)
    for room_id, windows in found.items():
        rooms[room_id].windows = windows


__all__ = ["load_rooms"]

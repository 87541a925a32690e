"""The SQL side of the inventory file: upsert sites, rooms, agents and devices.

Every write is an ``INSERT .. ON CONFLICT`` so two collectors starting together against one
PostgreSQL cannot trip over each other, and running it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from roomwatch.collector.db import room_versions
from roomwatch.collector.db.dialect import chunks, upsert_insert
from roomwatch.collector.db.models import SOURCE_AGENT, SOURCE_INVENTORY, Agent, Device, Room, Site

if TYPE_CHECKING:
    from roomwatch.collector.inventory import Inventory

# The file's model, vendor and address replace stored ones only when the file gives them
# (an agent may have reported what the file leaves out). Kind, parent (the room graph that
# suppresses symptoms behind a failed parent) and procured are always the file's.
_DEVICE_FIELDS_KEPT_IF_UNSET = ("model", "vendor", "address")
_DEVICE_FIELDS_FROM_FILE = ("kind", "parent", "procured", "source")


@dataclass(frozen=True)
class SyncReport:
    """What the inventory holds after a sync, and what the sync took away."""

    sites: int
    rooms: int
    agents: int
    devices: int
    agents_unplaced: int
    devices_unlisted: int

    def __str__(self) -> str:
        text = (
            f"{self.sites} sites, {self.rooms} rooms, {self.agents} agents, {self.devices} devices"
        )
        if self.agents_unplaced or self.devices_unlisted:
            text += (
                f"; no longer listed: {self.agents_unplaced} agents (now without a room), "
                f"{self.devices_unlisted} devices (kept as agent-reported)"
            )
        return text


def apply_inventory(session: Session, inventory: Inventory) -> SyncReport:
    """Upsert the whole inventory; see ``collector.inventory.sync_inventory``."""
    sites = [
        {
            "id": s.id,
            "name": s.name,
            "timezone": s.timezone,
            "language": s.language,
            "timetable": _timetable(s),
        }
        for s in inventory.sites
    ]
    rooms = [
        {
            "id": r.id,
            "site_id": s.id,
            "name": r.name,
            "building": r.building,
            "timetable": _timetable(r),
        }
        for s, r in inventory.rooms()
    ]
    placed = inventory.agent_rooms()
    devices = [_device_row(room.id, d) for _, room in inventory.rooms() for d in room.devices]
    _upsert(session, Site, sites, ["id"], ["name", "timezone", "language", "timetable"])
    _upsert(session, Room, rooms, ["id"], ["site_id", "name", "building", "timetable"])
    agents = [{"id": a, "room_id": r, "online": False} for a, r in sorted(placed.items())]
    _upsert(session, Agent, agents, ["id"], ["room_id"])
    _upsert_devices(session, devices)
    report = SyncReport(
        sites=len(sites),
        rooms=len(rooms),
        agents=len(agents),
        devices=len(devices),
        agents_unplaced=_unplace_agents(session, set(placed)),
        devices_unlisted=_unlist_devices(session, inventory),
    )
    # Names, sites and placements may have moved anywhere; a sync is rare, so count all.
    room_versions.bump_every_room(session)
    return report


def _timetable(place: Any) -> dict[str, Any] | None:
    timetable = place.timetable
    return None if timetable is None else dict(timetable.model_dump(mode="json"))


def _device_row(room_id: str, device: Any) -> dict[str, Any]:
    return {
        "room_id": room_id,
        "device": device.id,
        "kind": device.kind,
        "model": device.model,
        "vendor": device.vendor,
        "address": device.address,
        "parent": device.parent,
        "procured": device.procured,
        "source": SOURCE_INVENTORY,
    }


def _upsert(
    session: Session, model: type[Any], rows: list[dict[str, Any]], keys: list[str], set_: list[str]
) -> None:
    if not rows:
        return
    insert = upsert_insert(session, model.__table__)
    statement = insert.on_conflict_do_update(
        index_elements=keys, set_={name: insert.excluded[name] for name in set_}
    )
    for chunk in chunks(rows):
        session.execute(statement.values(chunk))


def _upsert_devices(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = Device.__table__
    insert = upsert_insert(session, table)  # type: ignore[arg-type]
    new = insert.excluded
    set_: dict[str, Any] = {name: new[name] for name in _DEVICE_FIELDS_FROM_FILE}
    for name in _DEVICE_FIELDS_KEPT_IF_UNSET:
        set_[name] = func.coalesce(new[name], table.c[name])
    statement = insert.on_conflict_do_update(index_elements=["room_id", "device"], set_=set_)
    for chunk in chunks(rows):
        session.execute(statement.values(chunk))


def _unplace_agents(session: Session, listed: set[str]) -> int:
    placed = session.scalars(select(Agent.id).where(Agent.room_id.is_not(None)))
    gone = sorted(set(placed) - listed)
    if gone:
        session.execute(update(Agent).where(Agent.id.in_(gone)).values(room_id=None))
    return len(gone)


def _unlist_devices(session: Session, inventory: Inventory) -> int:
    listed = {(room.id, d.id) for _, room in inventory.rooms() for d in room.devices}
    rows = session.execute(
        select(Device.id, Device.room_id, Device.device).where(Device.source == SOURCE_INVENTORY)
    )
    gone = [row_id for row_id, room, device in rows if (room, device) not in listed]
    if gone:
        session.execute(update(Device).where(Device.id.in_(gone)).values(source=SOURCE_AGENT))
    return len(gone)

"""The inventory file: sites → rooms → agents and devices, the collector's source of truth.

The room an agent's samples belong to comes from here, never from a payload. The file is
validated strictly (unknown keys, duplicate ids and dangling parent links are errors naming
the file and the key) and written to SQL at every collector start by ``sync_inventory``.
The commented reference is ``examples/inventory.yaml``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from roomwatch.agent.errors import ConfigError
from roomwatch.agent.wire import AGENT_ID_PATTERN, DEVICE_ID_PATTERN, METRIC_NAME_PATTERN
from roomwatch.agent.yamlconfig import read_yaml, validate_model
from roomwatch.collector.db import inventory_store
from roomwatch.collector.db.inventory_store import SyncReport
from roomwatch.collector.db.session import Database
from roomwatch.collector.reports.signoff import SiteReportSettings
from roomwatch.collector.timetable import Timetable

log = logging.getLogger(__name__)

ObjectId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
AgentId = Annotated[str, Field(pattern=AGENT_ID_PATTERN)]
DeviceId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InventoryDevice(_Strict):
    """One device of a room; ``id`` is the id the room's agent uses for it."""

    id: DeviceId
    kind: Annotated[str, Field(pattern=METRIC_NAME_PATTERN)] = Field(
        description="host, camera, encoder, switch, ups, audio, projector, nas, ..."
    )
    model: Text | None = None
    vendor: Text | None = None
    address: Text | None = Field(default=None, description="IP address or host name.")
    parent: DeviceId | None = Field(
        default=None, description="The device this one depends on (switch port, UPS outlet)."
    )
    procured: bool = Field(default=True, description="Counted for spare stock (15 %).")


class InventoryRoom(_Strict):
    id: ObjectId
    name: Text
    building: Text | None = None
    agents: list[AgentId] = Field(default_factory=list, description="Usually exactly one.")
    devices: list[InventoryDevice] = Field(default_factory=list)
    timetable: Timetable | None = Field(default=None, description="Default: the site's.")

    @field_validator("devices")
    @classmethod
    def _devices_consistent(cls, devices: list[InventoryDevice]) -> list[InventoryDevice]:
        _raise_if(_device_problems(devices))
        return devices


class InventorySite(_Strict):
    id: ObjectId
    name: Text
    timezone: str | None = Field(default=None, description="IANA name; default: collector's.")
    language: Literal["zh-CN", "en"] = Field(
        default="zh-CN", description="What the site's people read: notifications' language."
    )
    timetable: Timetable | None = Field(
        default=None, description="When classes are held (collector.timetable)."
    )
    rooms: list[InventoryRoom] = Field(default_factory=list)
    report: SiteReportSettings = Field(
        default_factory=SiteReportSettings,
        description="Inspection report: school logo and the names on the sign-off block.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str | None) -> str | None:
        if name is None:
            return None
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone", "unknown time zone (expected an IANA name such as Asia/Shanghai)"
            ) from None
        return name


class Inventory(_Strict):
    sites: list[InventorySite] = Field(default_factory=list)

    @field_validator("sites")
    @classmethod
    def _ids_unique(cls, sites: list[InventorySite]) -> list[InventorySite]:
        _raise_if(_duplicate_problems(sites))
        return sites

    def rooms(self) -> Iterator[tuple[InventorySite, InventoryRoom]]:
        for site in self.sites:
            for room in site.rooms:
                yield site, room

    def agent_rooms(self) -> dict[str, str]:
        """agent id → room id."""
        return {agent: room.id for _, room in self.rooms() for agent in room.agents}


def load_inventory(path: Path) -> Inventory:
    """Read and validate an inventory file; raise ConfigError with file, key and reason.

    A site's report logo given as a relative path is relative to the file's folder."""
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys at the top, got {type(data).__name__}"
        )
    _resolve_logos(data, Path(path).parent)
    return validate_model(data, Inventory, source=str(path))


def _resolve_logos(data: dict[str, object], base: Path) -> None:
    sites = data.get("sites")
    for site in sites if isinstance(sites, list) else []:
        report = site.get("report") if isinstance(site, dict) else None
        logo = report.get("logo") if isinstance(report, dict) else None
        if isinstance(logo, str) and logo and not Path(logo).is_absolute():
            report["logo"] = str(base / logo)  # type: ignore[index]


def sync_inventory(db: Database, inventory: Inventory) -> SyncReport:
    """Write the inventory to SQL (idempotent; run at every collector start).

    Sites, rooms, agents and devices are upserted. An agent no longer listed loses its room
    (its messages are then refused as from an unknown agent); a device no longer listed is
    kept with its history and marked ``source="agent"``. Nothing is deleted.
    """
    with db.session() as session:
        report = inventory_store.apply_inventory(session, inventory)
    log.info("inventory synced: %s", report)
    return report


def _raise_if(problems: list[str]) -> None:
    if problems:
        raise PydanticCustomError("inventory", "; ".join(problems))


def _duplicate_problems(sites: list[InventorySite]) -> list[str]:
    problems = []
    site_ids = Counter(site.id for site in sites)
    rooms = [(s, r) for s in sites for r in s.rooms]
    room_ids = Counter(room.id for _, room in rooms)
    agent_ids = Counter(agent for _, room in rooms for agent in room.agents)
    problems += [f"site id {i!r} is used {n} times" for i, n in site_ids.items() if n > 1]
    problems += [f"room id {i!r} is used {n} times" for i, n in room_ids.items() if n > 1]
    for agent, count in agent_ids.items():
        if count > 1:
            where = [room.id for _, room in rooms if agent in room.agents]
            problems.append(
                f"agent id {agent!r} is listed {count} times (rooms {', '.join(where)})"
            )
    return problems


def _device_problems(devices: list[InventoryDevice]) -> list[str]:
    ids = Counter(device.id for device in devices)
    problems = [f"device id {i!r} is used {n} times" for i, n in ids.items() if n > 1]
    for device in devices:
        if device.parent == device.id:
            problems.append(f"device {device.id!r} is its own parent")
        elif device.parent is not None and device.parent not in ids:
            problems.append(f"device {device.id!r}: parent {device.parent!r} is not in this room")
    problems += _cycle_problems(devices)
    return problems


def _cycle_problems(devices: list[InventoryDevice]) -> list[str]:
    parent_of = {d.id: d.parent for d in devices if d.parent and d.parent != d.id}
    for start in parent_of:
        seen, node = {start}, parent_of.get(start)
        while node is not None:
            if node == start:
                return [f"parent links form a loop through device {start!r}"]
            if node in seen:
                break
            seen.add(node)
            node = parent_of.get(node)
    return []


__all__ = [
    "Inventory",
    "InventoryDevice",
    "InventoryRoom",
    "InventorySite",
    "SyncReport",
    "load_inventory",
    "sync_inventory",
]

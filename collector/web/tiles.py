"""A room's tile on the grid: its state (the colour) and the few facts it shows.

States, most urgent first: ``l1``..``l4`` (worst open fault level), ``offline`` (every agent
of the room is offline: nothing is watched, whatever faults are open), ``unmonitored`` (no
agent placed in the room), ``ok``. Offline and unmonitored rooms are grey: their state is
not known, which is not the same as healthy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from roomwatch.collector.db.queries import FaultView, RoomSummary
from roomwatch.collector.web.timefmt import iso, local

STATES = ("l1", "l2", "l3", "l4", "offline", "unmonitored", "ok")


def room_state(room: RoomSummary) -> str:
    if not room.agents:
        return "unmonitored"
    if not any(agent.online for agent in room.agents):
        return "offline"
    if room.worst_open_level is not None:
        return f"l{room.worst_open_level}"
    return "ok"


@dataclass(frozen=True)
class Tile:
    """What the grid shows of a room; also the JSON the live feed sends."""

    id: str
    name: str
    site_id: str
    site_name: str
    building: str
    state: str
    worst_level: int | None
    open_faults: int
    devices: int
    unreachable: int
    devices_up: int | None  # None while every agent is offline: not known, not "all up"
    agents_online: int
    agents: int
    last_seen: str
    last_seen_iso: str
    top_fault: str
    top_fault_level: int | None
    top_fault_flapping: bool = False
    # language → the top fault's title in it; the live feed serves readers of both
    top_fault_titles: dict[str, str] = field(default_factory=dict)

    def title_in(self, lang: str) -> str:
        """The top fault's title in ``lang`` (its stored title when the rule has no texts)."""
        return self.top_fault_titles.get(lang, self.top_fault)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def tile(
    room: RoomSummary,
    worst: FaultView | None,
    tz: ZoneInfo,
    titles: dict[str, str] | None = None,
) -> Tile:
    seen = [a.last_seen_at for a in room.agents if a.last_seen_at is not None]
    last_seen = max(seen) if seen else None
    state = room_state(room)
    # The devices' last states are stale once the agent is offline (Last Will or silence):
    # counting them as reachable would show "7/7" for a room nobody watches.
    known = state != "offline"
    return Tile(
        id=room.id,
        name=room.name,
        site_id=room.site_id,
        site_name=room.site_name,
        building=room.building or "",
        state=state,
        worst_level=room.worst_open_level,
        open_faults=room.open_fault_count,
        devices=room.device_count,
        unreachable=room.unreachable_count,
        devices_up=room.device_count - room.unreachable_count if known else None,
        agents_online=sum(1 for a in room.agents if a.online),
        agents=len(room.agents),
        last_seen=local(last_seen, tz, "%m-%d %H:%M:%S"),
        last_seen_iso=iso(last_seen),
        top_fault=worst.title if worst else "",
        top_fault_level=worst.level if worst else None,
        top_fault_flapping=bool(worst and worst.flapping),
        top_fault_titles=dict(titles or {}),
    )


def matches(t: Tile, site: str, building: str, state: str, text: str) -> bool:
    """The grid's filters: site id, building, state (``l1``.., ``faulty`` = any level,
    ``grey`` = offline or unmonitored), and a search in name, id and top fault."""
    if site and t.site_id != site:
        return False
    if building and t.building != building:
        return False
    if state == "faulty":
        if not t.state.startswith("l"):
            return False
    elif state == "grey":
        if t.state not in ("offline", "unmonitored"):
            return False
    elif state and t.state != state:
        return False
    needle = text.strip().lower()
    texts = (t.name, t.id, t.top_fault, *t.top_fault_titles.values())
    return not needle or any(needle in v.lower() for v in texts)


def counts(tiles: list[Tile]) -> dict[str, int]:
    """state → number of rooms in it (every state present, zeros included)."""
    out = dict.fromkeys(STATES, 0)
    for t in tiles:
        out[t.state] += 1
    return out

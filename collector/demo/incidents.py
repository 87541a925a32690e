"""The demo's schedule of incidents: each breaks something real and later repairs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from collector.demo.rooms import SimRoom


@dataclass(frozen=True)
class Incident:
    at_s: float
    text: str
    action: Callable[[], None]


def schedule(rooms: list[SimRoom], cycle_s: float, offset_s: float = 0.0) -> list[Incident]:
    """One cycle of incidents over ``cycle_s`` seconds, starting at ``offset_s``."""
    plan: list[tuple[float, float, str, Callable[[], None], Callable[[], None]]] = []
    pick = lambda i: rooms[i % len(rooms)]  # noqa: E731 - fewer rooms than incidents is fine

    cam_room = pick(0)
    plan.append(
        (
            0.10,
            0.45,
            f"{cam_room.room_id}: cam-2 unplugged",
            cam_room.devices["cam-2"].unplug,
            cam_room.devices["cam-2"].plug,
        )
    )
    disk_room = pick(1)
    plan.append(
        (
            0.15,
            0.55,
            f"{disk_room.room_id}: enc-1 recording storage filling to 96 %",
            lambda: disk_room.world_state.update(storage_pct=96.0),
            lambda: disk_room.world_state.update(storage_pct=41.0),
        )
    )
    ups_room = pick(2)
    plan.append(
        (
            0.20,
            0.50,
            f"{ups_room.room_id}: mains lost, UPS on battery",
            lambda: ups_room.world_state.update(on_battery=True),
            lambda: ups_room.world_state.update(on_battery=False),
        )
    )
    agent_room = pick(3)
    plan.append(
        (
            0.25,
            0.55,
            f"{agent_room.room_id}: agent killed (SIGKILL)",
            agent_room.kill_agent,
            agent_room.restart_agent,
        )
    )
    rec_room = pick(4)
    plan.append(
        (
            0.30,
            0.60,
            f"{rec_room.room_id}: recording software crashed",
            rec_room.stop_recorder,
            rec_room.start_recorder,
        )
    )

    incidents: list[Incident] = []
    for start, end, text, breaks, repairs in plan:
        incidents.append(Incident(offset_s + start * cycle_s, text, breaks))
        incidents.append(Incident(offset_s + end * cycle_s, f"{text} — repaired", repairs))
    incidents.append(Incident(offset_s + cycle_s, "cycle complete", lambda: None))
    return sorted(incidents, key=lambda i: i.at_s)

"""A room whose agent is offline shows its devices as not known ("?/7"), not "7/7": their
last states are stale, and nothing watches them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from roomwatch.collector.db.queries import AgentView, RoomSummary
from roomwatch.collector.web.tiles import tile

T0 = datetime(2025, 3, 3, 0, 30, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")


def room(online: bool) -> RoomSummary:
    return RoomSummary(
        id="room-101",
        name="101",
        building=None,
        site_id="north",
        site_name="North",
        agents=[AgentView("room-101", online, T0, T0, "1", "pc")],
        device_count=7,
        unreachable_count=0,
        open_fault_count=0 if online else 1,
        worst_open_level=None if online else 1,
    )


def test_an_offline_room_does_not_count_its_devices_as_up() -> None:
    offline = tile(room(online=False), None, TZ)
    assert offline.state == "offline"
    assert offline.devices == 7 and offline.devices_up is None
    assert offline.as_json()["devices_up"] is None  # what the live feed sends


def test_an_online_room_counts_its_reachable_devices() -> None:
    assert tile(room(online=True), None, TZ).devices_up == 7

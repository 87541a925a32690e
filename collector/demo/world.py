"""The physical world of the demo rooms: values that move over time, written to the
simulated devices over SNMP SET so the agents read them like real hardware."""

from __future__ import annotations

import logging
import math
import time

from collector.demo.rooms import SimRoom

log = logging.getLogger(__name__)


class World:
    def __init__(self, rooms: list[SimRoom]) -> None:
        self.rooms = rooms
        self.started = time.monotonic()
        self.octets: dict[str, float] = {}
        self.minutes_on_battery: dict[str, float] = {}

    def step(self) -> None:
        t = time.monotonic() - self.started
        for index, room in enumerate(self.rooms):
            try:
                self._step_room(room, index, t)
            except Exception as exc:  # an unplugged (stopped) device does not answer a SET
                log.debug("world step for %s skipped: %s", room.room_id, exc)

    def _step_room(self, room: SimRoom, index: int, t: float) -> None:
        wave = math.sin(t / 60.0 + index)
        for cam in ("cam-1", "cam-2"):
            device = room.devices[cam]
            if device.plugged:
                device.set_values({"temperature_c": 44.0 + 4.0 * wave + index, "fps": 25.0})
        self._step_ups(room)
        self._step_storage(room)
        switch = room.devices["sw-1"]
        key = room.room_id
        self.octets[key] = self.octets.get(key, 0.0) + (2_000_000 + 500_000 * wave) * 5
        switch.set_rows("interface", {i: {"in_bytes": self.octets[key] * i} for i in (1, 2, 3)})

    def _step_ups(self, room: SimRoom) -> None:
        ups = room.devices["ups-1"]
        on_battery = bool(room.world_state["on_battery"])
        minutes = self.minutes_on_battery.get(room.room_id, 42.0)
        minutes = max(3.0, minutes - 4.0) if on_battery else 42.0
        self.minutes_on_battery[room.room_id] = minutes
        ups.set_values(
            {
                "on_battery": 1.0 if on_battery else 0.0,
                "battery_minutes_remaining": minutes,
                "battery_charge_pct": 100.0 * minutes / 42.0,
            }
        )

    def _step_storage(self, room: SimRoom) -> None:
        encoder = room.devices["enc-1"]
        target = float(room.world_state["storage_pct"])
        current = float(room.world_state.get("storage_now", 41.0))
        current = target if abs(target - current) < 6 else current + math.copysign(6.0, target - current)
        room.world_state["storage_now"] = current
        encoder.set_rows("storage", {1: {"used_pct": current}})

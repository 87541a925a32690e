"""The physical world of the demo rooms: values that move over time, written to the
simulated devices over SNMP SET so the agents read them like real hardware."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from functools import partial

from roomwatch.collector.demo.rooms import SimRoom
from roomwatch.collector.demo.simkit import NVR_DISK

log = logging.getLogger(__name__)


class World:
    def __init__(self, rooms: list[SimRoom]) -> None:
        self.rooms = rooms
        self.started = time.monotonic()
        self.octets: dict[str, float] = {}
        self.minutes_on_battery: dict[str, float] = {}
        self._failing: set[str] = set()

    def step(self) -> None:
        t = time.monotonic() - self.started
        for index, room in enumerate(self.rooms):
            wave = math.sin(t / 60.0 + index)
            self._apply(room, "cam-1", partial(self._step_axis_camera, room, wave, index))
            self._apply(room, "cam-2", partial(self._step_hikvision_camera, room, wave))
            self._apply(room, "ups-1", partial(self._step_ups, room))
            self._apply(room, "enc-1", partial(self._step_storage, room))
            self._apply(room, "sw-1", partial(self._step_switch, room, wave))

    def _apply(self, room: SimRoom, device_id: str, change: Callable[[], None]) -> None:
        """One device's failure (it is unplugged, say) never stops the others' changes."""
        key = f"{room.room_id}/{device_id}"
        if not room.devices[device_id].plugged:
            return
        try:
            change()
        except Exception as exc:
            if key not in self._failing:
                log.warning("demo world: cannot update %s: %s", key, exc)
            self._failing.add(key)
        else:
            self._failing.discard(key)

    @staticmethod
    def _step_axis_camera(room: SimRoom, wave: float, index: int) -> None:
        # AXIS-VIDEO-MIB reports whole degrees
        room.devices["cam-1"].set_values({"temperature_c": round(44.0 + 4.0 * wave + index)})

    @staticmethod
    def _step_hikvision_camera(room: SimRoom, wave: float) -> None:
        # HIK-DEVICE-MIB reports its CPU load as text, "15 PERCENT"
        room.devices["cam-2"].set_values({"cpu_pct": f"{20 + 10 * wave:.0f} PERCENT"})

    def _step_switch(self, room: SimRoom, wave: float) -> None:
        key = room.room_id
        self.octets[key] = self.octets.get(key, 0.0) + (2_000_000 + 500_000 * wave) * 5
        rows: dict[int | str, dict[str, float | str]] = {
            i: {"in_bytes_per_s": float(int(self.octets[key] * i) % 2**32)} for i in (1, 2, 3)
        }
        room.devices["sw-1"].set_rows("interfaces", rows)

    def _step_ups(self, room: SimRoom) -> None:
        on_battery = bool(room.world_state["on_battery"])
        minutes = self.minutes_on_battery.get(room.room_id, 42.0)
        minutes = max(3.0, minutes - 4.0) if on_battery else 42.0
        self.minutes_on_battery[room.room_id] = minutes
        room.devices["ups-1"].set_values(
            {
                "on_battery": 1.0 if on_battery else 0.0,
                "battery_minutes_remaining": minutes,
                "battery_charge_pct": 100.0 * minutes / 42.0,
            }
        )

    @staticmethod
    def _step_storage(room: SimRoom) -> None:
        """Recording storage moves towards its target in steps of 30 points: past the L2
        threshold on the second step, so the demo's incident opens within a few polls."""
        target = float(room.world_state["storage_pct"])
        current = float(room.world_state.get("storage_now", 41.0))
        step = 30.0
        current = (
            target
            if abs(target - current) < step
            else current + math.copysign(step, target - current)
        )
        room.world_state["storage_now"] = current
        room.devices["enc-1"].set_rows("storage", {NVR_DISK: {"used_pct": current}})

"""Plausible past samples of a demo room, as the agent would have sent them.

The demo backfills 90 days of these before its live part starts, so the dashboard's 7-day
and 90-day charts, the statistics and a quarterly report have something to show. Values
follow the school day (lessons on weekdays 08:00–17:00 local: the recording PC and the
cameras work, temperatures rise), the recording storage fills and is archived (one room's
archive job stops, so it fills towards a hazard), each UPS runs a weekly self-test and one
UPS battery slowly loses runtime, one switch port gathers errors. What a past fault did
(an unplugged camera, the agent away, the recorder down) is carried by ``Outage`` spans.
Like a real agent, each message also carries the agent's own counters as the ``agent``
device, so the agent's row in a report has the same past as the room's devices.

Metric names and table labels are the ones the real device families' profiles produce, so
history and live samples are one series.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from roomwatch.agent.selfhealth import AGENT_DEVICE, AgentCounters
from roomwatch.agent.wire import DeviceSample, MetricsMessage, TableRow

# What a past fault did to a room's samples.
UNREACHABLE = "unreachable"  # the device answered nothing
AGENT_AWAY = "agent_away"  # no samples of the room at all
RECORDER_DOWN = "recorder_down"  # process.running{name=recorder} = 0
ON_BATTERY = "on_battery"  # mains lost: the UPS runs on its battery
HOT = "hot"  # a camera in the sun, running warm

MODELS = {  # the demo inventory's models (spares are counted per model)
    "host": "Recording PC",
    "ups-1": "Smart-UPS X 750",
    "sw-1": "S5720-28P-PWR-LI-AC",
    "cam-1": "P1435-LE",
    "cam-2": "DS-2CD2185FWD-I",
    "enc-1": "DS-7608NI-K2",
}
KINDS = {
    "host": "host",
    "ups-1": "ups",
    "sw-1": "switch",
    "cam-1": "camera",
    "cam-2": "camera",
    "enc-1": "encoder",
    AGENT_DEVICE: AGENT_DEVICE,  # the agent itself (agent.selfhealth)
}
POLLED = {device for device in KINDS if device not in ("host", AGENT_DEVICE)}  # over SNMP
AGENT_POLL_S = 5.0  # the demo agents' default poll interval: one cycle and message each
SWITCH_PORTS = 2  # the uplink and the cameras' port (enough to chart and to gather errors)
STORAGE_LABELS = {"storage": "1.0"}  # the NVR profile's storage index label
DISK_LABELS = {"disk": "1.0", "volume": "HDD1"}
RUNTIME_FULL_MIN = 48.0  # a new battery's runtime at the room's load


@dataclass(frozen=True)
class Outage:
    """A span during which a past fault changed what the room reported."""

    room_id: str
    effect: str
    start: datetime
    end: datetime
    device: str | None = None


@dataclass(frozen=True)
class RoomHistory:
    """Who the room is and what makes its history its own."""

    room_id: str
    agent_id: str
    index: int  # 0-based position among the demo's rooms
    archive_stops_days_ago: float | None = None  # the archive job stopped: storage fills
    battery_ageing: bool = False  # runtime falls over the period
    port_errors: bool = False  # a switch port with a bad cable gathers errors


def agent_device() -> DeviceSample:
    """The agent's own device as its first message names it (kind ``agent``)."""
    return AgentCounters().to_sample()


def room_messages(
    room: RoomHistory,
    start: datetime,
    end: datetime,
    outages: Sequence[Outage],
    timezone: str,
    step: timedelta,
    coarse_step: timedelta,
    fine_days: float,
) -> Iterator[MetricsMessage]:
    """The room's metrics messages in [start, end), as its agent sends them: one per
    ``step`` in the last ``fine_days``, one per ``coarse_step`` before (the 90-day chart and
    the hourly rollups need no more; it keeps the backfill to seconds)."""
    rng = _Noise(f"{room.room_id}-history")
    zone = ZoneInfo(timezone)
    mine = [o for o in outages if o.room_id == room.room_id]
    total_days = (end - start).total_seconds() / 86400
    fine_from = end - timedelta(days=fine_days)
    at = start
    seq = 0
    while at < end:
        every = step if at >= fine_from else coarse_step
        active = {(o.effect, o.device) for o in mine if o.start <= at < o.end}
        if (AGENT_AWAY, None) not in active:
            seq += 1
            days = (at - start).total_seconds() / 86400
            state = _Moment(at.astimezone(zone), days, total_days, room, rng, active, every)
            yield MetricsMessage.model_construct(
                agent=room.agent_id,
                seq=seq,
                ts=at,
                interval_s=every.total_seconds(),
                devices=state.samples(),
                v=1,
                type="metrics",
            )
        at += every


class _Moment:
    """The room at one instant: every device's sample."""

    def __init__(
        self,
        local: datetime,
        days: float,
        total_days: float,
        room: RoomHistory,
        rng: _Noise,
        active: set[tuple[str, str | None]],
        step: timedelta,
    ) -> None:
        self.step_min = step.total_seconds() / 60
        self.local = local
        self.days = days
        self.total_days = total_days
        self.room = room
        self.rng = rng
        self.active = active
        hour = local.hour + local.minute / 60
        weekday = local.weekday() < 5
        # 1 during lessons, ramping at the edges; 0 at night and at weekends
        self.busy = _smooth_step(hour, 7.5, 8.5) * (1 - _smooth_step(hour, 17.0, 18.0))
        self.busy *= 1.0 if weekday else 0.1
        # the day's warmth: coldest around 05:00, warmest around 15:00
        self.sun = 0.5 - 0.5 * math.cos((hour - 5.0) / 24 * 2 * math.pi)

    def noise(self, spread: float) -> float:
        return self.rng.next() * spread

    def samples(self) -> list[DeviceSample]:
        return [
            self._sample("host", self._host_metrics(), self._host_tables()),
            self._sample("ups-1", self._ups_metrics(), {}),
            self._sample("sw-1", self._switch_metrics(), {"interfaces": self._switch_ports()}),
            self._sample("cam-1", self._axis_metrics(), {}),
            self._sample("cam-2", self._hikvision_metrics(), {}),
            self._sample("enc-1", self._nvr_metrics(), self._nvr_tables()),
            self._agent_sample(),
        ]

    def _agent_sample(self) -> DeviceSample:
        """The agent's own counters (totals since it started with the PC, ``uptime_s``):
        the ones the dashboard charts and the ones that move. A real agent also sends the
        others, all zero in a quiet room; leaving them out keeps the backfill quick."""
        cycles = float(int(self._since_boot_s() / AGENT_POLL_S))
        duration_ms = 140 + 60 * self.busy + self.noise(12)
        metrics = {
            "cycles": cycles,
            "cycle_duration_ms": round(max(40.0, duration_ms), 1),
            "published": cycles,
            "publish_failures": 0.0,
            "spool_depth": 0.0,
        }
        return self._sample(AGENT_DEVICE, metrics, {})

    def _sample(
        self, device: str, metrics: dict[str, float], tables: dict[str, list[TableRow]]
    ) -> DeviceSample:
        reachable = (UNREACHABLE, device) not in self.active
        return DeviceSample.model_construct(
            device=device,
            kind=KINDS[device],
            model=MODELS.get(device),
            reachable=reachable,
            rtt_ms=round(0.6 + abs(self.noise(0.4)), 2) if reachable and device in POLLED else None,
            error=None if reachable else "timeout",
            metrics=metrics if reachable else {},
            tables=tables if reachable else {},
        )

    def _host_metrics(self) -> dict[str, float]:
        working = 0.0 if (RECORDER_DOWN, None) in self.active else self.busy
        return {
            "cpu_pct": _clamp(7 + 48 * working + self.noise(3)),
            "mem_used_pct": _clamp(34 + 22 * self.busy + self.noise(1.5)),
            "uptime_s": round(self._since_boot_s()),
        }

    def _since_boot_s(self) -> float:
        boot_every_days = 30.0 + 7 * self.room.index
        return 86400 * (self.days % boot_every_days) + 3600

    def _host_tables(self) -> dict[str, list[TableRow]]:
        running = 0.0 if (RECORDER_DOWN, None) in self.active else 1.0
        # the system disk: logs and updates add a little, a monthly clean-up takes it back
        system_disk = 31 + 4 * self.room.index + 0.35 * (self.days % 30)
        return {
            "disk": [
                TableRow.model_construct(
                    labels={"mount": "/"}, metrics={"used_pct": round(system_disk, 2)}
                )
            ],
            "process": [
                TableRow.model_construct(
                    labels={"name": "recorder"},
                    metrics={"running": running},
                )
            ],
        }

    def _ups_metrics(self) -> dict[str, float]:
        on_battery = (ON_BATTERY, None) in self.active
        # the weekly self-test: Monday 03:00-03:10, ten seconds on battery in a real UPS,
        # one sample here
        self_test = (
            self.local.weekday() == 0 and self.local.hour == 3 and self.local.minute < self.step_min
        )
        full = RUNTIME_FULL_MIN
        if self.room.battery_ageing:
            full *= 1 - 0.35 * self.days / self.total_days
        load = 30 + 12 * self.busy + self.noise(1)
        charge = 100.0
        if on_battery:
            charge = 55.0 + self.noise(3)
        elif self_test:
            charge = 97.0
        minutes = full * (load / 30) ** -0.8 * charge / 100
        return {
            "on_battery": 1.0 if on_battery or self_test else 0.0,
            "battery_replace": 0.0,
            "battery_charge_pct": charge,
            "battery_minutes_remaining": round(minutes, 1),
            "battery_temperature_c": round(25 + 3 * self.sun + self.noise(0.3), 1),
            "input_voltage_v": 0.0 if on_battery else round(224 + self.noise(2.5)),
            "load_pct": _clamp(load),
        }

    def _switch_metrics(self) -> dict[str, float]:
        return {
            "cpu_pct": _clamp(9 + 14 * self.busy + self.noise(2)),
            "mem_used_pct": _clamp(41 + self.noise(0.5)),
            "temperature_c": round(36 + 4 * self.sun + 5 * self.busy + self.noise(0.5)),
            "poe_used_w": round(21 + 9 * self.busy + self.noise(0.4), 1),
        }

    def _switch_ports(self) -> list[TableRow]:
        rows = []
        for port in range(1, SWITCH_PORTS + 1):
            mbit = (0.4 + 7.5 * self.busy) * (1.5 if port == 3 else 1.0)
            errors = 0.0
            if self.room.port_errors and port == 2:
                # a patch cable going bad half-way: errors grow from then, mostly under load
                grown = max(0.0, self.days - self.total_days / 2)
                errors = max(0.0, 0.004 * grown * (0.3 + self.busy) + self.noise(0.01))
            rows.append(
                TableRow.model_construct(
                    labels={"ifindex": str(port), "ifname": f"GigabitEthernet0/0/{port}"},
                    metrics={
                        "in_bytes_per_s": max(0.0, mbit * 125_000 + self.noise(8000)),
                        "out_bytes_per_s": max(0.0, 0.05 * mbit * 125_000 + self.noise(800)),
                        "in_errors_per_s": errors,
                    },
                )
            )
        return rows

    def _axis_metrics(self) -> dict[str, float]:
        hot = (HOT, "cam-1") in self.active
        warm = 33 + 9 * self.sun + 3 * self.busy + self.room.index + (22 if hot else 0)
        return {"temperature_c": round(warm + self.noise(0.6))}

    def _hikvision_metrics(self) -> dict[str, float]:
        return {
            "cpu_pct": _clamp(12 + 22 * self.busy + self.noise(2)),
            "mem_used_pct": _clamp(46 + 4 * self.busy + self.noise(0.5)),
        }

    def _nvr_metrics(self) -> dict[str, float]:
        return {
            "mem_used_pct": _clamp(22 + 6 * self.busy + self.noise(0.5)),
        }

    def _nvr_tables(self) -> dict[str, list[TableRow]]:
        used = self.storage_used_pct()
        return {
            "storage": [
                TableRow.model_construct(labels=STORAGE_LABELS, metrics={"used_pct": used})
            ],
            "disks": [
                TableRow.model_construct(
                    labels=DISK_LABELS, metrics={"free_pct": round(100 - used, 2)}
                )
            ],
        }

    def storage_used_pct(self) -> float:
        """Recordings fill the NVR ~1.1 points a school day; the archive job moves them off
        when it reaches 80 % — unless it stopped, then the storage keeps filling."""
        rate = 1.1 + 0.1 * self.room.index
        start = 38.0 + 5 * self.room.index
        stops = self.room.archive_stops_days_ago
        stopped_at = self.total_days - stops if stops is not None else None
        days = self.days if stopped_at is None else min(self.days, stopped_at)
        cycle_days = (80.0 - 38.0) / rate
        used = 38.0 + ((start - 38.0) + rate * days) % (cycle_days * rate)
        if stopped_at is not None and self.days > stopped_at:
            used += rate * (self.days - stopped_at)
        return round(min(used, 99.5), 2)


class _Noise:
    """Standard normal noise from a fixed table: ``random.gauss`` for every value of 90 days
    of samples cost more than the rest of the history together."""

    SIZE = 4099  # prime: the table's period does not line up with a day's steps

    def __init__(self, seed: str) -> None:
        rng = random.Random(seed)
        self._values = [rng.gauss(0.0, 1.0) for _ in range(self.SIZE)]
        self._at = 0

    def next(self) -> float:
        self._at = (self._at + 1) % self.SIZE
        return self._values[self._at]


def _smooth_step(x: float, lo: float, hi: float) -> float:
    if x <= lo:
        return 0.0
    if x >= hi:
        return 1.0
    t = (x - lo) / (hi - lo)
    return t * t * (3 - 2 * t)


def _clamp(value: float) -> float:
    return round(min(100.0, max(0.0, value)), 1)

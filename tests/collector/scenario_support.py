"""A classroom replayed through the real ingest pipeline: real wire messages, a real
VictoriaMetrics, a real database, the built-in rule pack and an injected clock.

Room r1 (agent-1): the recording PC ``host``, a UPS ``ups-1``, a PoE switch ``sw-1`` on the
UPS, two cameras and an encoder on the switch, and a projector. Room r2 (agent-2): a host.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import select

from roomwatch.agent import wire
from roomwatch.agent.wire import DeviceSample, Event, TableRow
from roomwatch.collector.config import IngestConfig, TsdbConfig
from roomwatch.collector.db.models import Fault, FaultEvent
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.workflow_models import SuppressedFiring
from roomwatch.collector.faults import FaultTracker, Transition
from roomwatch.collector.ingest.pipeline import IngestPipeline, Received
from roomwatch.collector.ingest.stats import IngestStats
from roomwatch.collector.ingest.tsdb import TsdbWriter
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.maintenance import MaintenanceCalendar
from roomwatch.collector.rules.book import RuleBook
from roomwatch.collector.rules.model import load_rule_pack
from roomwatch.collector.workflow import NoHooks, Workflow
from roomwatch.collector.workflow.hooks import FaultHooks

T0 = datetime(2026, 9, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 in Asia/Shanghai
INVENTORY: dict[str, Any] = {
    "sites": [
        {
            "id": "s1",
            "name": "School One",
            "timezone": "Asia/Shanghai",
            "rooms": [
                {
                    "id": "r1",
                    "name": "Room 1",
                    "agents": ["agent-1"],
                    "devices": [
                        {"id": "host", "kind": "host", "model": "RS-8000"},
                        {"id": "ups-1", "kind": "ups", "model": "SP-3000"},
                        {"id": "sw-1", "kind": "switch", "model": "S1850", "parent": "ups-1"},
                        {"id": "cam-1", "kind": "camera", "model": "PTZ-200", "parent": "sw-1"},
                        {"id": "cam-2", "kind": "camera", "model": "PTZ-200", "parent": "sw-1"},
                        {"id": "enc-1", "kind": "encoder", "model": "REC-4K", "parent": "sw-1"},
                        {"id": "proj-1", "kind": "projector", "model": "LP-500"},
                    ],
                },
                {
                    "id": "r2",
                    "name": "Room 2",
                    "agents": ["agent-2"],
                    "devices": [{"id": "host", "kind": "host"}],
                },
            ],
        }
    ]
}


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class RecordingHooks:
    """A ``FaultHooks`` that remembers what the life cycle told it (the SLA engine's seat)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str]] = []

    def fault_opened(self, session: Any, fault: Fault, at: datetime) -> None:
        self.calls.append(("start_clocks", fault.id, "open"))

    def status_changed(self, session: Any, fault: Fault, old: str, new: str, at: datetime) -> None:
        self.calls.append(("status", fault.id, f"{old}>{new}"))

    def level_changed(
        self, session: Any, fault: Fault, old: int, new: int, at: datetime, from_now: bool
    ) -> None:
        self.calls.append(("level", fault.id, f"L{old}>L{new}"))

    def notify(self, session: Any, fault: Fault, transition: str, at: datetime) -> None:
        self.calls.append(("notify", fault.id, transition))

    def of(self, kind: str) -> list[tuple[str, int, str]]:
        return [c for c in self.calls if c[0] == kind]


# --- samples -----------------------------------------------------------------------------


def row(labels: dict[str, str], **metrics: float) -> TableRow:
    return TableRow(labels=labels, metrics=metrics)


def host(
    cpu: float = 20,
    mem: float = 40,
    disk: float = 50,
    recorder: bool = True,
    temperature: float = 45,
    uptime_s: float = 86_400,
    nic_errors: float = 0,
    nic_drops: float = 0,
) -> DeviceSample:
    return DeviceSample(
        device="host",
        kind="host",
        model="RS-8000",
        reachable=True,
        metrics={
            "cpu_pct": cpu,
            "mem_used_pct": mem,
            "temperature_c": temperature,
            "uptime_s": uptime_s,
        },
        tables={
            "disk": [row({"mount": "D:"}, used_pct=disk)],
            "process": [row({"name": "recorder"}, running=float(recorder), count=float(recorder))],
            "nic": [row({"nic": "eth0"}, errors_per_s=nic_errors, drops_per_s=nic_drops)],
        },
    )


def ups(on_battery: bool = False, minutes: float = 45, replace: bool = False) -> DeviceSample:
    return DeviceSample(
        device="ups-1",
        kind="ups",
        reachable=True,
        metrics={
            "on_battery": float(on_battery),
            "battery_minutes_remaining": minutes,
            "battery_charge_pct": 100 * minutes / 45,
            "battery_replace": float(replace),
            "uptime_s": 5_000_000,
        },
    )


def switch(ports: dict[str, dict[str, float]] | None = None) -> DeviceSample:
    base = {"oper_up": 1.0, "speed_mbps": 1000.0, "in_errors_per_s": 0.0, "in_discards_per_s": 0.0}
    rows = [
        row({"ifname": name}, **{**base, **(ports or {}).get(name, {})})
        for name in ("port1", "port2", "port3")
    ]
    return DeviceSample(
        device="sw-1",
        kind="switch",
        reachable=True,
        metrics={"uptime_s": 2_592_000},
        tables={"interfaces": rows},
    )


def camera(name: str = "cam-1", temperature: float = 42, stream: float = 2) -> DeviceSample:
    return DeviceSample(
        device=name,
        kind="camera",
        model="PTZ-200",
        reachable=True,
        rtt_ms=2.0,
        metrics={
            "temperature_c": temperature,
            "stream_status": stream,  # RoomCam: 1 idle, 2 streaming, 3 error, 4 no signal
            "stream_up": float(stream == 2),  # as roomcam-common maps it
            "uptime_s": 86_400,
        },
    )


def encoder(storage: float = 55, cpu: float = 30, temperature: float = 52) -> DeviceSample:
    return DeviceSample(
        device="enc-1",
        kind="encoder",
        reachable=True,
        metrics={"cpu_pct": cpu, "temperature_c": temperature, "uptime_s": 172_800},
        tables={"storage": [row({"storage": "/record"}, used_pct=storage)]},
    )


def projector(lamp_hours: float = 1850) -> DeviceSample:
    return DeviceSample(
        device="proj-1",
        kind="projector",
        reachable=True,
        metrics={"lamp_hours": lamp_hours, "lamp_life_hours": 4000, "temperature_c": 38},
    )


def down(name: str, kind: str) -> DeviceSample:
    return DeviceSample(device=name, kind=kind, reachable=False, error="timeout")


def healthy_room() -> dict[str, DeviceSample]:
    return {
        s.device: s
        for s in (
            host(),
            ups(),
            switch(),
            camera("cam-1"),
            camera("cam-2"),
            encoder(),
            projector(),
        )
    }


# --- the scenario ------------------------------------------------------------------------


class Scenario:
    def __init__(
        self,
        db: Database,
        tsdb_url: str,
        hooks: FaultHooks | None = None,
        start: datetime = T0,
        inventory: dict[str, Any] | None = None,
    ) -> None:
        self.db = db
        sync_inventory(db, Inventory.model_validate(inventory or INVENTORY))
        self.clock = Clock(start)
        self.seq = 0
        self.calendar = MaintenanceCalendar("Asia/Shanghai")
        self.workflow = Workflow(hooks=hooks or NoHooks(), calendar=self.calendar)
        self.tracker = FaultTracker(
            RuleBook(load_rule_pack(), refresh_every_s=0), self.workflow, self.calendar
        )
        self.registry = CollectorRegistry()
        self.pipeline = IngestPipeline(
            db,
            TsdbWriter(TsdbConfig(url=tsdb_url)),
            self.tracker,
            IngestStats(self.registry),
            IngestConfig(),
            clock=self.clock,
        )

    # feeding
    def advance(self, seconds: float) -> None:
        self.clock.now += timedelta(seconds=seconds)

    def send(self, *samples: DeviceSample, agent: str = "agent-1") -> list[Transition]:
        self.seq += 1
        message = wire.MetricsMessage(
            agent=agent, seq=self.seq, ts=self.clock.now, interval_s=30, devices=list(samples)
        )
        return self.pipeline.process(
            [Received(wire.topic(agent, wire.Kind.METRICS), wire.encode(message))]
        )

    def send_room(self, **changes: DeviceSample | None) -> list[Transition]:
        """The whole room of r1, healthy but for ``changes`` (None: not reported)."""
        samples = healthy_room()
        for name, sample in changes.items():
            key = name.replace("_", "-")
            if sample is None:
                samples.pop(key, None)
            else:
                samples[key] = sample
        return self.send(*samples.values())

    def run(self, minutes: float, every_s: float = 30, **changes: DeviceSample | None) -> None:
        """Send the room every ``every_s`` for ``minutes``."""
        for _ in range(int(minutes * 60 / every_s)):
            self.send_room(**changes)
            self.advance(every_s)

    def status(self, state: str, agent: str = "agent-1") -> list[Transition]:
        self.seq += 1
        message = wire.StatusMessage(
            agent=agent, seq=self.seq, ts=self.clock.now, state=state, agent_version="t"
        )
        return self.pipeline.process(
            [Received(wire.topic(agent, wire.Kind.STATUS), wire.encode(message))]
        )

    def events(self, *events: Event, agent: str = "agent-1") -> list[Transition]:
        self.seq += 1
        message = wire.EventsMessage(
            agent=agent, seq=self.seq, ts=self.clock.now, events=list(events)
        )
        return self.pipeline.process(
            [Received(wire.topic(agent, wire.Kind.EVENTS), wire.encode(message))]
        )

    # reading
    def faults(self, rule: str | None = None) -> list[Fault]:
        with self.db.session() as session:
            query = select(Fault).order_by(Fault.id)
            if rule is not None:
                query = query.where(Fault.rule_id == rule)
            return list(session.scalars(query))

    def active(self) -> list[Fault]:
        return [f for f in self.faults() if f.status not in ("resolved", "closed")]

    def suppressed(self) -> list[SuppressedFiring]:
        with self.db.session() as session:
            return list(session.scalars(select(SuppressedFiring).order_by(SuppressedFiring.id)))

    def events_of(self, fault_id: int) -> list[FaultEvent]:
        with self.db.session() as session:
            query = select(FaultEvent).where(FaultEvent.fault_id == fault_id)
            return list(session.scalars(query.order_by(FaultEvent.id)))


def rules_of(faults: Iterable[Fault]) -> list[tuple[str, int]]:
    return [(f.rule_id, f.level) for f in faults]

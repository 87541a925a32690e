"""A school with a timetable for the Today, readiness and dispatch tests: its inventory,
metrics through the ingest store, faults through the real workflow with SLA clocks."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from roomwatch.agent.wire import DeviceSample, TableRow
from roomwatch.collector.db import dispatch_store, ingest_store, sla_store
from roomwatch.collector.db.models import Device
from roomwatch.collector.db.session import Database
from roomwatch.collector.dispatch.roster import ShiftIn
from roomwatch.collector.faults import FaultTracker, Subject
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.levels import Level
from roomwatch.collector.maintenance import MaintenanceCalendar
from roomwatch.collector.rules.book import RuleBook
from roomwatch.collector.sla.policies import ContactDoc
from roomwatch.collector.sla.service import SlaService
from roomwatch.collector.workflow import ManualFault, ServiceHooks, Workflow
from tests.collector.sla_support import FakeClock, load_shipped

TIMETABLE = {"periods": ["08:00-08:45", "09:00-09:45", "14:00-14:45"], "lead_min": 10}


def school() -> Inventory:
    """Site s1 (Beijing time): r1 records with a camera behind a PoE switch and has a
    projector; r2 records with its PC alone."""
    return Inventory.model_validate(
        {
            "sites": [
                {
                    "id": "s1",
                    "name": "First School",
                    "timezone": "Asia/Shanghai",
                    "timetable": TIMETABLE,
                    "rooms": [
                        {
                            "id": "r1",
                            "name": "Room 101",
                            "agents": ["agent-1"],
                            "devices": [
                                {"id": "host", "kind": "host"},
                                {"id": "ups", "kind": "ups"},
                                {"id": "sw", "kind": "switch", "parent": "ups"},
                                {"id": "cam1", "kind": "camera", "parent": "sw"},
                                {"id": "proj", "kind": "projector"},
                            ],
                        },
                        {
                            "id": "r2",
                            "name": "Room 102",
                            "agents": ["agent-2"],
                            "devices": [{"id": "host", "kind": "host"}],
                        },
                    ],
                },
                {"id": "s2", "name": "Other School", "timetable": TIMETABLE, "rooms": []},
            ]
        }
    )


CONTACTS = [
    ContactDoc(name="wang", role="engineer_on_duty", email="wang@example.edu.cn"),
    ContactDoc(name="night-li", role="engineer_on_duty", email="li@example.edu.cn"),
    ContactDoc(name="Principal Zhou", role="school", site="s1", email="zhou@school.cn"),
    ContactDoc(name="lead", role="project_lead", email="lead@example.edu.cn"),
]


def set_up_school(db: Database, at: datetime) -> None:
    """Inventory, shipped SLA policies, contacts, and a roster: wang on weekdays 08:00-18:00,
    li at nights (18:00-08:00) — the on-call contact is wang's for both by SLA name."""
    sync_inventory(db, school())
    load_shipped(db, at)
    with db.session() as session:
        for contact in CONTACTS:
            sla_store.put_contact(session, contact)
        weekdays = ["mon", "tue", "wed", "thu", "fri"]
        add_shift(session, person="wang", weekdays=weekdays, start="08:00", end="18:00")
        add_shift(session, person="night-li", weekdays=weekdays, start="18:00", end="08:00")
    for agent in ("agent-1", "agent-2"):
        report(db, agent, at)


def add_shift(session: Session, site: str = "s1", **fields: object) -> int:
    body = ShiftIn.model_validate(fields)
    row = dispatch_store.save_shift(
        session,
        site,
        {
            "person": body.person,
            "contact_id": body.contact_id,
            "label": body.label,
            "weekdays": list(body.weekdays),
            "day": body.day,
            "start_hm": body.start,
            "end_hm": body.end,
            "note": body.note,
        },
    )
    return row.id


def report(db: Database, agent: str, at: datetime, *samples: DeviceSample) -> None:
    """An agent's report, stored the way the ingest pipeline stores it."""
    with db.session() as session:
        ingest_store.set_agent_status(session, agent, True, at, version="1.0.0")
        room = ingest_store.agent_room(session, agent)
        assert room is not None
        devices = ingest_store.ensure_devices(session, room, list(samples))
        for sample in samples:
            ingest_store.store_latest(session, devices[sample.device], sample, at)
            ingest_store.add_to_rollups(session, devices[sample.device], sample, at)


def host(disk_used_pct: float = 40.0, recorder_running: float = 1.0) -> DeviceSample:
    return DeviceSample(
        device="host",
        kind="host",
        reachable=True,
        tables={
            "disk": [TableRow(labels={"mount": "D:"}, metrics={"used_pct": disk_used_pct})],
            "process": [
                TableRow(labels={"name": "recorder"}, metrics={"running": recorder_running})
            ],
        },
    )


def workflow(clock: FakeClock) -> Workflow:
    return Workflow(hooks=ServiceHooks(SlaService(clock=clock)), calendar=MaintenanceCalendar())


def open_fault(
    db: Database, clock: FakeClock, room: str, device: str | None, title: str, level: int = 1
) -> int:
    """A fault reported for a device (or the room), through the life cycle and its hooks."""
    with db.session() as session:
        fault = workflow(clock).create_manual(
            session,
            ManualFault(
                room_id=room, device=device, level=Level(level), title=title, reporter="teacher"
            ),
            "wang",
            clock.now,
        )
        return fault.id


def camera_down(db: Database, clock: FakeClock, room: str, agent: str, device: str) -> int:
    """A rule's fault (device_unreachable): the camera stops answering for polls past its
    guard, up to ``clock.now``, through the fault tracker."""
    tracker = FaultTracker(RuleBook.builtin(), workflow(clock))
    down = DeviceSample(device=device, kind="camera", reachable=False, error="timeout")
    opened: list[int] = []
    with db.session() as session:
        camera = session.scalars(
            select(Device).where(Device.room_id == room, Device.device == device)
        ).one()
        for minutes_ago in range(5, -1, -1):
            at = clock.now - timedelta(minutes=minutes_ago)
            changes = tracker.observe(session, Subject(room, agent, camera.id, "s1"), down, at)
            opened += [c.fault_id for c in changes if c.kind == "opened"]
    [fault_id] = opened
    return fault_id


def disk_filling(db: Database, agent: str, at: datetime) -> None:
    """The room's PC reports its disk D: at 80, 85 and 90 % an hour apart, the last at
    ``at``, then its agent goes offline (the state and the hours' averages stay)."""
    for hours_ago, used_pct in ((2, 80.0), (1, 85.0), (0, 90.0)):
        report(db, agent, at - timedelta(hours=hours_ago), host(disk_used_pct=used_pct))
    with db.session() as session:
        ingest_store.set_agent_status(session, agent, False, at)

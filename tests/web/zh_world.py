"""A demo-like world for the language tests: the report's quarter of history
(``tests/collector/test_report.py``: rooms, rollups, faults, SLA clocks, a maintenance log,
spares, an advisory) plus a third room with the remaining device kinds, the latest values
of every device and faults of several kinds as the engine and people leave them: flapping,
a ladder that moved, a manual resolve with its log, an automatic recovery, a reopen, a
remote session, a survey, a manual report and a vendor advisory.

``user_words`` lists what people and the inventory typed (names, notes, models, firmware):
text that is shown as entered, in whatever language it was written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from roomwatch.agent.wire import DeviceSample, TableRow
from roomwatch.collector.db import faults_store, ingest_store
from roomwatch.collector.db.models import Device, Fault, FaultEvent, Room, Site
from roomwatch.collector.db.report_models import InspectionSchedule, VendorAdvisory
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.workflow_models import MaintenanceLog
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.levels import Level
from roomwatch.collector.workflow import Workflow
from roomwatch.collector.workflow.lifecycle import ManualFault
from roomwatch.collector.workflow.logbook import LogEntry
from tests.collector.test_report import NOW, build_quarter_history, history_inventory, service
from tests.web.visible_text import LATIN

ENGINEER = "王工"
EXTRA_ROOM = {
    "id": "r3",
    "name": "综合楼三楼录播室",
    "building": "综合楼",
    "agents": ["agent-3"],
    "devices": [
        {"id": "host", "kind": "host", "model": "RS-8000", "vendor": "Dell"},
        {"id": "sw", "kind": "switch", "model": "S5720-28P", "vendor": "Huawei"},
        {"id": "cam1", "kind": "camera", "model": "DS-2CD2T47G2", "parent": "sw"},
        {"id": "nvr", "kind": "encoder", "model": "DS-7608NI", "vendor": "Hikvision"},
        {"id": "nas", "kind": "nas", "model": "DS920+", "vendor": "Synology"},
        {"id": "dsp", "kind": "audio", "model": "AEC-8"},
        {"id": "screen", "kind": "display", "model": "LED-86"},
        {"id": "ups", "kind": "ups", "model": "SMT1500", "vendor": "APC"},
        {"id": "proj", "kind": "projector", "model": "PJ-X"},
    ],
}


@dataclass
class World:
    db: Database
    fault_ids: list[int] = field(default_factory=list)
    user_words: set[str] = field(default_factory=set)


def world_inventory() -> Inventory:
    data = history_inventory().model_dump(mode="json", exclude_none=True)
    data["sites"][0]["rooms"].append(EXTRA_ROOM)
    return Inventory.model_validate(data)


def _samples() -> dict[str, list[DeviceSample]]:
    def row(labels: dict[str, str], **metrics: float) -> TableRow:
        return TableRow(labels=labels, metrics=metrics)

    host = DeviceSample(
        device="host",
        kind="host",
        reachable=True,
        metrics={"cpu_pct": 37.5, "mem_used_pct": 61.0, "temperature_c": 52.0, "uptime_s": 9e5},
        tables={
            "disk": [row({"mount": "D:"}, used_pct=86.4, free_bytes=2.1e11)],
            "process": [row({"name": "recorder"}, running=1.0, cpu_pct=12.0)],
            "nic": [row({"nic": "eth0"}, in_bytes_per_s=1.2e6, errors_per_s=0.0)],
        },
    )
    common = [
        host,
        DeviceSample(
            device="sw",
            kind="switch",
            reachable=True,
            rtt_ms=1.5,
            metrics={"poe_used_w": 61.0, "poe_budget_w": 370.0},
            tables={
                "interfaces": [
                    row({"ifindex": "3", "ifname": "ge3"}, oper_up=1.0, in_errors_per_s=0.01)
                ]
            },
        ),
        DeviceSample(
            device="cam1",
            kind="camera",
            reachable=True,
            rtt_ms=2.0,
            metrics={"stream_up": 1.0, "stream_fps": 25.0, "stream_bitrate_kbps": 4096.0},
        ),
        DeviceSample(
            device="ups",
            kind="ups",
            reachable=True,
            metrics={
                "battery_charge_pct": 100.0,
                "battery_minutes_remaining": 21.0,
                "on_battery": 0.0,
            },
        ),
        DeviceSample(
            device="proj", kind="projector", reachable=True, metrics={"lamp_hours": 1980.0}
        ),
    ]
    r3 = [
        *common,
        DeviceSample(
            device="nvr",
            kind="encoder",
            reachable=True,
            metrics={"recording_on": 1.0},
            tables={"storage": [row({"storage": "/record"}, used_pct=71.0)]},
        ),
        DeviceSample(
            device="nas",
            kind="nas",
            reachable=True,
            metrics={"temperature_c": 41.0},
            tables={"storage": [row({"storage": "volume1"}, used_pct=55.0)]},
        ),
        DeviceSample(device="dsp", kind="audio", reachable=True, rtt_ms=3.0, metrics={}),
        DeviceSample(device="screen", kind="display", reachable=False, error="timeout"),
    ]
    r2 = [
        host,
        DeviceSample(device="cam1", kind="camera", reachable=True, metrics={"stream_up": 1.0}),
        DeviceSample(
            device="enc",
            kind="encoder",
            reachable=True,
            tables={"storage": [row({"storage": "/record"}, used_pct=40.0)]},
        ),
    ]
    return {"r1": common, "r2": r2, "r3": r3}


def build_world(db: Database) -> World:
    """The report's history, the third room, latest values and faults of every kind."""
    build_quarter_history(db)
    sync_inventory(db, world_inventory())
    world = World(db)
    workflow = Workflow()
    with db.session() as session:
        for room, samples in _samples().items():
            devices = ingest_store.ensure_devices(session, room, samples)
            for sample in samples:
                for hours in (2, 1, 0):
                    at = NOW - timedelta(hours=hours)
                    ingest_store.store_latest(session, devices[sample.device], sample, at)
                    ingest_store.add_to_rollups(session, devices[sample.device], sample, at)
        for agent in ("agent-1", "agent-3"):
            ingest_store.set_agent_status(session, agent, True, NOW, version="1.4.0")
            ingest_store.touch_agent(session, agent, NOW)
        pk = {(d.room_id, d.device): d.id for d in session.scalars(select(Device))}

        def rule_fault(rule: str, room: str, device: str, level: int, minutes: int, **evidence):
            label = ",".join(f"{k}={v}" for k, v in (evidence.get("labels") or {}).items())
            target = f"{room}/{device}" + (f"/{{{label}}}" if label else "")
            return workflow.open_rule_fault(
                session,
                open_key=f"{rule}|{target}",
                at=NOW - timedelta(minutes=minutes),
                rule_id=rule,
                target=target,
                room_id=room,
                device_id=pk[(room, device)],
                agent_id=None,
                level=level,
                title=f"{device} {rule}",
                description="",
                evidence=evidence,
            )

        down = rule_fault(
            "device_unreachable", "r3", "screen", 3, 50, metric="reachable", value=0.0
        )
        flapping = rule_fault(
            "device_unreachable", "r3", "dsp", 3, 90, metric="reachable", value=0.0
        )
        workflow.mark_flapping(session, flapping, NOW - timedelta(minutes=30), transitions=6)
        flapping.clear_since = NOW - timedelta(minutes=3)
        storage = rule_fault(
            "storage_filling",
            "r3",
            "nvr",
            3,
            600,
            metric="storage.used_pct",
            value=91.0,
            labels={"storage": "/record"},
            threshold=90.0,
        )
        workflow.change_level(
            session, storage, Level.L2, "system", NOW - timedelta(minutes=60), "阶梯上升"
        )
        disk = rule_fault(
            "disk_nearly_full",
            "r3",
            "host",
            2,
            300,
            metric="disk.used_pct",
            value=96.0,
            labels={"mount": "D:"},
        )
        workflow.transition(
            session, disk, "acknowledged", ENGINEER, NOW - timedelta(minutes=280), "马上处理"
        )
        workflow.add_remote_session(
            session, disk, ENGINEER, NOW - timedelta(minutes=270), "远程清理", 15
        )
        workflow.transition(
            session,
            disk,
            "resolved",
            ENGINEER,
            NOW - timedelta(minutes=200),
            log=LogEntry(
                phenomenon="录像盘空间不足",
                cause="旧录像未按策略清理",
                solution="清理三个月前的录像并开启自动清理",
                engineer=ENGINEER,
                parts_replaced=[],
                spares_used=[],
            ),
        )
        recovered = rule_fault(
            "device_unreachable", "r3", "cam1", 1, 400, metric="reachable", value=0.0
        )
        workflow.auto_resolve(session, recovered, NOW - timedelta(minutes=390), "reachable=1")
        workflow.auto_reopen(session, recovered, NOW - timedelta(minutes=385))
        workflow.auto_resolve(session, recovered, NOW - timedelta(minutes=380), "reachable=1")
        manual = workflow.create_manual(
            session,
            ManualFault(
                room_id="r3",
                device="proj",
                level=Level.L3,
                title="投影仪画面偏色",
                description="老师电话反映投影画面发黄",
                reporter="李老师",
                channel="phone",
            ),
            ENGINEER,
            NOW - timedelta(minutes=120),
        )
        world.fault_ids = [down.id, flapping.id, storage.id, disk.id, recovered.id, manual.id]
    service(db).apply_advisories()
    with db.session() as session:
        world.fault_ids = [f.id for f in session.scalars(select(Fault).order_by(Fault.id))]
        faults_store.get_fault(session, world.fault_ids[0])  # the quarter's first fault exists
    world.user_words = user_words(db)
    return world


LATIN_WORD = LATIN


def user_words(db: Database) -> set[str]:
    """Latin words people or the inventory typed (names, models, vendors, firmware, notes,
    advisories as the vendor wrote them): shown as written, in whatever language."""
    return {word for text in typed_texts(db) for word in LATIN_WORD.findall(text)}


def typed_texts(db: Database) -> list[str]:
    """What people and the inventory typed, as stored."""
    typed: list[str] = []
    with db.session() as session:
        for device in session.scalars(select(Device)):
            typed += [device.device, device.model or "", device.vendor or "", device.firmware or ""]
        for room in session.scalars(select(Room)):
            typed += [room.id, room.name, room.building or "", room.site_id]
        for site in session.scalars(select(Site)):
            typed += [site.name]
        for schedule in session.scalars(select(InspectionSchedule)):
            typed += [schedule.customer or "", schedule.engineer or ""]
        for advisory in session.scalars(select(VendorAdvisory)):
            typed += [advisory.code, advisory.title, advisory.text, advisory.action or ""]
            typed += [advisory.vendor or "", advisory.model or ""]
        for fault in session.scalars(select(Fault).where(Fault.source == "manual")):
            typed += [fault.title, fault.description or "", fault.reporter or ""]
        for log in session.scalars(select(MaintenanceLog)):
            typed += [log.phenomenon, log.cause, log.solution, log.engineer]
        for event in session.scalars(select(FaultEvent)):
            detail = event.detail or {}
            typed += [event.actor or "", str(detail.get("note") or "")]
        for spare in session.scalars(select(MaintenanceLog)):
            typed += [str(part.get("name", "")) for part in spare.spares_used or []]
    # what devices call their rows (a mount, a volume, a process, a port), as reported
    typed += ["D", "recorder", "record", "volume1", "eth0", "ge3"]
    return typed

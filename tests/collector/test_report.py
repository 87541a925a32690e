"""The quarterly inspection report end to end: a quarter of history written straight into
the hourly rollups with known trends, plus faults, SLA clocks, a maintenance log, spare
stock and a vendor advisory; the report is built, rendered to PDF in zh-CN and English and
read back with ``pdftotext`` (Debian poppler-utils), as a customer would read it.

``build_quarter_history`` is shared with the API tests (test_report_api.py).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from roomwatch.collector.db import report_store
from roomwatch.collector.db.models import Device, Fault
from roomwatch.collector.db.report_models import VendorAdvisory
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.sla_models import SlaClock
from roomwatch.collector.db.workflow_models import MaintenanceLog
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.reports.build import build_report
from roomwatch.collector.reports.period import parse_period
from roomwatch.collector.reports.service import ReportService
from roomwatch.collector.workflow import Workflow
from tests.collector.conftest import write_hourly_rollups

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ZONE = "Asia/Shanghai"
QUARTER = "2026Q3"
PERIOD = parse_period(QUARTER, ZONE)  # 2026-07-01 .. 2026-10-01, 92 days
HOURS = PERIOD.days * 24  # 2208
NOW = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)

ROOM_ZH = "录播教室一〇一"
ROOM_EN = "Lecture Hall B"
# cam2 of room 1 does not answer for 44 hours: (2208 - 44) / 2208
CAM2_DOWN_HOURS = 44
# room 2's agent is offline for 24 hours (an agent_offline fault; no samples at all)
R2_OFFLINE_HOURS = 24
# the recorder of room 1 is not running for 22 hours
RECORDER_DOWN_HOURS = 22
# host disk of room 1: daily maximum 50 % + 0.4 points a day → 86.4 % on the last day
DISK_START, DISK_PER_DAY = 50.0, 0.4


@dataclass(frozen=True)
class History:
    cam2_availability: float
    room1_availability: float
    room2_availability: float
    recorder_uptime: float
    disk_full_days: int
    disk_full_date: date


def history_inventory() -> Inventory:
    return Inventory.model_validate(
        {
            "sites": [
                {
                    "id": "s1",
                    "name": "第一实验小学",
                    "timezone": ZONE,
                    "rooms": [
                        {
                            "id": "r1",
                            "name": ROOM_ZH,
                            "building": "教学楼 A",
                            "agents": ["agent-1"],
                            "devices": [
                                {"id": "host", "kind": "host", "model": "RS-8000"},
                                {"id": "sw", "kind": "switch", "model": "S1850"},
                                {"id": "cam1", "kind": "camera", "model": "CAM-A", "parent": "sw"},
                                {"id": "cam2", "kind": "camera", "model": "CAM-A", "parent": "sw"},
                                {"id": "ups", "kind": "ups", "model": "UPS-1K"},
                                {"id": "proj", "kind": "projector", "model": "PJ-X"},
                            ],
                        },
                        {
                            "id": "r2",
                            "name": ROOM_EN,
                            "agents": ["agent-2"],
                            "devices": [
                                {"id": "host", "kind": "host", "model": "RS-8000"},
                                {"id": "cam1", "kind": "camera", "model": "CAM-A"},
                                {"id": "enc", "kind": "encoder", "model": "ENC-9"},
                            ],
                        },
                    ],
                }
            ]
        }
    )


def build_quarter_history(db: Database) -> History:
    """Inventory, firmware, a quarter of rollups with known trends, faults, clocks, a
    maintenance log, spare stock and one vendor advisory."""
    sync_inventory(db, history_inventory())
    start = PERIOD.start_utc
    with db.session() as session:
        pk = {(d.room_id, d.device): d.id for d in session.scalars(select(Device))}
        for (room, device), firmware in {
            ("r1", "cam1"): "V2.3.1 build 250101",
            ("r1", "cam2"): "V2.3.1 build 250101",
            ("r2", "cam1"): "V2.4.0 build 260301",
        }.items():
            session.get_one(Device, pk[(room, device)]).firmware = firmware
        rows: list[dict[str, object]] = []

        def put(room: str, device: str, metric: str, hour: int, lo: float, hi: float, mean: float):
            rows.append(
                {
                    "device_id": pk[(room, device)],
                    "metric": metric,
                    "hour": start + timedelta(hours=hour),
                    "count": 60,
                    "sum": mean * 60,
                    "min": lo,
                    "max": hi,
                }
            )

        offline = range(1000, 1000 + R2_OFFLINE_HOURS)
        for hour in range(HOURS):
            day = hour // 24
            for room, device in pk:
                if room == "r2" and hour in offline:
                    continue  # the agent sent nothing
                up = 0.0 if (room, device) == ("r1", "cam2") and hour < CAM2_DOWN_HOURS else 1.0
                put(room, device, "reachable", hour, up, up, up)
            disk = DISK_START + DISK_PER_DAY * day
            put("r1", "host", "disk.used_pct{mount=/}", hour, disk - 1, disk, disk - 0.5)
            cpu = float(hour % 100)
            put("r1", "host", "cpu_pct", hour, cpu, cpu, cpu)
            running = 0.0 if 500 <= hour < 500 + RECORDER_DOWN_HOURS else 1.0
            put("r1", "host", "process.running{name=recorder}", hour, running, running, running)
            temp = 40 + 0.1 * day
            put("r1", "host", "temperature_c", hour, temp - 3, temp, temp - 1)
            replace = 1.0 if day >= 80 else 0.0
            put("r1", "ups", "battery_replace", hour, replace, replace, replace)
            runtime = 30 - 10 * day / (PERIOD.days - 1)
            put("r1", "ups", "battery_minutes_remaining", hour, runtime, runtime, runtime)
            lamp = 1800 + 2 * day
            put("r1", "proj", "lamp_hours", hour, lamp, lamp, lamp)
            put("r1", "proj", "lamp_life_hours", hour, 2000, 2000, 2000)
            errors = 0.001 if day >= PERIOD.days - 30 else 0.0
            put(
                "r1",
                "sw",
                "interfaces.in_errors_per_s{ifindex=3,ifname=ge3}",
                hour,
                0,
                errors,
                errors,
            )
            if hour not in offline:
                put("r2", "enc", "storage.used_pct{storage=/record}", hour, 40, 40, 40)
        # one day of the previous quarter, everything up
        for hour in range(24):
            for room, device in pk:
                rows.append(
                    {
                        "device_id": pk[(room, device)],
                        "metric": "reachable",
                        "hour": start - timedelta(days=10) + timedelta(hours=hour),
                        "count": 60,
                        "sum": 60.0,
                        "min": 1.0,
                        "max": 1.0,
                    }
                )
        write_hourly_rollups(session, rows)

        def fault(
            rule: str,
            room: str,
            device: str | None,
            level: int,
            opened_h: float,
            resolved_h: float | None,
            title: str,
        ) -> Fault:
            opened = start + timedelta(hours=opened_h)
            resolved = None if resolved_h is None else start + timedelta(hours=resolved_h)
            row = Fault(
                rule_id=rule,
                target=f"{room}/{device or 'agent'}",
                open_key=None if resolved else f"{rule}|{room}/{device}",
                room_id=room,
                device_id=pk[(room, device)] if device else None,
                agent_id=None,
                level=level,
                status="resolved" if resolved else "open",
                title=title,
                opened_at=opened,
                last_seen_at=resolved or opened,
                resolved_at=resolved,
            )
            session.add(row)
            session.flush()
            return row

        first = fault("device_unreachable", "r1", "cam2", 1, 0, 44, "cam2 unreachable")
        fault("device_unreachable", "r1", "cam2", 1, 300, 301, "cam2 unreachable")
        fault("device_unreachable", "r1", "cam2", 1, 900, 900.5, "cam2 unreachable")
        fault("agent_offline", "r2", None, 1, 1000, 1000 + R2_OFFLINE_HOURS, "agent-2 offline")
        fault("disk_filling", "r1", "host", 3, HOURS - 200, None, "Disk / filling")
        opened = first.opened_at
        session.add_all(
            [
                SlaClock(
                    fault_id=first.id,
                    kind="respond",
                    policy_id="7x24",
                    level=1,
                    measure="wall",
                    budget_s=1800,
                    timezone=ZONE,
                    started_at=opened,
                    deadline_at=opened + timedelta(minutes=30),
                    stopped_at=opened + timedelta(minutes=12),
                    stopped_by="acknowledged",  # an engineer answered: it counts as met
                    met=True,
                ),
                SlaClock(
                    fault_id=first.id,
                    kind="fix",
                    policy_id="7x24",
                    level=1,
                    measure="wall",
                    budget_s=8 * 3600,
                    timezone=ZONE,
                    started_at=opened,
                    deadline_at=opened + timedelta(hours=8),
                    breached_at=opened + timedelta(hours=8),
                    stopped_at=opened + timedelta(hours=44),
                    met=False,
                ),
                MaintenanceLog(
                    fault_id=first.id,
                    phenomenon="摄像机画面中断，无法连接",
                    cause="PoE 交换机端口供电不稳",
                    solution="更换交换机端口并重新压接网线",
                    engineer="王工",
                    parts_replaced=[],
                    spares_used=[{"name": "camera", "model": "CAM-A", "quantity": 1}],
                    recorded_by="王工",
                    recorded_at=opened + timedelta(hours=45),
                    updated_at=opened + timedelta(hours=45),
                ),
            ]
        )
        report_store.put_spare_stock(session, "s1", "CAM-A", NOW, held=0, used=1)
        for model in ("RS-8000", "S1850", "UPS-1K", "PJ-X"):
            report_store.put_spare_stock(session, "s1", model, NOW, held=1, used=0)
        report_store.put_advisory(
            session,
            "RC-2026-004",
            NOW,
            vendor=None,
            model="CAM-A",
            firmware_min=None,
            firmware_max="2.3.4",
            severity="high",
            title="Video stream freezes after 49 days of uptime",
            text="Firmware up to 2.3.4 stops streaming after 49.7 days (counter overflow).",
            action="Upgrade to 2.3.5 or later; reboot as a stop-gap.",
            url=None,
            published=date(2026, 8, 1),
            active=True,
        )
        report_store.put_schedule(
            session,
            "s1",
            NOW,
            customer="市教育局",
            interval_months=3,
            anchor=date(2026, 1, 1),
            lead_days=14,
            active=True,
            engineer="王工",
        )
    cam2 = (HOURS - CAM2_DOWN_HOURS) / HOURS
    room2 = (HOURS - R2_OFFLINE_HOURS) / HOURS
    last_day_value = DISK_START + DISK_PER_DAY * (PERIOD.days - 1)
    days = math.floor(round((100 - last_day_value) / DISK_PER_DAY, 6))
    return History(
        cam2_availability=cam2,
        room1_availability=(5 + cam2) / 6,
        room2_availability=room2,
        recorder_uptime=(HOURS - RECORDER_DOWN_HOURS) / HOURS,
        disk_full_days=days,
        disk_full_date=PERIOD.end - timedelta(days=1) + timedelta(days=days),
    )


def service(db: Database) -> ReportService:
    return ReportService(db, Workflow(), "Asia/Shanghai", clock=lambda: NOW)


@pytest.fixture
def history(database: Database) -> History:
    return build_quarter_history(database)


def test_the_expected_numbers_of_the_scenario():
    # The scenario's arithmetic, spelt out: 92 days; 86.4 % on the last day; 34 days to 100 %.
    assert HOURS == 2208
    assert f"{(HOURS - CAM2_DOWN_HOURS) / HOURS:.2%}" == "98.01%"
    assert math.floor(round((100 - 86.4) / 0.4, 6)) == 34


def test_report_data_has_the_known_figures(database: Database, history: History):
    svc = service(database)
    svc.apply_advisories()
    with database.session() as session:
        report = build_report(session, "s1", PERIOD, "en", NOW)
    rooms = {room.id: room for room in report.rooms}
    assert rooms["r1"].name == ROOM_ZH
    cam2 = next(d for d in rooms["r1"].devices if d.device == "cam2")
    assert cam2.availability == pytest.approx(history.cam2_availability)
    assert cam2.prev_availability == pytest.approx(1.0)
    assert rooms["r1"].availability == pytest.approx(history.room1_availability)
    # hours without samples count as down only because an agent_offline fault covered them
    assert rooms["r2"].availability == pytest.approx(history.room2_availability)
    assert rooms["r2"].offline_hours == pytest.approx(R2_OFFLINE_HOURS)
    assert rooms["r1"].recorder_uptime == pytest.approx(history.recorder_uptime)
    host = next(d for d in rooms["r1"].devices if d.device == "host")
    cpu = next(m for m in host.metrics if m.key == "cpu_pct")
    assert (cpu.min, cpu.max, cpu.p95) == (0, 99, 94)  # nearest rank over 2208 hourly means
    sw = next(d for d in rooms["r1"].devices if d.device == "sw")
    assert sw.interface_errors == round(0.001 * 3600 * 24 * 30)

    hazards = {(h.kind, h.device): h for h in report.hazards}
    disk = hazards[("disk_full", "host")]
    assert disk.params["days"] == history.disk_full_days == 34
    assert disk.params["full_date"] == history.disk_full_date.isoformat() == "2026-11-03"
    assert disk.severity == "medium"
    assert ("temperature_rise", "host") in hazards
    assert ("ups_battery_replace", "ups") in hazards
    assert ("ups_runtime_decline", "ups") in hazards
    assert ("lamp_end_of_life", "proj") in hazards
    assert ("interface_errors", "sw") in hazards
    assert hazards[("repeated_faults", "cam2")].params["count"] == 3
    assert not any(h.device == "enc" for h in report.hazards)  # flat storage: no hazard

    levels = {s.level: s for s in report.faults.levels}
    assert (levels[1].opened, levels[3].opened, levels[3].open_at_end) == (4, 1, 1)
    assert levels[4].opened == 0  # the advisory's faults open today, after the quarter
    clocks = {c.kind: c for c in report.faults.clocks}
    assert (clocks["respond"].met, clocks["fix"].breached) == (1, 1)
    assert [f.id for f in report.faults.breached] == [report.faults.faults[0].id]
    assert report.faults.faults[0].log is not None

    spares = {s.model: s for s in report.spares}
    assert (spares["CAM-A"].procured, spares["CAM-A"].required, spares["CAM-A"].short) == (
        3,
        1,
        True,
    )
    assert spares["CAM-A"].used_in_period == 1
    assert (spares["RS-8000"].required, spares["RS-8000"].short) == (1, False)

    (advisory,) = report.advisories
    assert sorted((d.room_id, d.device) for d in advisory.devices) == [
        ("r1", "cam1"),
        ("r1", "cam2"),
    ]
    assert all(d.fault_id is not None for d in advisory.devices)

    checklist = {c.key: c for c in report.checklist}
    assert checklist["cameras_available"].status == "fail"
    assert "cam2" in checklist["cameras_available"].failures[0]
    assert checklist["disk_free"].status == "fail"  # 86.4 % used at the end
    assert checklist["storage_free"].status == "pass"
    assert checklist["ups_battery_ok"].status == "fail"
    assert checklist["test_recording"].status == "pending"
    assert not report.goals.edited and report.goals.items  # prefilled


def test_advisory_faults_are_l4_and_opened_once(database: Database, history: History):
    svc = service(database)
    first = svc.apply_advisories()
    again = svc.apply_advisories()
    assert (len(first.opened), first.matched) == (2, 2)
    assert again.opened == [] and again.resolved == []
    with database.session() as session:
        faults = session.scalars(select(Fault).where(Fault.rule_id == "vendor_advisory")).all()
        assert sorted(f.target for f in faults) == [
            "r1/cam1/advisory{id=RC-2026-004}",
            "r1/cam2/advisory{id=RC-2026-004}",
        ]
        assert {f.level for f in faults} == {4}
        cam1 = session.scalar(select(Device).where(Device.room_id == "r1", Device.device == "cam1"))
        assert cam1 is not None
        cam1.firmware = "V2.3.5 build 260901"  # upgraded
    upgraded = svc.apply_advisories()
    assert len(upgraded.resolved) == 1
    with database.session() as session:
        active = session.scalar(
            select(func.count()).where(
                Fault.rule_id == "vendor_advisory", Fault.open_key.is_not(None)
            )
        )
        assert active == 1


def test_a_closed_advisory_fault_stays_closed_until_firmware_or_advisory_change(
    database: Database, history: History
):
    from roomwatch.collector.workflow.logbook import LogEntry

    svc = service(database)
    svc.apply_advisories()
    log = LogEntry(
        phenomenon="Advisory RC-2026-004 applies.",
        cause="Known vendor bug.",
        solution="Customer informed; upgrade planned.",
        engineer="Li Wei",
    )
    with database.session(write=True) as session:
        fault = session.scalar(select(Fault).where(Fault.target.like("r1/cam1/%")))
        assert fault is not None
        Workflow().transition(session, fault, "resolved", "eng", NOW, log=log)
        Workflow().transition(session, fault, "closed", "eng", NOW)
    assert svc.apply_advisories().opened == []  # the hourly match changes nothing
    with database.session(write=True) as session:
        advisory = session.scalar(select(VendorAdvisory))
        assert advisory is not None
        advisory.severity = "critical" if advisory.severity != "critical" else "high"
    assert len(svc.apply_advisories().opened) == 1  # a changed advisory opens it again


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_pdf_reads_as_the_customer_expects(
    database: Database, history: History, lang: str, request: pytest.FixtureRequest
):
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext missing: apt-get install poppler-utils"
    generated = service(database).generate("s1", QUARTER, lang, "王工")
    assert generated.pdf is not None and generated.pdf.startswith(b"%PDF")
    backend = database.engine.dialect.name
    ARTIFACTS.mkdir(exist_ok=True)
    pdf_path = ARTIFACTS / f"inspection-report-{lang}-{backend}.pdf"
    pdf_path.write_bytes(generated.pdf)
    text = subprocess.run(
        [pdftotext, "-enc", "UTF-8", str(pdf_path), "-"], capture_output=True, check=True, text=True
    ).stdout
    flat = re.sub(r"\s+", " ", text)

    assert ROOM_ZH in flat and ROOM_EN in flat and "第一实验小学" in flat
    assert f"{history.cam2_availability * 100:.2f} %" in flat  # 98.01 %
    assert f"{history.room1_availability * 100:.2f} %" in flat
    assert f"{history.room2_availability * 100:.2f} %" in flat
    assert "RC-2026-004" in flat and "V2.3.1 build 250101" in flat
    assert "CAM-A" in flat
    if lang == "en":
        assert "Disk of host (mount /) full in 34 days" in flat
        assert "2026-11-03" in flat
        assert "BELOW QUOTA" in flat
        assert "Next period's work and goals" in flat
    else:
        assert "host 磁盘（挂载点 /）预计 34 天后写满" in flat
        assert "低于定额" in flat
        assert "故障现象" in flat and "摄像机画面中断" in flat
        assert "下阶段工作与目标" in flat
        # a page as an image, to look at: Chinese glyphs, not boxes
        pdftoppm = shutil.which("pdftoppm")
        assert pdftoppm, "pdftoppm missing: apt-get install poppler-utils"
        subprocess.run(
            [
                pdftoppm,
                "-png",
                "-r",
                "80",
                "-f",
                "1",
                "-l",
                "1",
                str(pdf_path),
                str(ARTIFACTS / f"inspection-report-{lang}-{backend}-page"),
            ],
            check=True,
        )
        fonts = subprocess.run(
            ["pdffonts", str(pdf_path)], capture_output=True, check=True, text=True
        ).stdout
        assert "CJK" in fonts, fonts


def test_the_report_is_archived_with_its_parameters_and_can_be_regenerated(
    database: Database, history: History
):
    svc = service(database)
    first = svc.generate("s1", "2026-Q3", "en", "wang", pdf=False)
    assert first.archived_id is not None
    stored = svc.archived(first.archived_id)
    assert stored.params == {
        "site": "s1",
        "period": "2026Q3",
        "lang": "en",
        "timezone": ZONE,
        "pdf": False,
        "devices": "auto",
    }
    assert stored.summary["spare_shortages"] == ["CAM-A", "ENC-9"]  # no ENC-9 spare at all
    assert stored.summary["advisories"] == {"RC-2026-004": 2}
    again = svc.regenerate(first.archived_id, "li")
    assert again.archived_id not in (None, first.archived_id)
    assert svc.archived(again.archived_id or 0).regenerated_from == first.archived_id
    assert again.html == stored.html  # same data, same clock: the same document


def test_edited_goals_replace_the_prefilled_ones(database: Database, history: History):
    with database.session() as session:
        report_store.put_goals(
            session,
            "s1",
            PERIOD.start,
            ["扩容 101 教室录播主机磁盘"],
            "与信息中心确认",
            "王工",
            NOW,
        )
    generated = service(database).generate("s1", QUARTER, "zh-CN", "王工", pdf=False)
    assert generated.report.goals.edited
    assert generated.report.goals.items == ["扩容 101 教室录播主机磁盘"]
    assert "扩容 101 教室录播主机磁盘" in generated.html


def test_due_inspections_follow_the_schedule(database: Database, history: History):
    svc = service(database)
    due = svc.due(date(2026, 10, 8))
    assert [(d.site_id, d.period_label, d.days_overdue) for d in due] == [("s1", "2026Q3", 7)]
    assert due[0].customer == "市教育局"
    svc.generate("s1", QUARTER, "en", "wang", pdf=False)
    assert svc.due(date(2026, 10, 8)) == []
    soon = svc.due(date(2026, 12, 20))  # Q4 ends 2027-01-01, 12 days later, lead 14 days
    assert [(d.period_label, d.days_overdue) for d in soon] == [("2026Q4", -12)]


def test_a_large_site_lists_only_the_exceptions_device_by_device(
    database: Database, history: History
):
    generated = service(database).generate(
        "s1", QUARTER, "en", "wang", pdf=False, archive=False, devices="exceptions"
    )
    # every device but cam1 of room 1 (100 %, no fault, no hazard) is an exception
    assert "8 of 9 devices listed" in generated.html
    table = generated.html.split('class="small devices"')[1].split("</table>")[0]
    rows = table.split("<tbody>")[1].split("<tr>")[1:]
    assert len(rows) == 8
    assert not any(ROOM_ZH in row and ">cam1 <" in row for row in rows)

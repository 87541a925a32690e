"""The pre-class readiness message and the inspection reminder speak their site's language,
as fault notifications do: a Chinese school and an English-speaking one, each with a room
whose camera is down (a rule fault), whose recorder is stopped and whose disk is full, and
a room nobody watches. Each duty engineer's message in the outbox is in one language only.
On SQLite and PostgreSQL, on the injected clock."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from roomwatch.agent.wire import DeviceSample
from roomwatch.collector.db import report_store, sla_store
from roomwatch.collector.db.models import Device
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.sla_models import OutboxMessage
from roomwatch.collector.dispatch.readiness import ReadinessCheck, ReadinessConfig
from roomwatch.collector.faults import FaultTracker, Subject
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.reports.reminders import send_reminders
from roomwatch.collector.reports.service import ReportService
from roomwatch.collector.rules.book import RuleBook
from roomwatch.collector.sla.policies import ContactDoc
from roomwatch.collector.workflow import Workflow
from tests.collector.dispatch_support import TIMETABLE, host, report, workflow
from tests.collector.sla_support import FakeClock, cst, load_shipped

SITES = [
    # (site, name, language, watched room, its name, agent, unwatched room, duty e-mail)
    ("yz", "第一中学", "zh-CN", "yz-301", "高一(3)班录播教室", "agent-yz", "yz-302", "zh@x.cn"),
    ("rs", "Riverside School", "en", "rs-12", "Studio 12", "agent-rs", "rs-13", "en@x.cn"),
]
# English the collector used to add to a Chinese site's messages.
ENGLISH = ("not ready", "first period", "Fault", "fault:", "offline", "not running", "full at",
           "unreachable", "deadline", "assignee", "Inspection", "due")  # fmt: skip


def _inventory() -> Inventory:
    return Inventory.model_validate(
        {
            "sites": [
                {
                    "id": site,
                    "name": name,
                    "language": language,
                    "timezone": "Asia/Shanghai",
                    "timetable": TIMETABLE,
                    "rooms": [
                        {
                            "id": room,
                            "name": room_name,
                            "agents": [agent],
                            "devices": [
                                {"id": "host", "kind": "host"},
                                {"id": "cam1", "kind": "camera"},
                            ],
                        },
                        {"id": unwatched, "name": f"{room_name} B", "agents": [f"{agent}-b"]},
                    ],
                }
                for site, name, language, room, room_name, agent, unwatched, _ in SITES
            ]
        }
    )


def _set_up(db: Database, clock: FakeClock) -> None:
    sync_inventory(db, _inventory())
    load_shipped(db, clock.now)
    with db.session() as session:
        for site, *_, duty in SITES:
            contact = ContactDoc(
                name=f"duty {site}", role="engineer_on_duty", site=site, email=duty
            )
            sla_store.put_contact(session, contact)


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _received(db: Database, prefix: str) -> dict[str, str]:
    """recipient → subject and body of the messages whose dedupe key starts with ``prefix``."""
    with db.session() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith(prefix))
        ).all()
        return {row.recipient: f"{row.subject}\n{row.body}" for row in rows}


def test_the_readiness_message_is_in_the_sites_language(database: Database):
    clock = FakeClock(cst(2025, 3, 4, 7, 40))  # a Tuesday; lessons from 08:00, lead 10 min
    _set_up(database, clock)
    tracker = FaultTracker(RuleBook.builtin(), workflow(clock))
    down = DeviceSample(device="cam1", kind="camera", reachable=False, error="timeout")
    for site, _, _, room, _, agent, _, _ in SITES:
        report(database, agent, clock.now, host(disk_used_pct=100.0, recorder_running=0.0))
        with database.session() as session:
            camera = session.scalars(
                select(Device).where(Device.room_id == room, Device.device == "cam1")
            ).one()
            for minute in range(6):  # past the camera's guard on consecutive polls
                at = clock.now + timedelta(minutes=minute)
                tracker.observe(session, Subject(room, agent, camera.id, site), down, at)

    clock.now = cst(2025, 3, 4, 7, 55)
    check = ReadinessCheck(database, ReadinessConfig(at="07:55"), clock, "Asia/Shanghai")
    assert len(check.tick()) == 2
    received = _received(database, "ready|")
    zh, en = received["zh@x.cn"], received["en@x.cn"]

    for said in (
        "第一中学 2025-03-04 课前检查：2 间教室未就绪",
        "第一中学 — 2025-03-04，第一节 08:00-08:45",
        "故障：高一(3)班录播教室 的 cam1 无法访问；响应时限 2025-03-04",
        "录制程序未运行（host）：recorder 未运行",
        "存储将满（host）：D: 已用 100 %，预计 2025-03-04 07:40 写满",
        "代理离线：该教室没有在线的代理",
    ):
        assert said in zh, (said, zh)
    for english in ENGLISH:
        assert english not in zh, (english, zh)

    for said in (
        "Riverside School 2025-03-04 pre-class check: 2 rooms not ready",
        "Riverside School — 2025-03-04, first period 08:00-08:45",
        "Fault: cam1 unreachable in Studio 12; respond deadline 2025-03-04",
        "Recorder not running (host): recorder not running",
        "Storage filling up (host): D: 100 % used, full at 2025-03-04 07:40",
        "Agent offline: no agent of the room is online",
    ):
        assert said in en, (said, en)
    assert not _has_chinese(en), en


def test_the_inspection_reminder_is_in_the_sites_language(database: Database):
    clock = FakeClock(cst(2026, 3, 22, 8))  # 2026Q1 is due on 2026-04-01: in the lead time
    _set_up(database, clock)
    with database.session() as session:
        for site, *_ in SITES:
            report_store.put_schedule(
                session, site, clock.now, anchor=date(2026, 1, 1), interval_months=3, lead_days=10
            )
    service = ReportService(database, Workflow(), "Asia/Shanghai", clock=clock)
    assert len(send_reminders(database, service, clock.now)) == 2
    received = _received(database, "inspection|")
    zh, en = received["zh@x.cn"], received["en@x.cn"]

    assert zh == (
        "[roomwatch] 巡检提醒：第一中学 2026Q1\n"
        "巡检提醒：第一中学 2026Q1 的巡检应于 2026-04-01 前完成。"
    )
    assert en == (
        "[roomwatch] inspection due: Riverside School 2026Q1\n"
        "Inspection reminder: Riverside School 2026Q1 is due by 2026-04-01."
    )

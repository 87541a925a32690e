"""The plan's follow-through: an inspection reminder goes out once when the period enters
its lead time (a restart does not repeat it); the school's checklist confirmation, return
visits and training sessions are stored through the API and appear in the quarterly report,
in both languages. On SQLite and PostgreSQL, on the injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from roomwatch.collector.api.app import create_app
from roomwatch.collector.db import report_store, sla_store
from roomwatch.collector.db.scope import bind_sites
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.sla_models import OutboxMessage
from roomwatch.collector.db.workflow_models import User
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.reports.reminders import send_reminders
from roomwatch.collector.reports.render import render_report
from roomwatch.collector.reports.service import ReportService
from roomwatch.collector.sla.policies import ContactDoc
from roomwatch.collector.workflow import Workflow
from tests.collector.auth_support import auth_headers
from tests.collector.sla_support import FakeClock, cst

QUARTER_END = date(2026, 4, 1)  # 2026Q1 ends; lead time 10 days
SITE = {"id": "s1", "name": "First School", "timezone": "Asia/Shanghai", "rooms": [
    {"id": "r1", "name": "Room 101", "devices": [{"id": "host", "kind": "host"}]}]}  # fmt: skip


@dataclass
class World:
    db: Database
    clock: FakeClock
    engineer: TestClient
    school: TestClient


@pytest.fixture
def world(database: Database) -> Iterator[World]:
    clock = FakeClock(cst(2026, 3, 21, 8))  # 11 days before the quarter ends
    sync_inventory(database, Inventory.model_validate({"sites": [SITE]}))
    with database.session() as session:
        sla_store.put_contact(
            session, ContactDoc(name="wang", role="engineer_on_duty", email="wang@example.cn")
        )
        report_store.put_schedule(
            session, "s1", clock.now, anchor=date(2026, 1, 1), interval_months=3, lead_days=10
        )
    app = create_app(database, CollectorRegistry(), clock=clock)
    engineer = TestClient(app, headers=auth_headers(database, "engineer", "wang"))
    school = TestClient(app, headers=auth_headers(database, "school", "zhou"))
    with database.session() as session:  # the school's account sees its own site
        user = session.scalar(select(User).where(User.username == "zhou"))
        assert user is not None
        bind_sites(session, user, ["s1"])
    with engineer, school:
        yield World(database, clock, engineer, school)


def _reminders(db: Database) -> list[str]:
    with db.session() as session:
        reminder = OutboxMessage.dedupe_key.startswith("inspection|")
        query = select(OutboxMessage.recipient).where(reminder)
        return list(session.scalars(query))


def test_the_inspection_reminder_goes_out_once_in_the_lead_time(world: World):
    assert world.engineer.post("/api/inspections/reminders").json() == []  # 11 days ahead
    world.clock.advance(timedelta(days=1))  # 10 days ahead: in the lead time
    sent = world.engineer.post("/api/inspections/reminders").json()
    assert sent == [{"site_id": "s1", "period_label": "2026Q1", "due_on": "2026-04-01"}]
    assert _reminders(world.db) == ["wang@example.cn"]
    world.clock.advance(timedelta(hours=6))
    # A restart: a new service over the same database remembers what it sent.
    again = ReportService(world.db, Workflow(), "Asia/Shanghai", clock=world.clock)
    assert send_reminders(world.db, again, world.clock.now) == []
    assert world.engineer.post("/api/inspections/reminders").json() == []
    assert _reminders(world.db) == ["wang@example.cn"]
    assert world.school.post("/api/inspections/reminders").status_code == 403


def test_confirmation_visits_and_trainings_are_in_the_report(world: World):
    e, s = world.engineer, world.school
    assert s.put("/api/inspections/s1/periods/2026Q1/confirmation", json={}).status_code == 200
    confirmed = s.get("/api/inspections/s1/periods/2026Q1/confirmation").json()
    assert confirmed["confirmed_by"] == "zhou" and confirmed["entered_role"] == "school"
    # An engineer enters it for the school: the representative's name is required.
    assert e.put("/api/inspections/s1/periods/2026Q1/confirmation", json={}).status_code == 422
    by_engineer = e.put(
        "/api/inspections/s1/periods/2026Q1/confirmation",
        json={"confirmed_by": "周主任", "confirmed_at": "2026-03-20T10:00:00+08:00"},
    )
    assert by_engineer.status_code == 200 and by_engineer.json()["entered_by"] == "wang"

    visit = {"kind": "return_visit", "held_on": "2026-03-10", "people": ["王工", "周主任"],
             "topics": "录播效果回访", "issues": "101 教室话筒音量偏低"}  # fmt: skip
    training = {"kind": "training", "held_on": "2026-02-26", "people": ["张老师"],
                "topics": "Recording software basics", "issues": ""}  # fmt: skip
    outside = {**visit, "held_on": "2026-04-02", "topics": "next quarter"}
    for body in (visit, training, outside):
        assert e.post("/api/sites/s1/visits", json=body).status_code == 201
    assert s.post("/api/sites/s1/visits", json=visit).status_code == 403
    bad = e.post("/api/sites/s1/visits", json={**visit, "people": []})
    assert bad.status_code == 422
    listed = e.get("/api/sites/s1/visits", params={"kind": "training"}).json()
    assert [v["topics"] for v in listed] == ["Recording software basics"]

    service = ReportService(world.db, Workflow(), "Asia/Shanghai", clock=world.clock)
    report = service.build("s1", "2026Q1", "zh-CN")
    assert [v.topics for v in report.return_visits] == ["录播效果回访"]
    assert [v.people for v in report.trainings] == [["张老师"]]
    assert report.confirmation is not None and report.confirmation.confirmed_by == "周主任"
    assert report.summary()["return_visits"] == 1
    html_zh, _ = render_report(report, "zh-CN", "auto", pdf=False)
    assert "八、回访记录" in html_zh and "101 教室话筒音量偏低" in html_zh
    assert "九、培训记录" in html_zh and "学校方 周主任 已于" in html_zh
    assert "next quarter" not in html_zh
    html_en, _ = render_report(service.build("s1", "2026Q1", "en"), "en", "auto", pdf=False)
    assert "8. Return visits" in html_en and "9. Training sessions" in html_en
    assert "Checklist confirmed for the school by 周主任" in html_en

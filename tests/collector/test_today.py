"""Today (今日课堂): a school's periods with the rooms whose lesson is at risk, on the
injected clock, from faults opened through the real workflow, agent status and metrics
stored through the ingest store. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from roomwatch.collector.db import dispatch_store
from roomwatch.collector.db.models import Agent
from roomwatch.collector.db.session import Database
from roomwatch.collector.dispatch.today import SiteToday, projected_full_at, site_today
from tests.collector.dispatch_support import host, open_fault, report, set_up_school
from tests.collector.sla_support import FakeClock, cst

MONDAY_0730 = cst(2025, 3, 3, 7, 30)


@pytest.fixture
def school_db(database: Database) -> Database:
    set_up_school(database, MONDAY_0730 - timedelta(hours=12))
    return database


def today(db: Database, now_at: object, site: str = "s1") -> SiteToday:
    with db.session() as session:
        row = dispatch_store.get_site(session, site)
        facts = dispatch_store.room_facts(session, site, now_at, 6.0)  # type: ignore[arg-type]
        return site_today(row, facts, now_at, "Asia/Shanghai")  # type: ignore[arg-type]


def at_risk(view: SiteToday) -> list[tuple[str, str, list[str]]]:
    return [
        (period.label, room.room_id, [risk.kind for risk in room.risks])
        for day in view.days
        for period in day.periods
        for room in period.at_risk
    ]


def test_a_switch_fault_puts_the_lesson_at_risk_a_projector_fault_does_not(school_db):
    clock = FakeClock(MONDAY_0730 - timedelta(minutes=20))
    report(school_db, "agent-1", clock.now, host())
    report(school_db, "agent-2", clock.now, host())
    switch_fault = open_fault(school_db, clock, "r1", "sw", "PoE switch down")
    open_fault(school_db, clock, "r2", None, "Room 102 projector lamp dim")  # a room report
    projector = open_fault(school_db, clock, "r1", "proj", "Projector lamp end of life", 3)

    view = today(school_db, MONDAY_0730)

    assert [d.day.isoformat() for d in view.days] == ["2025-03-03"]
    assert [p.label for p in view.days[0].periods] == ["08:00-08:45", "09:00-09:45", "14:00-14:45"]
    first = view.days[0].periods[0]
    assert first.rooms == 2
    rooms = {room.room_id: room for room in first.at_risk}
    assert set(rooms) == {"r1", "r2"}  # r2: its fault was reported for the room itself
    r1 = rooms["r1"].risks
    assert [(r.kind, r.fault_id, r.device) for r in r1] == [("fault", switch_fault, "sw")]
    assert projector not in {r.fault_id for room in first.at_risk for r in room.risks}
    # The 7x24 L1 respond clock runs out first: 30 minutes after the report.
    assert r1[0].deadline_kind == "respond"
    assert r1[0].deadline_at == clock.now + timedelta(minutes=30)
    assert r1[0].level == 1 and r1[0].status == "open"


def test_an_agent_offline_and_a_stopped_recorder_within_the_lead_time(school_db):
    now = MONDAY_0730
    report(school_db, "agent-1", now, host(recorder_running=0))
    report(school_db, "agent-2", now, host())
    with school_db.session() as session:
        session.execute(update(Agent).where(Agent.id == "agent-2").values(online=False))

    # 07:30: the recorder need not run yet (lead time 10 min before 08:00).
    assert at_risk(today(school_db, now)) == [
        ("08:00-08:45", "r2", ["agent_offline"]),
        ("09:00-09:45", "r2", ["agent_offline"]),
        ("14:00-14:45", "r2", ["agent_offline"]),
    ]
    # 07:51: inside the first period's lead time, not yet the second's.
    assert at_risk(today(school_db, now + timedelta(minutes=21)))[:2] == [
        ("08:00-08:45", "r1", ["recorder_not_running"]),
        ("08:00-08:45", "r2", ["agent_offline"]),
    ]
    assert ("09:00-09:45", "r1", ["recorder_not_running"]) not in at_risk(
        today(school_db, now + timedelta(minutes=21))
    )


def test_storage_projected_full_before_a_period_ends(school_db):
    # The recording disk filled 8 % an hour over three hours; 88 % at 07:30: full at 09:00.
    start = MONDAY_0730 - timedelta(hours=3)
    for hours, used_pct in enumerate((64.0, 72.0, 80.0, 88.0)):
        report(school_db, "agent-2", start + timedelta(hours=hours), host(disk_used_pct=used_pct))
    report(school_db, "agent-1", MONDAY_0730, host())

    risky = at_risk(today(school_db, MONDAY_0730))

    assert [(label, room) for label, room, _ in risky] == [
        ("09:00-09:45", "r2"),
        ("14:00-14:45", "r2"),
    ]
    assert all(kinds == ["storage_full"] for _, _, kinds in risky)


def test_fill_rate_needs_an_hour_of_history_and_a_rising_disk():
    at = MONDAY_0730
    assert projected_full_at([], at, 99.0) is None  # one sample: no rate
    assert projected_full_at([(at - timedelta(hours=2), 95.0)], at, 90.0) is None  # emptying
    assert projected_full_at([], at, 100.0) == at  # already full
    full = projected_full_at([(at - timedelta(hours=2, minutes=30), 80.0)], at, 90.0)
    assert full == at + timedelta(hours=2)  # 10 % in 2 h from the hour's middle: 5 %/h


def test_after_the_last_period_and_on_holidays_the_next_school_day_is_shown(school_db):
    after_school = cst(2025, 3, 3, 15)
    assert [d.day.isoformat() for d in today(school_db, after_school).days] == ["2025-03-04"]
    # Friday 2025-04-04 is Qingming (清明): no class; the next school day is Monday.
    qingming = cst(2025, 4, 4, 7)
    assert [d.day.isoformat() for d in today(school_db, qingming).days] == ["2025-04-07"]
    # Sunday 2025-04-27 is a make-up working day (调休): classes as on a weekday.
    makeup = cst(2025, 4, 27, 7)
    view = today(school_db, makeup)
    assert [d.day.isoformat() for d in view.days] == ["2025-04-27"]
    assert len(view.days[0].periods) == 3

"""Dispatch: the roster decides who is on duty (weekly shifts, nights past midnight, date
overrides), a fault opened through the workflow is assigned from it and its assignee hears
first, and the pre-class readiness check sends one message per school day that a restart
does not repeat. On SQLite and PostgreSQL, on the injected clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from roomwatch.collector.db import faults_store
from roomwatch.collector.db.dispatch_models import ReadinessRun
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.sla_models import OutboxMessage
from roomwatch.collector.dispatch.readiness import ReadinessCheck, ReadinessConfig
from roomwatch.collector.dispatch.roster import on_duty
from roomwatch.collector.sla.service import SlaService
from tests.collector.dispatch_support import add_shift, host, open_fault, report, set_up_school
from tests.collector.sla_support import FakeClock, cst

TUESDAY_0700 = cst(2025, 3, 4, 7)


@dataclass
class Shift:
    id: int
    person: str
    weekdays: list[str] = field(default_factory=list)
    day: date | None = None
    start_hm: str = "08:00"
    end_hm: str = "18:00"
    contact_id: int | None = None


ROSTER = [
    Shift(1, "day-wang", ["mon", "tue", "wed", "thu", "fri"], start_hm="08:00", end_hm="18:00"),
    Shift(2, "night-li", ["mon", "tue", "wed", "thu", "fri"], start_hm="18:00", end_hm="08:00"),
    Shift(3, "weekend-zhao", ["sat", "sun"], start_hm="08:00", end_hm="08:00"),
    Shift(4, "swap-chen", day=date(2025, 3, 5), start_hm="08:00", end_hm="12:00"),
]


@pytest.mark.parametrize(
    ("at", "person"),
    [
        (cst(2025, 3, 3, 9), "day-wang"),  # Monday working hours
        (cst(2025, 3, 3, 23), "night-li"),  # Monday night
        (cst(2025, 3, 4, 3), "night-li"),  # past midnight: still Monday's night shift
        (cst(2025, 3, 5, 10), "swap-chen"),  # Wednesday morning: the date override wins
        (cst(2025, 3, 5, 13), "day-wang"),  # ... and only for the hours it covers
        (cst(2025, 3, 8, 3), "night-li"),  # Saturday 03:00: Friday's night shift
        (cst(2025, 3, 8, 9), "weekend-zhao"),  # whole weekend days, 08:00 to 08:00
        (cst(2025, 3, 10, 7), "weekend-zhao"),  # Monday 07:00: Sunday's weekend shift
    ],
)
def test_the_roster_says_who_is_on_duty(at: datetime, person: str):
    shift = on_duty(ROSTER, at, "Asia/Shanghai")
    assert shift is not None and shift.person == person


@pytest.fixture
def school_db(database: Database) -> Database:
    set_up_school(database, TUESDAY_0700 - timedelta(days=1))
    return database


def _outbox(db: Database) -> list[OutboxMessage]:
    with db.session() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        session.expunge_all()
        return list(rows)


def test_a_fault_is_assigned_from_the_roster_and_its_assignee_hears_first(school_db):
    night = FakeClock(cst(2025, 3, 3, 22))  # Monday night: night-li on duty
    fault_id = open_fault(school_db, night, "r1", "cam1", "Camera unreachable")
    with school_db.session() as session:
        fault = faults_store.get_fault(session, fault_id)
        assert fault.assignee == "night-li"
        events = [(e.type, e.actor, e.detail.get("to")) for e in fault.events]
    assert ("assigned", "roomwatch-roster", "night-li") in events
    opened = [m for m in _outbox(school_db) if m.fault_id == fault_id]
    # The chain's first role has two engineers; the assignee comes first.
    assert [m.recipient for m in opened] == ["li@example.edu.cn", "wang@example.edu.cn"]

    # Unanswered: the respond clock's warning goes to the assignee first too.
    with school_db.session() as session:
        steps = SlaService(clock=night).due_escalations(session, night.now + timedelta(minutes=25))
    warning = next(s for s in steps if s.trigger == "warning")
    assert warning.recipients[0] == "night-li"


def test_readiness_sends_one_message_per_school_day_to_duty_and_school(school_db):
    clock = FakeClock(TUESDAY_0700)
    report(school_db, "agent-1", clock.now, host())
    report(school_db, "agent-2", clock.now, host())
    open_fault(school_db, clock, "r1", "sw", "PoE switch down")
    open_fault(school_db, clock, "r1", "proj", "Projector lamp", 3)  # not a risk
    before = len(_outbox(school_db))
    config = ReadinessConfig(at="07:30", check_every_s=60)

    check = ReadinessCheck(school_db, config, clock, "Asia/Shanghai")
    clock.now = cst(2025, 3, 4, 7, 29)
    assert check.tick() == []
    clock.now = cst(2025, 3, 4, 7, 30)
    [result] = check.tick()
    assert result.site_id == "s1" and [r.room_id for r in result.not_ready] == ["r1"]
    # Night-li is still on duty (night shift until 08:00); the school's contact too.
    assert result.recipients == ("night-li", "Principal Zhou")
    sent = _outbox(school_db)[before:]
    assert [m.recipient for m in sent] == ["li@example.edu.cn", "zhou@school.cn"]
    assert "1 间教室未就绪" in sent[0].subject  # the site's language: zh-CN by default
    assert "Room 101" in sent[0].body and "PoE switch down" in sent[0].body
    assert "Projector" not in sent[0].body

    # A restart (a new check) later that day sends nothing more.
    clock.now = cst(2025, 3, 4, 9)
    assert ReadinessCheck(school_db, config, clock, "Asia/Shanghai").tick() == []
    assert len(_outbox(school_db)) == before + 2
    with school_db.session() as session:
        runs = session.scalars(select(ReadinessRun)).all()
        assert [(r.site_id, r.day, r.not_ready, r.rooms) for r in runs] == [
            ("s1", date(2025, 3, 4), 1, ["r1"])
        ]


def test_readiness_all_ready_a_site_time_and_no_message_on_a_holiday(school_db):
    config = ReadinessConfig(at="07:30", sites={"s1": "08:05"})
    clock = FakeClock(cst(2025, 4, 4, 8, 30))  # Qingming: no school
    report(school_db, "agent-1", clock.now, host())
    report(school_db, "agent-2", clock.now, host())
    assert ReadinessCheck(school_db, config, clock, "Asia/Shanghai").tick() == []
    clock.now = cst(2025, 4, 27, 8)  # Sunday, a make-up working day, before s1's 08:05
    check = ReadinessCheck(school_db, config, clock, "Asia/Shanghai")
    assert check.tick() == []
    clock.now = cst(2025, 4, 27, 8, 5)
    check = ReadinessCheck(school_db, config, clock, "Asia/Shanghai")
    report(school_db, "agent-1", clock.now, host())
    report(school_db, "agent-2", clock.now, host())
    [result] = check.tick()
    assert result.day == date(2025, 4, 27) and result.not_ready == ()
    # Nobody is on the roster on a Sunday: the chain's engineers on duty are told.
    assert result.recipients == ("wang", "night-li", "Principal Zhou")
    assert "课前检查：全部就绪" in _outbox(school_db)[-1].subject


def test_a_date_override_sends_the_fault_to_the_stand_in(school_db):
    with school_db.session() as session:
        add_shift(session, person="chen", day=date(2025, 3, 4), start="08:00", end="18:00")
    clock = FakeClock(cst(2025, 3, 4, 10))
    fault_id = open_fault(school_db, clock, "r2", "host", "Recording PC unreachable")
    with school_db.session() as session:
        assert faults_store.get_fault(session, fault_id).assignee == "chen"

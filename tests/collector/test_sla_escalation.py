"""The escalation chain on a replayed day: each step fires once, at its lead time before a
deadline or at/after the breach, is recorded, and is enqueued for its people; a complaint
escalates at once, one role higher each time. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from roomwatch.collector.db import faults_store, sla_store
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.session import Database
from roomwatch.collector.sla.service import SlaService
from tests.collector.conftest import T0
from tests.collector.sla_support import FakeClock, add_chain, cst, load_shipped, new_fault


@pytest.fixture
def sla_db(placed_database: Database) -> Database:
    load_shipped(placed_database, T0)
    add_chain(placed_database)
    return placed_database


def _open(db: Database, level: int, at: datetime) -> int:
    with db.session() as session:
        fault = new_fault(session, level, at)
        SlaService(clock=FakeClock(at)).start_clocks(session, fault, at)
        return fault.id


def _change(db: Database, fault_id: int, old: str, new: str, at: datetime) -> None:
    with db.session() as session:
        fault = session.get(Fault, fault_id)
        assert fault is not None
        fault.status = new
        SlaService(clock=FakeClock(at)).on_status_change(session, fault, old, new, at)


def test_a_replayed_day_fires_each_step_once_at_lead_time_and_breach(sla_db):
    opened = cst(2025, 3, 3, 10)  # 7x24 L1: respond 10:30, on site 12:00, fix 18:00
    fault_id = _open(sla_db, 1, opened)
    clock = FakeClock(opened)
    service = SlaService(clock=clock)
    fired = []
    while clock.now < cst(2025, 3, 4, 3):
        clock.advance(timedelta(minutes=5))
        if clock.now == cst(2025, 3, 3, 10, 45):
            _change(sla_db, fault_id, "open", "acknowledged", clock.now)  # late: after 10:30
        with sla_db.session() as session:
            fired += [
                (clock.now, s.clock_kind, s.role)
                for s in service.due_escalations(session, clock.now)
            ]
    assert fired == [
        (cst(2025, 3, 3, 10, 20), "respond", "engineer_on_duty"),  # 10 min lead time
        (cst(2025, 3, 3, 10, 30), "respond", "project_lead"),  # breach
        (cst(2025, 3, 3, 11, 50), "on_site", "engineer_on_duty"),
        (cst(2025, 3, 3, 12), "on_site", "project_lead"),
        (cst(2025, 3, 3, 14), "on_site", "senior_engineer"),  # breach + 2 h
        (cst(2025, 3, 3, 17, 50), "fix", "engineer_on_duty"),
        (cst(2025, 3, 3, 18), "fix", "project_lead"),
        # the substitute unit is due from the fix breach, within 2 h
        (cst(2025, 3, 3, 19, 50), "replace", "engineer_on_duty"),
        (cst(2025, 3, 3, 20), "on_site", "management"),  # breach + 8 h
        (cst(2025, 3, 3, 20), "fix", "senior_engineer"),
        (cst(2025, 3, 3, 20), "replace", "project_lead"),
        (cst(2025, 3, 3, 22), "replace", "senior_engineer"),
        (cst(2025, 3, 4, 2), "fix", "management"),
    ]  # the respond clock stopped at 10:45, so its senior/management steps never came
    with sla_db.session() as session:
        clocks = {c.kind: c for c in sla_store.clocks_of(session, fault_id)}
        assert (clocks["respond"].met, clocks["respond"].overrun_min) == (False, 15)
        assert clocks["on_site"].breached_at == cst(2025, 3, 3, 12)
        rows = sla_store.escalations_of(session, fault_id)
        assert [r.notified for r in rows] == [1] * 13
        messages = sla_store.outbox_messages(session, fault_id=fault_id)
        # One e-mail per step; the project lead also has the ops webhook: 13 + 4.
        assert len(messages) == 17
        assert sorted({(m.channel, m.recipient) for m in messages}) == [
            ("email", "boss@example.edu.cn"),
            ("email", "duty@example.edu.cn"),
            ("email", "lead@example.edu.cn"),
            ("email", "senior@example.edu.cn"),
            ("ops-hook", "Li Lead"),
        ]
        breach_mail = next(m for m in messages if m.recipient == "boss@example.edu.cn")
        assert "L1" in breach_mail.subject and "management" in breach_mail.subject
        events = [e.type for e in faults_store.events_of(session, fault_id)]
        assert events.count("sla_breached") == 4
        assert events.count("sla_escalated") == 13


def test_two_collectors_sweeping_together_record_each_step_once(sla_db):
    fault_id = _open(sla_db, 1, cst(2025, 3, 3, 10))
    now = cst(2025, 3, 3, 10, 31)
    first, second = SlaService(clock=FakeClock(now)), SlaService(clock=FakeClock(now))
    with sla_db.session() as session:
        steps = first.due_escalations(session, now)
    with sla_db.session() as session:
        again = second.due_escalations(session, now)
    # At 10:31 the respond warning is stale (its deadline passed): only the breach step.
    assert [(s.clock_kind, s.role, s.trigger) for s in steps] == [
        ("respond", "project_lead", "breach")
    ]
    assert again == []
    with sla_db.session() as session:
        assert len(sla_store.escalations_of(session, fault_id)) == 1


def test_a_paused_clock_does_not_breach_or_escalate(sla_db):
    opened = cst(2025, 3, 3, 10)
    fault_id = _open(sla_db, 1, opened)
    _change(sla_db, fault_id, "open", "waiting_customer", cst(2025, 3, 3, 10, 10))
    later = cst(2025, 3, 3, 23)
    with sla_db.session() as session:
        assert SlaService(clock=FakeClock(later)).due_escalations(session, later) == []
        assert all(c.breached_at is None for c in sla_store.clocks_of(session, fault_id))


def test_a_complaint_escalates_one_role_higher_each_time(sla_db):
    at = cst(2025, 3, 3, 10)
    fault_id = _open(sla_db, 1, at)
    service = SlaService(clock=FakeClock(at))
    roles = []
    for minute in (5, 6, 7, 8):
        with sla_db.session() as session:
            fault = session.get(Fault, fault_id)
            assert fault is not None
            step = service.complaint(
                session, fault, at + timedelta(minutes=minute), "teacher Liu", "课堂录制中断"
            )
            roles.append(step.role)
    assert roles == ["project_lead", "senior_engineer", "management", "management"]
    with sla_db.session() as session:
        rows = sla_store.escalations_of(session, fault_id)
        assert (rows[0].trigger, rows[0].actor, rows[0].text) == (
            "complaint",
            "teacher Liu",
            "课堂录制中断",
        )
        first = list(sla_store.outbox_messages(session, fault_id=fault_id))[:2]
        assert {(m.channel, m.recipient) for m in first} == {
            ("email", "lead@example.edu.cn"),
            ("ops-hook", "Li Lead"),
        }
        assert "课堂录制中断" in first[0].body
        assert faults_store.has_event(session, fault_id, "complaint")


def test_a_complaint_after_a_breach_goes_above_the_role_already_reached(sla_db):
    opened = cst(2025, 3, 3, 10)
    fault_id = _open(sla_db, 1, opened)
    now = cst(2025, 3, 3, 12, 30)  # respond breach + 2 h: senior engineer reached
    service = SlaService(clock=FakeClock(now))
    with sla_db.session() as session:
        assert "senior_engineer" in [s.role for s in service.due_escalations(session, now)]
        fault = session.get(Fault, fault_id)
        assert fault is not None
        assert service.complaint(session, fault, now, "customer", "nobody came").role == (
            "management"
        )


def test_site_contacts_come_before_contacts_for_every_site(sla_db):
    from roomwatch.collector.sla.policies import ContactDoc

    with sla_db.session() as session:
        sla_store.put_contact(
            session,
            ContactDoc(name="Site Lead", role="project_lead", site="s1", email="s1@example.cn"),
        )
        assert [c.name for c in sla_store.contacts_for(session, "project_lead", "s1")] == [
            "Site Lead"
        ]
        assert [c.name for c in sla_store.contacts_for(session, "project_lead", None)] == [
            "Li Lead"
        ]


def test_a_transition_is_notified_once_to_the_engineer_on_duty(sla_db):
    at = cst(2025, 3, 3, 10)
    fault_id = _open(sla_db, 1, at)
    service = SlaService(clock=FakeClock(at))
    with sla_db.session() as session:
        fault = session.get(Fault, fault_id)
        assert fault is not None
        service.notify_transition(session, fault, "opened", at)
        service.notify_transition(session, fault, "opened", at)  # the same transition again
        messages = sla_store.outbox_messages(session, fault_id=fault_id)
    assert [(m.channel, m.recipient) for m in messages] == [("email", "duty@example.edu.cn")]
    assert "响应时限：2025-03-03 10:30" in messages[0].body  # the site reads zh-CN


def test_a_fault_resolved_behind_the_hooks_has_its_clocks_stopped_not_escalated(sla_db):
    opened = cst(2025, 3, 3, 10)
    fault_id = _open(sla_db, 1, opened)
    with sla_db.session() as session:
        fault = session.get(Fault, fault_id)
        assert fault is not None
        fault.status, fault.resolved_at = "resolved", cst(2025, 3, 3, 10, 25)
    now = cst(2025, 3, 3, 23)
    with sla_db.session() as session:
        assert SlaService(clock=FakeClock(now)).due_escalations(session, now) == []
        clocks = {c.kind: c for c in sla_store.clocks_of(session, fault_id)}
    assert clocks["respond"].stopped_at == cst(2025, 3, 3, 10, 25)
    assert (clocks["respond"].met, clocks["respond"].overrun_min) == (True, -5)

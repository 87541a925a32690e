"""SLA clocks of both shipped policies, to the minute, on real 2025/2026 dates: a weekend,
Golden Week, Spring Festival, Labour Day and the 调休 working Saturdays and Sundays; pause
and resume; met and breached with the minutes. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from roomwatch.collector.db import sla_store
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.session import Database
from roomwatch.collector.sla.service import SlaService
from tests.collector.conftest import T0
from tests.collector.sla_support import FakeClock, cst, load_shipped, new_fault


@pytest.fixture
def sla_db(placed_database: Database) -> Database:
    load_shipped(placed_database, T0)
    return placed_database


def _open(db: Database, level: int, at: datetime, policy: str | None = None) -> int:
    with db.session() as session:
        if policy is not None:
            sla_store.set_site_policy(session, "s1", policy, "", at, "test")
        fault = new_fault(session, level, at)
        SlaService(clock=FakeClock(at)).start_clocks(session, fault, at)
        return fault.id


def _deadlines(db: Database, fault_id: int) -> dict[str, datetime]:
    with db.session() as session:
        return {c.kind: c.deadline_at for c in sla_store.clocks_of(session, fault_id)}


def _status(db: Database, fault_id: int, old: str, new: str, at: datetime) -> None:
    with db.session() as session:
        fault = session.get(Fault, fault_id)
        assert fault is not None
        SlaService(clock=FakeClock(at)).on_status_change(session, fault, old, new, at)


# ------------------------------------------------------------------ 7x24


def test_7x24_l1_runs_on_the_wall_clock_through_a_golden_week_night(sla_db):
    fault_id = _open(sla_db, 1, cst(2025, 10, 4, 23, 50))  # a Saturday in the holiday
    assert _deadlines(sla_db, fault_id) == {
        "respond": cst(2025, 10, 5, 0, 20),
        "on_site": cst(2025, 10, 5, 1, 50),
        "fix": cst(2025, 10, 5, 7, 50),
    }


def test_7x24_l2_runs_on_the_wall_clock_over_a_weekend(sla_db):
    fault_id = _open(sla_db, 2, cst(2025, 3, 7, 20))  # Friday evening
    assert _deadlines(sla_db, fault_id) == {
        "respond": cst(2025, 3, 7, 21),
        "on_site": cst(2025, 3, 8, 0),
        "fix": cst(2025, 3, 8, 20),
    }


def test_7x24_l3_counts_working_hours_over_a_weekend(sla_db):
    fault_id = _open(sla_db, 3, cst(2025, 3, 7, 16, 30))  # Friday: 1 h left that day
    deadlines = _deadlines(sla_db, fault_id)
    assert deadlines["respond"] == cst(2025, 3, 10, 11, 30)  # 1 h Fri + 3 h Monday
    assert deadlines["on_site"] == cst(2025, 3, 11, 16, 30)  # 18 h = 1 + 9 + 8
    assert deadlines["fix"] == cst(2025, 3, 12, 16, 30)  # 27 h = 1 + 9 + 9 + 8


def test_7x24_l3_skips_golden_week_2025_and_works_the_make_up_saturday(sla_db):
    fault_id = _open(sla_db, 3, cst(2025, 9, 30, 16))  # Tuesday before National Day
    assert _deadlines(sla_db, fault_id) == {
        "respond": cst(2025, 10, 9, 11),  # 1.5 h on 30 Sep, 2.5 h on Thursday 9 Oct
        "on_site": cst(2025, 10, 10, 16),  # 18 h: 1.5 + 9 + 7.5
        "fix": cst(2025, 10, 11, 16),  # 27 h: ... + 7.5 h on Saturday 11 Oct (调休)
    }


def test_7x24_l3_across_labour_day_2026(sla_db):
    fault_id = _open(sla_db, 3, cst(2026, 4, 30, 17))  # Thursday, May 1-5 off
    assert _deadlines(sla_db, fault_id) == {
        "respond": cst(2026, 5, 6, 12),
        "on_site": cst(2026, 5, 7, 17),
        "fix": cst(2026, 5, 8, 17),
    }


def test_7x24_l4_across_spring_festival_2026(sla_db):
    fault_id = _open(sla_db, 4, cst(2026, 2, 13, 15))  # Friday; Saturday 14 Feb is worked
    assert _deadlines(sla_db, fault_id) == {
        "respond": cst(2026, 2, 14, 15),  # 1 working day = 9 h: 2.5 Fri + 6.5 Sat
        "fix": cst(2026, 2, 27, 15),  # 45 h: 2.5 + 9 (14th) + 9 x 3 (24-26th) + 6.5
    }


# ------------------------------------------------------------------ contract


def _sweep(db: Database, now: datetime) -> None:
    with db.session() as session:
        SlaService(clock=FakeClock(now)).due_escalations(session, now)


def test_contract_l1_respond_24h_fix_48h_then_replacement_in_3_working_days(sla_db):
    opened = cst(2025, 9, 25, 10)  # Thursday
    fault_id = _open(sla_db, 1, opened, policy="contract")
    assert _deadlines(sla_db, fault_id) == {
        "respond": cst(2025, 9, 26, 10),
        "fix": cst(2025, 9, 27, 10),
    }
    _sweep(sla_db, cst(2025, 9, 27, 9, 59))
    assert "replace" not in _deadlines(sla_db, fault_id)
    _sweep(sla_db, cst(2025, 9, 27, 10, 5))
    # The replacement clock starts at the fix breach (Saturday 10:00, not a working day):
    # Sunday 28 Sep is a 调休 working day, then Monday and Tuesday: 27 h end Tue 17:30.
    with sla_db.session() as session:
        replace = {c.kind: c for c in sla_store.clocks_of(session, fault_id)}["replace"]
        assert replace.started_at == cst(2025, 9, 27, 10)
        assert replace.deadline_at == cst(2025, 9, 30, 17, 30)
        assert replace.measure == "working"


def test_contract_replacement_skips_golden_week_and_lands_on_the_make_up_saturday(sla_db):
    fault_id = _open(sla_db, 2, cst(2025, 9, 29, 9), policy="contract")
    assert _deadlines(sla_db, fault_id)["fix"] == cst(2025, 10, 1, 9)
    _sweep(sla_db, cst(2025, 10, 1, 9))
    assert _deadlines(sla_db, fault_id)["replace"] == cst(2025, 10, 11, 17, 30)


def test_contract_replacement_across_spring_festival_2026(sla_db):
    fault_id = _open(sla_db, 3, cst(2026, 2, 10, 14), policy="contract")
    assert _deadlines(sla_db, fault_id)["fix"] == cst(2026, 2, 12, 14)
    _sweep(sla_db, cst(2026, 2, 12, 14, 1))
    # 3.5 h Thursday, 9 h Friday, 9 h Saturday 14 Feb (调休), then 5.5 h on Tuesday 24 Feb.
    assert _deadlines(sla_db, fault_id)["replace"] == cst(2026, 2, 24, 14)


def test_contract_l4_has_no_replacement_clock(sla_db):
    fault_id = _open(sla_db, 4, cst(2025, 9, 25, 10), policy="contract")
    _sweep(sla_db, cst(2025, 10, 30, 10))
    assert set(_deadlines(sla_db, fault_id)) == {"respond", "fix"}


# ------------------------------------------------------------------ stop, pause, resume


def test_transitions_stop_their_clocks_met_or_breached_with_minutes(sla_db):
    opened = cst(2025, 3, 3, 10)  # Monday, 7x24 L1: 10:30 / 12:00 / 18:00
    fault_id = _open(sla_db, 1, opened)
    _status(sla_db, fault_id, "open", "acknowledged", cst(2025, 3, 3, 10, 20))
    _status(sla_db, fault_id, "acknowledged", "waiting_parts", cst(2025, 3, 3, 11))
    _status(sla_db, fault_id, "waiting_parts", "on_site", cst(2025, 3, 3, 13))
    with sla_db.session() as session:
        clocks = {c.kind: c for c in sla_store.clocks_of(session, fault_id)}
    assert clocks["respond"].met is True
    assert clocks["respond"].overrun_min == -10
    # Two hours waiting for parts moved the on-site and fix deadlines by two hours.
    assert clocks["on_site"].deadline_at == cst(2025, 3, 3, 14)
    assert clocks["on_site"].paused_total_s == 7200
    assert (clocks["on_site"].met, clocks["on_site"].overrun_min) == (True, -60)
    assert clocks["fix"].deadline_at == cst(2025, 3, 3, 20)
    assert clocks["fix"].stopped_at is None

    _status(sla_db, fault_id, "on_site", "resolved", cst(2025, 3, 3, 20, 5))
    with sla_db.session() as session:
        fix = {c.kind: c for c in sla_store.clocks_of(session, fault_id)}["fix"]
    assert (fix.met, fix.overrun_min, fix.stopped_by) == (False, 5, "resolved")
    assert fix.breached_at == cst(2025, 3, 3, 20)


def test_a_pause_in_working_time_moves_the_deadline_by_the_paused_working_time(sla_db):
    fault_id = _open(sla_db, 3, cst(2025, 10, 10, 16))  # Friday before the 调休 Saturday
    assert _deadlines(sla_db, fault_id)["respond"] == cst(2025, 10, 11, 11)
    _status(sla_db, fault_id, "open", "waiting_customer", cst(2025, 10, 10, 17))
    _status(sla_db, fault_id, "waiting_customer", "open", cst(2025, 10, 13, 9))
    with sla_db.session() as session:
        respond = {c.kind: c for c in sla_store.clocks_of(session, fault_id)}["respond"]
    # Paused: 0.5 h Friday + 9 h Saturday (working) + 0.5 h Monday = 10 working hours;
    # 3 of the 4 hours were left at the pause: Monday 09:00 + 3 h.
    assert respond.paused_total_s == 10 * 3600
    assert respond.deadline_at == cst(2025, 10, 13, 12)


def test_a_working_time_breach_counts_working_minutes_late(sla_db):
    fault_id = _open(sla_db, 3, cst(2025, 3, 7, 16, 30))  # respond due Monday 11:30
    _status(sla_db, fault_id, "open", "acknowledged", cst(2025, 3, 11, 8, 45))
    with sla_db.session() as session:
        respond = {c.kind: c for c in sla_store.clocks_of(session, fault_id)}["respond"]
    # Monday 11:30-17:30 (6 h) + Tuesday 08:30-08:45: 375 working minutes late.
    assert (respond.met, respond.overrun_min) == (False, 375)


def test_clock_views_show_remaining_time_and_state(sla_db):
    opened = cst(2025, 3, 3, 10)
    fault_id = _open(sla_db, 1, opened)
    _status(sla_db, fault_id, "open", "acknowledged", cst(2025, 3, 3, 10, 5))
    service = SlaService(clock=FakeClock(cst(2025, 3, 3, 12, 30)))
    with sla_db.session() as session:
        views = {v.kind: v for v in service.clocks(session, fault_id)}
    assert views["respond"].state == "met"
    assert views["respond"].remaining_s == 25 * 60
    assert views["on_site"].state == "breached"
    assert views["on_site"].remaining_s == -30 * 60
    assert views["fix"].state == "running"
    assert views["fix"].remaining_s == timedelta(hours=5, minutes=30).total_seconds()


def test_a_site_without_a_mapping_gets_the_default_policy(sla_db):
    with sla_db.session() as session:
        assert sla_store.default_policy_id(session) == "7x24"
        sla_store.set_default_policy(session, "contract")
    fault_id = _open(sla_db, 1, cst(2025, 3, 3, 10))
    assert _deadlines(sla_db, fault_id)["fix"] == cst(2025, 3, 5, 10)


def test_starting_twice_keeps_one_clock_per_kind(sla_db):
    at = cst(2025, 3, 3, 10)
    with sla_db.session() as session:
        fault = new_fault(session, 1, at)
        service = SlaService(clock=FakeClock(at))
        service.start_clocks(session, fault, at)
        service.start_clocks(session, fault, at + timedelta(minutes=1))
        assert len(sla_store.clocks_of(session, fault.id)) == 3


def test_a_level_change_recomputes_running_clocks_from_their_start(sla_db):
    at = cst(2025, 3, 3, 10)
    fault_id = _open(sla_db, 3, at)
    with sla_db.session() as session:
        fault = session.get(Fault, fault_id)
        assert fault is not None
        fault.level = 1
        SlaService(clock=FakeClock(at)).on_level_change(session, fault, 3, 1, at)
    assert _deadlines(sla_db, fault_id) == {
        "respond": cst(2025, 3, 3, 10, 30),
        "on_site": cst(2025, 3, 3, 12),
        "fix": cst(2025, 3, 3, 18),
    }

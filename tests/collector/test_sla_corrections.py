"""Corrections of running SLA clocks, through the API and the real life cycle on SQLite and
PostgreSQL: a day off added by an admin moves the deadlines of faults already open; a
reopened fault's clocks run again so it breaches and escalates; a blank maintenance log is
refused naming the field; the 7×24 policy's substitute-unit clock and its delivery."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from roomwatch.collector.api.app import create_app
from roomwatch.collector.db import sla_store
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.session import Database
from roomwatch.collector.maintenance import MaintenanceCalendar
from roomwatch.collector.sla.service import SlaService
from roomwatch.collector.workflow import Workflow
from roomwatch.collector.workflow.hooks import ServiceHooks
from tests.collector.auth_support import auth_headers
from tests.collector.sla_support import FakeClock, add_chain, cst, load_shipped, new_fault

LOG = {
    "phenomenon": "Camera 2 shows no picture.",
    "cause": "PoE port 3 of the switch burnt out.",
    "solution": "Moved the camera to port 7.",
    "engineer": "Li Wei",
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class Site:
    db: Database
    clock: FakeClock
    sla: SlaService
    workflow: Workflow
    client: TestClient
    headers: dict[str, dict[str, str]]

    def open_fault(self, level: int) -> int:
        with self.db.session() as session:
            fault = new_fault(session, level, self.clock.now)
            self.sla.start_clocks(session, fault, self.clock.now)
            return fault.id

    def clocks(self, fault_id: int) -> dict[str, dict]:
        answer = self.client.get(
            f"/api/sla/faults/{fault_id}/clocks", headers=self.headers["viewer"]
        )
        assert answer.status_code == 200, answer.text
        return {c["kind"]: c for c in answer.json()}

    def sweep(self, at: datetime) -> list[str]:
        self.clock.now = at
        with self.db.session() as session:
            return [f"{s.clock_kind}:{s.role}" for s in self.sla.due_escalations(session, at)]

    def post(self, path: str, body: dict, role: str = "engineer") -> tuple[int, dict]:
        answer = self.client.post(path, json=body, headers=self.headers[role])
        return answer.status_code, answer.json()


@pytest.fixture
def site(placed_database: Database) -> Iterator[Site]:
    now = cst(2025, 9, 25, 10)  # a Thursday
    load_shipped(placed_database, now)
    add_chain(placed_database)
    clock = FakeClock(now)
    sla = SlaService(clock=clock)
    workflow = Workflow(hooks=ServiceHooks(sla), calendar=MaintenanceCalendar())
    app = create_app(placed_database, CollectorRegistry(), workflow=workflow, clock=clock)
    app.state.sla = sla
    headers = {
        role: auth_headers(placed_database, role) for role in ("viewer", "engineer", "admin")
    }
    with TestClient(app) as client:
        yield Site(placed_database, clock, sla, workflow, client, headers)


def test_a_day_off_added_later_moves_the_deadlines_of_open_faults(site: Site):
    fault_id = site.open_fault(3)  # L3: respond in 4 working hours, fix in 3 working days
    before = site.clocks(fault_id)
    # 27 working hours: Thu 7.5, Fri 9, Sunday 28 Sep (调休) 9, Monday 1.5.
    assert _at(before["fix"]["deadline_at"]) == cst(2025, 9, 29, 10)

    # The school closes on Monday 29 Sep (exams): one working day less before the deadline.
    put = site.client.put(
        "/api/sla/calendar/overrides/2025-09-29",
        json={"working": False, "note": "exams"},
        headers=site.headers["admin"],
    )
    assert put.status_code == 200, put.text
    after = site.clocks(fault_id)
    assert _at(after["fix"]["deadline_at"]) == cst(2025, 9, 30, 10)
    assert after["respond"]["deadline_at"] == before["respond"]["deadline_at"]  # same day

    deleted = site.client.delete(
        "/api/sla/calendar/overrides/2025-09-29", headers=site.headers["admin"]
    )
    assert deleted.status_code == 204
    assert site.clocks(fault_id)["fix"]["deadline_at"] == before["fix"]["deadline_at"]


def test_a_policy_with_other_working_hours_moves_running_working_time_deadlines(site: Site):
    fault_id = site.open_fault(3)
    assert _at(site.clocks(fault_id)["respond"]["deadline_at"]) == cst(2025, 9, 25, 14)
    doc = site.client.get("/api/sla/policies/7x24", headers=site.headers["viewer"]).json()
    policy = doc["policy"]
    policy["working_hours"]["hours"] = ["08:30-12:00", "13:00-17:30"]  # a lunch hour
    put = site.client.put("/api/sla/policies/7x24", json=policy, headers=site.headers["admin"])
    assert put.status_code == 200, put.text
    # 4 working hours from 10:00: 2 h before lunch, then 13:00-15:00.
    assert _at(site.clocks(fault_id)["respond"]["deadline_at"]) == cst(2025, 9, 25, 15)


def _auto_resolve_and_reopen(site: Site, fault_id: int, resolved: datetime, reopened: datetime):
    with site.db.session() as session:
        fault = session.get(Fault, fault_id)
        assert fault is not None
        site.workflow.auto_resolve(session, fault, resolved, "condition cleared")
    site.clock.now = reopened
    status, body = site.post(
        f"/api/faults/{fault_id}/transition", {"to": "open", "note": "back again"}
    )
    assert status == 200, body


def test_a_reopened_fault_nobody_answered_breaches_and_escalates(site: Site):
    opened = site.clock.now
    fault_id = site.open_fault(1)  # 7x24 L1: respond 30 min, on site 2 h, fix 8 h
    _auto_resolve_and_reopen(
        site, fault_id, opened + timedelta(minutes=5), opened + timedelta(minutes=15)
    )
    clocks = site.clocks(fault_id)
    assert {kind: c["state"] for kind, c in clocks.items()} == {
        "respond": "running",
        "on_site": "running",
        "fix": "running",
    }
    # The 10 minutes it spent resolved do not count against the engineer.
    assert _at(clocks["respond"]["deadline_at"]) == opened + timedelta(minutes=40)
    assert _at(clocks["fix"]["deadline_at"]) == opened + timedelta(hours=8, minutes=10)

    fired = site.sweep(opened + timedelta(minutes=41))
    assert "respond:project_lead" in fired
    assert site.clocks(fault_id)["respond"]["state"] == "breached"


def test_a_reopened_fault_keeps_the_response_a_person_gave(site: Site):
    opened = site.clock.now
    fault_id = site.open_fault(1)
    site.clock.now = opened + timedelta(minutes=10)
    status, body = site.post(f"/api/faults/{fault_id}/acknowledge", {})
    assert status == 200, body
    _auto_resolve_and_reopen(
        site, fault_id, opened + timedelta(minutes=20), opened + timedelta(hours=1)
    )
    clocks = site.clocks(fault_id)
    assert clocks["respond"]["state"] == "met"
    assert clocks["respond"]["stopped_by"] == "acknowledged"
    assert clocks["fix"]["state"] == "running"
    fired = site.sweep(opened + timedelta(hours=8, minutes=41))  # 8 h + 40 min resolved
    assert "fix:project_lead" in fired


@pytest.mark.parametrize("field", ["phenomenon", "cause", "solution", "engineer"])
def test_a_maintenance_log_of_blank_spaces_is_refused_naming_the_field(site: Site, field: str):
    fault_id = site.open_fault(2)
    status, body = site.post(
        f"/api/faults/{fault_id}/transition", {"to": "resolved", "log": {**LOG, field: "   "}}
    )
    assert status == 422
    assert field in str(body) and "blank" in str(body)
    saved = site.client.put(
        f"/api/faults/{fault_id}/log",
        json={**LOG, field: " \t\n"},
        headers=site.headers["engineer"],
    )
    assert saved.status_code == 422 and field in saved.text
    with site.db.session() as session:
        fault = session.get(Fault, fault_id)
        assert fault is not None and fault.status == "open"


def test_an_l1_not_fixed_in_8_hours_makes_a_substitute_unit_due_until_delivered(site: Site):
    opened = site.clock.now
    fault_id = site.open_fault(1)
    assert "replace" not in site.clocks(fault_id)
    status, body = site.post(f"/api/sla/faults/{fault_id}/substitute-delivered", {})
    assert status == 409 and "no substitute unit is due" in str(body)

    site.sweep(opened + timedelta(hours=8, minutes=1))
    replace = site.clocks(fault_id)["replace"]
    assert replace["state"] == "running"
    assert _at(replace["started_at"]) == opened + timedelta(hours=8)
    assert _at(replace["deadline_at"]) == opened + timedelta(hours=10)

    site.clock.now = opened + timedelta(hours=9, minutes=30)
    status, body = site.post(
        f"/api/sla/faults/{fault_id}/substitute-delivered", {"note": "spare camera fitted"}
    )
    assert status == 200, body
    replace = {c["kind"]: c for c in body}["replace"]
    assert replace["state"] == "met" and replace["stopped_by"] == "substitute_delivered"
    assert replace["overrun_min"] == -30
    fired = site.sweep(opened + timedelta(hours=12))
    assert not [f for f in fired if f.startswith("replace:")]
    with site.db.session() as session:
        kinds = [c.kind for c in sla_store.clocks_of(session, fault_id) if c.stopped_at is None]
        assert "replace" not in kinds and "fix" in kinds  # the repair itself is still due

"""The SLA API with real users and tokens: admins edit policies, site mappings, calendar
overrides and contacts; viewers read them (without who changed them) and a fault's clocks;
engineers log complaints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from roomwatch.collector.api.app import create_app
from roomwatch.collector.db import scope
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.sla_models import OutboxMessage
from roomwatch.collector.db.users_store import get_user
from roomwatch.collector.sla.policies import shipped_policies
from roomwatch.collector.sla.service import SlaService
from tests.collector.auth_support import auth_headers, bearer, token_for
from tests.collector.sla_support import FakeClock, add_chain, cst, load_shipped, new_fault

NOW = cst(2025, 9, 30, 16)


@pytest.fixture
def sla_app(placed_database: Database) -> Iterator[tuple[TestClient, Database, dict]]:
    load_shipped(placed_database, NOW)
    add_chain(placed_database)
    headers = {
        role: auth_headers(placed_database, role) for role in ("viewer", "engineer", "admin")
    }
    app = create_app(placed_database, CollectorRegistry(), clock=FakeClock(NOW))
    with TestClient(app) as client:
        yield client, placed_database, headers


def test_viewers_read_policies_and_only_admins_edit_them(sla_app):
    client, _, headers = sla_app
    assert client.get("/api/sla/policies").status_code == 401
    listed = client.get("/api/sla/policies", headers=headers["viewer"]).json()
    assert [(p["policy"]["id"], p["default"]) for p in listed] == [
        ("7x24", True),
        ("contract", False),
    ]
    assert listed[0]["policy"]["levels"]["L1"]["respond"]["within"] == "30 minutes"

    new = shipped_policies().policies[1].model_dump(mode="json")
    new.update(id="school-b", name="School B contract")
    new["levels"]["L1"]["respond"] = "4 working hours"
    put = client.put("/api/sla/policies/school-b", json=new, headers=headers["engineer"])
    assert put.status_code == 403
    put = client.put("/api/sla/policies/school-b", json=new, headers=headers["admin"])
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["source"] == "api" and body["updated_by"] == "test-admin"
    assert body["policy"]["levels"]["L1"]["respond"]["within"] == "4 working hours"


def test_a_bad_policy_document_is_a_422_naming_the_field(sla_app):
    client, _, headers = sla_app
    doc = shipped_policies().policies[0].model_dump(mode="json")
    doc["levels"]["L1"]["fix"] = "eight hours"
    answer = client.put("/api/sla/policies/7x24", json=doc, headers=headers["admin"])
    assert answer.status_code == 422
    assert "not a duration" in answer.text


def test_a_site_mapping_decides_the_clocks_of_its_faults(sla_app):
    client, db, headers = sla_app
    mapped = client.put(
        "/api/sla/sites/s1", json={"policy_id": "contract"}, headers=headers["admin"]
    )
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["effective_policy_id"] == "contract"
    assert client.delete("/api/sla/policies/contract", headers=headers["admin"]).status_code == 409
    with db.session() as session:
        fault = new_fault(session, 1, NOW)
        SlaService(clock=FakeClock(NOW)).start_clocks(session, fault, NOW)
        fault_id = fault.id
    clocks = client.get(f"/api/sla/faults/{fault_id}/clocks", headers=headers["viewer"]).json()
    assert [(c["kind"], c["deadline_at"], c["state"]) for c in clocks] == [
        ("respond", "2025-10-01T08:00:00Z", "running"),
        ("fix", "2025-10-02T08:00:00Z", "running"),
    ]
    assert clocks[0]["remaining_s"] == 24 * 3600
    assert client.delete("/api/sla/sites/s1", headers=headers["admin"]).status_code == 204
    sites = client.get("/api/sla/sites", headers=headers["viewer"]).json()
    assert sites == [
        {
            "site_id": "s1",
            "site_name": "School One",
            "policy_id": None,
            "effective_policy_id": "7x24",
        }
    ]


def test_a_calendar_override_changes_the_days_and_the_deadlines(sla_app):
    client, db, headers = sla_app
    days = client.get(
        "/api/sla/calendar/days",
        params={"from": "2025-10-08", "to": "2025-10-11"},
        headers=headers["viewer"],
    ).json()
    assert [(d["day"], d["working"]) for d in days] == [
        ("2025-10-08", False),
        ("2025-10-09", True),
        ("2025-10-10", True),
        ("2025-10-11", True),  # 调休 Saturday
    ]
    put = client.put(
        "/api/sla/calendar/overrides/2025-10-09",
        json={"working": False, "note": "campus closed"},
        headers=headers["admin"],
    )
    assert put.status_code == 200, put.text
    day = client.get(
        "/api/sla/calendar/days",
        params={"from": "2025-10-09", "to": "2025-10-09"},
        headers=headers["viewer"],
    ).json()
    assert day == [{"day": "2025-10-09", "working": False, "reason": "override: campus closed"}]
    with db.session() as session:
        fault = new_fault(session, 3, NOW)  # 7x24 L3: respond in 4 working hours
        SlaService(clock=FakeClock(NOW)).start_clocks(session, fault, NOW)
        fault_id = fault.id
    clocks = client.get(f"/api/sla/faults/{fault_id}/clocks", headers=headers["viewer"]).json()
    # 1.5 h on 30 Sep, 9 Oct now off: 2.5 h on Friday 10 Oct → 11:00 Beijing = 03:00 UTC.
    assert clocks[0]["kind"] == "respond"
    assert clocks[0]["deadline_at"] == "2025-10-10T03:00:00Z"
    overrides = client.get("/api/sla/calendar/overrides", headers=headers["admin"]).json()
    assert [(o["day"], o["updated_by"]) for o in overrides] == [("2025-10-09", "test-admin")]
    gone = client.delete("/api/sla/calendar/overrides/2025-10-09", headers=headers["admin"])
    assert gone.status_code == 204


def test_who_changed_a_policy_or_a_calendar_day_is_shown_to_admins_only(sla_app):
    client, db, headers = sla_app
    school = bearer(token_for(db, "zhou", "school"))
    with db.session() as session:
        scope.bind_sites(session, get_user(session, "zhou"), ["s1"])
    doc = shipped_policies().policies[1].model_dump(mode="json")
    assert client.put("/api/sla/policies/contract", json=doc, headers=headers["admin"]).is_success
    day = client.put("/api/sla/calendar/overrides/2025-10-09", json={"working": False},
                     headers=headers["admin"])  # fmt: skip
    assert day.json()["updated_by"] == "test-admin"
    for who, reader, shown in [("admin", headers["admin"], "test-admin"),
                               ("school", school, None), ("engineer", headers["engineer"], None),
                               ("viewer", headers["viewer"], None)]:  # fmt: skip
        one = client.get("/api/sla/policies/contract", headers=reader)
        listed = client.get("/api/sla/policies", headers=reader)
        days = client.get("/api/sla/calendar/overrides", headers=reader)
        assert one.json()["policy"]["id"] == "contract", who
        assert one.json()["updated_by"] == shown, who
        assert {p["policy"]["id"]: p["updated_by"] for p in listed.json()}["contract"] == shown
        assert [d["updated_by"] for d in days.json()] == [shown], who
        if shown is None:
            assert "test-admin" not in one.text + listed.text + days.text, who
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for schema in ("PolicyOut", "OverrideOut"):
        field = schemas[schema]["properties"]["updated_by"]
        assert {"type": "null"} in field["anyOf"] and "admins" in field["description"]


def test_engineers_log_complaints_that_escalate(sla_app):
    client, db, headers = sla_app
    with db.session() as session:
        fault_id = new_fault(session, 1, NOW).id
    url = f"/api/sla/faults/{fault_id}/complaints"
    body = {"text": "录播中断，无人响应", "complainant": "Teacher Liu"}
    assert client.post(url, json=body, headers=headers["viewer"]).status_code == 403
    answer = client.post(url, json=body, headers=headers["engineer"])
    assert answer.status_code == 201, answer.text
    assert answer.json()["role"] == "project_lead"
    assert answer.json()["actor"] == "test-engineer"
    steps = client.get(f"/api/sla/faults/{fault_id}/escalations", headers=headers["viewer"])
    assert [s["text"] for s in steps.json()] == ["Teacher Liu: 录播中断，无人响应"]
    assert client.get("/api/sla/faults/999/clocks", headers=headers["viewer"]).status_code == 404


def test_contacts_are_personal_data_for_engineers_and_edited_by_admins(sla_app):
    client, _, headers = sla_app
    assert client.get("/api/sla/contacts", headers=headers["viewer"]).status_code == 403
    contacts = client.get("/api/sla/contacts", headers=headers["engineer"]).json()
    assert len(contacts) == 4
    created = client.post(
        "/api/sla/contacts",
        json={"name": "Sun Night", "role": "engineer_on_duty", "site": "s1", "phone": "110"},
        headers=headers["admin"],
    )
    assert created.status_code == 201, created.text
    assert created.json()["site_id"] == "s1"
    unknown = client.post(
        "/api/sla/contacts",
        json={"name": "X", "role": "management", "site": "nowhere"},
        headers=headers["admin"],
    )
    assert unknown.status_code == 409


def test_an_engineer_reclassifies_a_fault_and_its_clocks_follow(sla_app):
    """A phone report taken as L3 turns out to stop the recording: the engineer makes it L1
    with the reason, and the clocks run on the L1 budgets from when the fault was opened."""
    client, db, headers = sla_app
    engineer = headers["engineer"]
    report = {"room_id": "r1", "level": 3, "title": "Picture stutters", "reporter": "phone"}
    fault = client.post("/api/faults", json=report, headers=engineer).json()
    assert {c["kind"] for c in fault["sla_clocks"]} == {"respond", "on_site", "fix"}
    url = f"/api/faults/{fault['id']}/level"
    why = {"level": 1, "note": "The recorder stops every few minutes: no lesson is recorded"}
    assert client.post(url, json=why, headers=headers["viewer"]).status_code == 403
    assert client.post(url, json={"level": 1, "note": ""}, headers=engineer).status_code == 422
    assert client.post(url, json={"level": 5, "note": "x"}, headers=engineer).status_code == 422

    client.app.state.clock.now = NOW + timedelta(minutes=10)
    changed = client.post(url, json=why, headers=engineer)
    assert changed.status_code == 200, changed.text
    detail = changed.json()
    assert detail["level"] == 1
    deadlines = {c["kind"]: c["deadline_at"][:19] for c in detail["sla_clocks"]}
    # L1 of the 7x24 policy: respond 30 min, on site 2 h, fixed 8 h, from 16:00 (+08:00).
    assert deadlines == {
        "respond": "2025-09-30T08:30:00",
        "on_site": "2025-09-30T10:00:00",
        "fix": "2025-09-30T16:00:00",
    }
    event = detail["events"][-1]
    assert event["type"] == "level_changed" and event["actor"] == "test-engineer"
    assert event["detail"] == {"from": 3, "to": 1, "note": why["note"]}
    with db.session() as session:
        subjects = session.scalars(
            select(OutboxMessage.subject).where(OutboxMessage.fault_id == fault["id"])
        ).all()
    assert any("级别变更" in s and "L1" in s for s in subjects)

    log = {
        "phenomenon": "Recorder stops",
        "cause": "Failing disk",
        "solution": "Disk replaced",
        "engineer": "Li",
    }
    resolve = {"to": "resolved", "log": log}
    done = client.post(f"/api/faults/{fault['id']}/transition", json=resolve, headers=engineer)
    assert done.status_code == 200, done.text
    final = client.post(url, json={"level": 2, "note": "after the fact"}, headers=engineer)
    assert final.status_code == 409 and "final" in final.text


def test_a_level_picked_by_mistake_and_corrected_keeps_every_clock(sla_app):
    """L1 -> L4 (which has no on-site clock) -> L1: the on-site clock runs again."""
    client, _db, headers = sla_app
    engineer = headers["engineer"]
    report = {"room_id": "r1", "level": 1, "title": "No picture", "reporter": "phone"}
    fault = client.post("/api/faults", json=report, headers=engineer).json()
    url = f"/api/faults/{fault['id']}/level"
    lowered = client.post(url, json={"level": 4, "note": "wrong room"}, headers=engineer)
    states = {c["kind"]: c["state"] for c in lowered.json()["sla_clocks"]}
    assert states["on_site"] != "running"
    back = client.post(url, json={"level": 1, "note": "right room after all"}, headers=engineer)
    clocks = {c["kind"]: c for c in back.json()["sla_clocks"]}
    assert {k: c["state"] for k, c in clocks.items()} == {
        "respond": "running",
        "on_site": "running",
        "fix": "running",
    }
    assert clocks["on_site"]["deadline_at"][:19] == "2025-09-30T10:00:00"  # 2 h from 16:00

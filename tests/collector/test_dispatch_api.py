"""Dispatch over HTTP: today's lessons at risk, the roster (admins edit, engineers read),
assigning a fault by hand and "my faults", on a school with a timetable and the injected
clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from roomwatch.collector.api.app import create_app
from roomwatch.collector.db import scope, users_store
from roomwatch.collector.db.session import Database
from tests.collector.auth_support import bearer, token_for
from tests.collector.dispatch_support import (
    camera_down,
    disk_filling,
    host,
    open_fault,
    report,
    set_up_school,
    workflow,
)
from tests.collector.sla_support import FakeClock, cst

MONDAY_0730 = cst(2025, 3, 3, 7, 30)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_0730)


@pytest.fixture
def api(sqlite_database: Database, clock: FakeClock) -> Iterator[TestClient]:
    db = sqlite_database
    set_up_school(db, MONDAY_0730)
    report(db, "agent-1", MONDAY_0730, host())
    report(db, "agent-2", MONDAY_0730, host())
    app = create_app(
        db, CollectorRegistry(), database_gauges=False, workflow=workflow(clock), clock=clock
    )
    with TestClient(app) as client:
        client.app.state.tokens = {  # type: ignore[attr-defined]
            name: token_for(db, name, role)
            for name, role in (
                ("wang", "engineer"),
                ("li", "engineer"),
                ("boss", "admin"),
                ("teacher", "viewer"),
            )
        }
        yield client


def as_user(client: TestClient, name: str) -> dict[str, str]:
    return bearer(client.app.state.tokens[name])  # type: ignore[attr-defined]


def test_today_lists_the_room_at_risk_with_its_fault_deadline_and_assignee(api, clock):
    db = api.app.state.database
    clock.now = cst(2025, 3, 3, 7, 20)
    fault_id = open_fault(db, clock, "r1", "cam1", "Camera 1 unreachable")
    open_fault(db, clock, "r1", "proj", "Projector lamp", 3)
    clock.now = MONDAY_0730

    body = api.get("/api/today?site=s1", headers=as_user(api, "teacher")).json()

    [site] = body["sites"]
    assert site["site_id"] == "s1" and site["timezone"] == "Asia/Shanghai"
    [day] = site["days"]
    assert day["day"] == "2025-03-03"
    first = day["periods"][0]
    assert first["label"] == "08:00-08:45" and first["start"].startswith("2025-03-03T08:00")
    [room] = first["at_risk"]
    assert room["room_id"] == "r1"
    [risk] = room["risks"]
    assert risk["fault_id"] == fault_id and risk["device"] == "cam1"
    assert risk["assignee"] is None  # Monday 07:20: nobody on the roster
    assert risk["deadline_kind"] == "respond"
    assert api.get("/api/today?site=nope", headers=as_user(api, "teacher")).status_code == 404
    every = api.get("/api/today", headers=as_user(api, "teacher")).json()
    assert [s["site_id"] for s in every["sites"]] == ["s1", "s2"]


def test_today_gives_what_a_client_words_each_risk_from_in_its_language(api, clock):
    db = api.app.state.database
    camera_down(db, clock, "r1", "agent-1", "cam1")
    disk_filling(db, "agent-2", MONDAY_0730)  # 80, 85, 90 %: full at 09:30, before 09:45

    body = api.get("/api/today?site=s1", headers=as_user(api, "teacher")).json()

    second = body["sites"][0]["days"][0]["periods"][1]
    assert second["label"] == "09:00-09:45"
    risks = {room["room_id"]: room["risks"] for room in second["at_risk"]}
    [fault] = risks["r1"]
    assert fault["kind"] == "fault"
    assert fault["titles"] == {
        "zh-CN": "Room 101 的 cam1 无法访问",
        "en": "cam1 unreachable in Room 101",
    }
    offline, storage = risks["r2"]
    assert offline["kind"] == "agent_offline" and offline["titles"] == {}
    assert storage["kind"] == "storage_full" and storage["device"] == "host"
    assert (storage["label"], storage["used_pct"]) == ("D:", 90.0)
    assert storage["full_at"] == "2025-03-03T01:30:00Z"  # 09:30 in Beijing
    assert storage["detail"] == "D: 90 %, full at 2025-03-03T01:30:00+00:00"  # as before


def test_admins_edit_the_roster_engineers_read_who_is_on_duty(api, clock):
    shift = {"person": "li", "label": "working_hours", "weekdays": ["mon"], "start": "07:00",
             "end": "09:00"}  # fmt: skip
    assert (
        api.post("/api/roster/s1/shifts", json=shift, headers=as_user(api, "wang")).status_code
        == 403
    )
    created = api.post("/api/roster/s1/shifts", json=shift, headers=as_user(api, "boss"))
    assert created.status_code == 201
    roster = api.get("/api/roster/s1", headers=as_user(api, "wang")).json()
    assert roster["on_duty_now"] == "li"
    assert [s["person"] for s in roster["shifts"]] == ["wang", "night-li", "li"]

    both = {**shift, "day": "2025-03-03"}
    assert (
        api.post("/api/roster/s1/shifts", json=both, headers=as_user(api, "boss")).status_code
        == 422
    )
    shift_id = created.json()["id"]
    moved = api.put(
        f"/api/roster/shifts/{shift_id}",
        json={**shift, "start": "08:00"},
        headers=as_user(api, "boss"),
    )
    assert moved.json()["start"] == "08:00"
    assert api.get("/api/roster/s1", headers=as_user(api, "wang")).json()["on_duty_now"] is None
    deleted = api.delete(f"/api/roster/shifts/{shift_id}", headers=as_user(api, "boss"))
    assert deleted.status_code == 204
    assert api.get("/api/roster/nope", headers=as_user(api, "wang")).status_code == 404


def test_take_a_fault_reassign_it_and_my_faults(api, clock):
    db = api.app.state.database
    fault_id = open_fault(db, clock, "r2", "host", "Recording PC unreachable")
    other = open_fault(db, clock, "r1", "cam1", "Camera 1 unreachable")

    taken = api.put(
        f"/api/faults/{fault_id}/assignee", json={"assignee": "me"}, headers=as_user(api, "wang")
    )
    assert taken.json() == {"fault_id": fault_id, "assignee": "wang", "changed": True}
    mine = api.get("/api/faults?assignee=me", headers=as_user(api, "wang")).json()
    assert [f["id"] for f in mine["items"]] == [fault_id]
    assert other not in [f["id"] for f in mine["items"]]

    api.put(
        f"/api/faults/{fault_id}/assignee", json={"assignee": "li"}, headers=as_user(api, "wang")
    )
    assert api.get("/api/faults?assignee=me", headers=as_user(api, "wang")).json()["total"] == 0
    assert api.get("/api/faults?assignee=me", headers=as_user(api, "li")).json()["total"] == 1
    detail = api.get(f"/api/faults/{fault_id}", headers=as_user(api, "li")).json()
    assigned = [(e["actor"], e["detail"]) for e in detail["events"] if e["type"] == "assigned"]
    assert assigned[-1] == ("wang", {"from": "wang", "to": "li"})

    unknown = api.put(
        f"/api/faults/{fault_id}/assignee", json={"assignee": "ghost"}, headers=as_user(api, "wang")
    )
    assert unknown.status_code == 404
    viewer = api.put(
        f"/api/faults/{fault_id}/assignee", json={"assignee": "me"}, headers=as_user(api, "teacher")
    )
    assert viewer.status_code == 403


def test_a_user_of_another_school_sees_neither_its_lessons_nor_its_roster_nor_its_faults(
    api, clock
):
    db = api.app.state.database
    fault_id = open_fault(db, clock, "r1", "cam1", "Camera 1 unreachable")
    outsider = token_for(db, "other-admin", "admin")  # an admin of the other school only
    with db.session() as session:
        scope.bind_sites(session, users_store.get_user(session, "other-admin"), ["s2"])
    headers = bearer(outsider)

    assert api.get("/api/today?site=s1", headers=headers).status_code == 404
    assert [s["site_id"] for s in api.get("/api/today", headers=headers).json()["sites"]] == ["s2"]
    assert api.get("/api/roster/s1", headers=headers).status_code == 404
    shift_id = api.get("/api/roster/s1", headers=as_user(api, "wang")).json()["shifts"][0]["id"]
    assert api.delete(f"/api/roster/shifts/{shift_id}", headers=headers).status_code == 404
    taken = api.put(f"/api/faults/{fault_id}/assignee", json={"assignee": "me"}, headers=headers)
    assert taken.status_code == 404

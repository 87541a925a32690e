"""The fault life cycle through the API, on SQLite and PostgreSQL: a phone report, the
allowed transitions with actor and time, remote sessions, the maintenance log (prefilled from
evidence) required to resolve and close, and the survey rule (a)/(b)/(c)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from roomwatch.agent.wire import DeviceSample
from roomwatch.collector.api.app import create_app
from roomwatch.collector.db import ingest_store, workflow_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.faults import FaultTracker, Subject
from roomwatch.collector.maintenance import MaintenanceCalendar
from roomwatch.collector.rules.engine import RuleEngine
from roomwatch.collector.rules.model import load_rules
from roomwatch.collector.workflow import Workflow
from tests.collector.auth_support import auth_headers
from tests.collector.scenario_support import T0, Clock, RecordingHooks

LOG = {
    "phenomenon": "Camera 2 shows no picture; recording of lessons lacks the teacher view.",
    "cause": "PoE port 3 of the switch burnt out.",
    "solution": "Moved the camera to port 7; switch to be replaced at the next visit.",
    "engineer": "Li Wei",
    "parts_replaced": [{"name": "patch cable", "quantity": 1}],
    "spares_used": [{"name": "PoE injector", "model": "PI-30", "serial": "SN123"}],
}


class Api:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.clock = Clock(T0)
        self.hooks = RecordingHooks()
        self.workflow = Workflow(hooks=self.hooks, calendar=MaintenanceCalendar())
        app = create_app(db, CollectorRegistry(), workflow=self.workflow, clock=self.clock)
        self.client = TestClient(app)
        self.engineer = auth_headers(db, "engineer", "li.wei")
        self.viewer = auth_headers(db, "viewer", "teacher")

    def post(self, path: str, body: dict | None = None, expect: int = 200) -> dict:
        response = self.client.post(path, json=body or {}, headers=self.engineer)
        assert response.status_code == expect, response.text
        return response.json()

    def get(self, path: str, expect: int = 200) -> dict:
        response = self.client.get(path, headers=self.viewer)
        assert response.status_code == expect, response.text
        return response.json()

    def report(self, level: int = 2, device: str | None = "cam1") -> dict:
        body = {
            "room_id": "r1",
            "device": device,
            "level": level,
            "title": "Camera 1 picture frozen",
            "reporter": "Ms Zhang (teacher), phone",
        }
        return self.post("/api/faults", body, expect=201)


@pytest.fixture
def api(placed_database: Database) -> Iterator[Api]:
    api = Api(placed_database)
    with api.client:
        yield api


def test_a_phone_report_is_a_fault_on_the_same_life_cycle(api: Api):
    fault = api.report()
    assert (fault["source"], fault["rule_id"], fault["status"], fault["level"]) == (
        "manual",
        "manual",
        "open",
        2,
    )
    assert fault["reporter"] == "Ms Zhang (teacher), phone" and fault["device"] == "cam1"
    [opened] = fault["events"]
    assert (opened["type"], opened["actor"]) == ("opened", "li.wei")
    listed = api.get("/api/faults?source=manual")["items"]
    assert [f["id"] for f in listed] == [fault["id"]]
    assert api.hooks.of("start_clocks") == [("start_clocks", fault["id"], "open")]


def test_transitions_follow_the_table_and_each_is_an_event_with_actor_and_time(api: Api):
    fault = api.report()
    fid = fault["id"]
    refused = api.client.post(f"/api/faults/{fid}/close", json={}, headers=api.engineer)
    assert refused.status_code == 409 and "can go to" in refused.json()["detail"]
    api.clock.now = T0 + timedelta(minutes=12)
    acked = api.post(f"/api/faults/{fid}/acknowledge", {"note": "calling the teacher back"})
    assert acked["status"] == "acknowledged" and acked["assignee"] == "li.wei"
    assert acked["acknowledged_at"].startswith("2026-09-07T01:12")
    api.clock.now = T0 + timedelta(minutes=80)
    on_site = api.post(f"/api/faults/{fid}/transition", {"to": "on_site"})
    assert (on_site["status"], on_site["on_site_visits"]) == ("on_site", 1)
    waiting = api.post(f"/api/faults/{fid}/transition", {"to": "waiting_parts"})
    assert waiting["allowed_transitions"] == [
        "acknowledged",
        "on_site",
        "resolved",
        "waiting_customer",
    ]
    events = [(e["type"], e["actor"], e["detail"].get("from")) for e in waiting["events"]]
    assert events == [
        ("opened", "li.wei", None),
        ("acknowledged", "li.wei", "open"),
        ("on_site", "li.wei", "acknowledged"),
        ("waiting_parts", "li.wei", "on_site"),
    ]
    statuses = [c[2] for c in api.hooks.of("status")]
    assert statuses == ["open>acknowledged", "acknowledged>on_site", "on_site>waiting_parts"]
    assert [c[2] for c in api.hooks.of("notify")] == [
        "opened",
        "acknowledged",
        "on_site",
        "waiting_parts",
    ]


def test_resolving_by_hand_needs_the_maintenance_log(api: Api):
    fid = api.report()["id"]
    missing = api.client.post(
        f"/api/faults/{fid}/transition", json={"to": "resolved"}, headers=api.engineer
    )
    assert missing.status_code == 422 and missing.json()["error"] == "maintenance_log_required"
    incomplete = {**LOG, "cause": ""}
    bad = api.client.post(
        f"/api/faults/{fid}/transition",
        json={"to": "resolved", "log": incomplete},
        headers=api.engineer,
    )
    assert bad.status_code == 422
    resolved = api.post(f"/api/faults/{fid}/transition", {"to": "resolved", "log": LOG})
    assert resolved["status"] == "resolved" and resolved["resolved_at"]
    assert resolved["log"]["solution"] == LOG["solution"]
    assert resolved["log"]["spares_used"] == [
        {"name": "PoE injector", "model": "PI-30", "serial": "SN123", "quantity": 1}
    ]
    closed = api.post(f"/api/faults/{fid}/close")
    assert closed["status"] == "closed" and closed["closed_at"]
    assert api.get("/api/faults?status=closed")["total"] == 1


def test_closing_an_auto_resolved_fault_uses_the_prefilled_log(api: Api):
    tracker = FaultTracker(RuleEngine(load_rules()), api.workflow)
    camera_down = DeviceSample(device="cam1", kind="camera", reachable=False, error="timeout")
    with api.db.session() as session:
        subject = Subject("r1", "agent-1", None, "s1")
        tracker.observe(session, subject, camera_down, T0)
        tracker.observe(session, subject, camera_down, T0 + timedelta(seconds=30))  # its guard
        tracker.observe(
            session,
            subject,
            camera_down.model_copy(update={"reachable": True}),
            T0 + timedelta(minutes=7),
        )
    [fault] = api.get("/api/faults")["items"]
    assert fault["status"] == "resolved"
    draft = api.get(f"/api/faults/{fault['id']}/log/draft")
    assert draft["saved"] is False and draft["engineer"] == "teacher"
    assert "cam1 unreachable in Room 1" in draft["phenomenon"]  # the room by its name
    assert "reachable = 0.0" in draft["phenomenon"] and "Recovered" in draft["phenomenon"]
    assert "did not answer SNMP" in draft["cause"]
    refused = api.client.post(f"/api/faults/{fault['id']}/close", json={}, headers=api.engineer)
    assert refused.status_code == 422
    entry = {**draft, "solution": "Reseated the camera's network cable.", "engineer": "Li Wei"}
    for extra in ("saved", "device"):
        entry.pop(extra, None)
    saved = api.client.put(f"/api/faults/{fault['id']}/log", json=entry, headers=api.engineer)
    assert saved.status_code == 200, saved.text
    closed = api.post(f"/api/faults/{fault['id']}/close")
    assert closed["status"] == "closed"
    assert api.get(f"/api/faults/{fault['id']}/log/draft")["saved"] is True


def test_reopening_a_resolved_fault(api: Api):
    fid = api.report()["id"]
    api.post(f"/api/faults/{fid}/transition", {"to": "resolved", "log": LOG})
    reopened = api.post(f"/api/faults/{fid}/transition", {"to": "open", "note": "back again"})
    assert reopened["status"] == "open" and reopened["resolved_at"] is None
    assert reopened["events"][-1]["type"] == "reopened"


def test_survey_after_an_on_site_visit(api: Api):
    fid = api.report()["id"]
    api.post(f"/api/faults/{fid}/transition", {"to": "on_site"})
    api.post(f"/api/faults/{fid}/transition", {"to": "resolved", "log": LOG})
    survey = api.get(f"/api/faults/{fid}/survey")
    assert (survey["reason"], survey["sent_at"], survey["score"]) == ("on_site_visit", None, None)
    sent = api.post(f"/api/faults/{fid}/survey/sent", {"channel": "wechat"})
    assert sent["sent_at"] and sent["channel"] == "wechat"
    answered = api.post(f"/api/faults/{fid}/survey/answer", {"score": 5, "comment": "quick"})
    assert (answered["score"], answered["comment"]) == (5, "quick")
    again = api.client.post(
        f"/api/faults/{fid}/survey/answer", json={"score": 1}, headers=api.engineer
    )
    assert again.status_code == 409


def test_survey_after_several_remote_sessions_but_not_after_one(api: Api):
    several = api.report()["id"]
    for _ in range(2):
        api.post(
            f"/api/faults/{several}/remote-sessions", {"note": "TeamViewer", "duration_min": 20}
        )
    detail = api.post(f"/api/faults/{several}/transition", {"to": "resolved", "log": LOG})
    assert detail["remote_sessions"] == 2
    assert detail["survey"]["reason"] == "remote_sessions"

    trivial = api.report()["id"]
    api.post(f"/api/faults/{trivial}/remote-sessions", {"note": "told them to replug"})
    api.post(f"/api/faults/{trivial}/transition", {"to": "resolved", "log": LOG})
    api.get(f"/api/faults/{trivial}/survey", expect=404)


def test_no_survey_for_a_mere_consultation(api: Api):
    fid = api.report(level=4, device=None)["id"]
    for _ in range(3):
        api.post(f"/api/faults/{fid}/remote-sessions", {"note": "how to export recordings"})
    api.post(f"/api/faults/{fid}/transition", {"to": "resolved", "log": LOG})
    api.get(f"/api/faults/{fid}/survey", expect=404)


def test_device_maintenance_statistics(api: Api):
    first = api.report(level=1)["id"]
    api.report(level=2)
    api.report(level=3, device=None)
    api.post(f"/api/faults/{first}/transition", {"to": "resolved", "log": LOG})
    period = {"start": "2026-09-01T00:00:00Z", "end": "2026-10-01T00:00:00Z"}
    by_device = api.client.get("/api/statistics/devices", params=period, headers=api.viewer).json()
    top = by_device[0]
    assert (top["key"], top["faults"], top["with_log"], top["parts_replaced"]) == (
        "r1/cam1",
        2,
        1,
        1,
    )
    assert top["by_level"] == {"1": 1, "2": 1} and top["model"] == "CAM-A"
    by_room = api.client.get(
        "/api/statistics/devices", params={**period, "group_by": "room"}, headers=api.viewer
    ).json()
    assert [(r["key"], r["faults"]) for r in by_room] == [("r1", 3)]
    with api.db.session() as session:
        by_model = workflow_store.maintenance_statistics(
            session, T0 - timedelta(days=1), T0 + timedelta(days=1), "model"
        )
    assert [(s.key, s.faults) for s in by_model] == [("CAM-A", 2), ("(unknown model)", 1)]


def test_engineers_actions_succeed_while_ingest_keeps_writing(api: Api):
    """On SQLite a request that reads and then writes used to fail with "database is
    locked" whenever ingest committed in between; now the request waits for its turn."""
    stop = threading.Event()
    written = 0

    def ingest_like() -> None:
        nonlocal written
        seq = 0
        while not stop.is_set():
            with api.db.session(write=True) as session:
                seq += 1
                ingest_store.claim_many(session, [("agent-1", seq)], T0)
                ingest_store.set_agent_status(session, "agent-1", seq % 2 == 0, T0)
            written += 1

    writer = threading.Thread(target=ingest_like)
    writer.start()
    try:
        statuses = []
        for _ in range(8):
            fid = api.report()["id"]
            api.post(f"/api/faults/{fid}/acknowledge", {"note": "on it"})
            statuses.append(api.post(f"/api/faults/{fid}/transition", {"to": "on_site"})["status"])
    finally:
        stop.set()
        writer.join()
    assert statuses == ["on_site"] * 8
    assert written > 8

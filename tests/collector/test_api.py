"""The REST API over a database filled through the ingest store from real wire messages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import create_engine

from roomwatch.agent.wire import DeviceSample, MetricsMessage, TableRow
from roomwatch.collector.api.app import create_app
from roomwatch.collector.db import ingest_store
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.session import Database
from roomwatch.collector.levels import Level
from tests.collector.auth_support import auth_headers
from tests.collector.conftest import T0, wire_metrics

HOST = DeviceSample(
    device="host",
    kind="host",
    model="RS-8000",
    reachable=True,
    rtt_ms=0.2,
    metrics={"cpu_pct": 37.5, "mem_pct": 61.0},
    tables={"disk": [TableRow(labels={"mount": "D:"}, metrics={"used_pct": 92.0})]},
)
CAMERA_DOWN = DeviceSample(device="cam1", kind="camera", reachable=False, error="timeout")
SWITCH = DeviceSample(
    device="sw", kind="switch", reachable=True, rtt_ms=1.5, metrics={"ports_up": 6}
)


def _ingest(db: Database, message: MetricsMessage) -> None:
    """What the pipeline does with a metrics message, through the same store functions."""
    with db.session() as session:
        assert ingest_store.claim(session, message.agent, message.seq, message.ts)
        room = ingest_store.agent_room(session, message.agent)
        assert room is not None
        devices = ingest_store.ensure_devices(session, room, message.devices)
        for sample in message.devices:
            ingest_store.store_latest(session, devices[sample.device], sample, message.ts)
            ingest_store.add_to_rollups(session, devices[sample.device], sample, message.ts)
        ingest_store.set_agent_status(session, message.agent, True, message.ts, version="1.0.0")
        ingest_store.touch_agent(session, message.agent, message.ts)


def _fault(db: Database, room: str, level: Level, status: str, minutes: int, device: str | None):
    with db.session() as session:
        device_pk = None
        if device is not None:
            device_pk = ingest_store.ensure_devices(
                session, room, [DeviceSample(device=device, kind="camera", reachable=False)]
            )[device].id
        at = T0 + timedelta(minutes=minutes)
        session.add(
            Fault(
                rule_id="device_unreachable",
                target=f"{room}/{device}",
                open_key=None if status == "resolved" else f"rule|{room}/{device}|{minutes}",
                room_id=room,
                device_id=device_pk,
                agent_id=None,
                level=int(level),
                status=status,
                title=f"{device} unreachable in {room}",
                opened_at=at,
                last_seen_at=at,
                resolved_at=at + timedelta(minutes=5) if status == "resolved" else None,
            )
        )


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    messages = Counter("roomwatch_ingest_messages", "Messages stored.", registry=registry)
    messages.inc(3)
    return registry


@pytest.fixture
def client(placed_database: Database, registry: CollectorRegistry) -> Iterator[TestClient]:
    db = placed_database
    _ingest(db, wire_metrics("agent-1", 1, T0 - timedelta(minutes=1), HOST, CAMERA_DOWN))
    _ingest(db, wire_metrics("agent-1", 2, T0, HOST, CAMERA_DOWN, SWITCH))
    _fault(db, "r1", Level.L1, "open", 1, "cam1")
    _fault(db, "r1", Level.L3, "acknowledged", 2, None)
    _fault(db, "r1", Level.L2, "resolved", 0, "cam1")
    _fault(db, "r2", Level.L4, "open", 3, None)
    # Reads need a viewer's credentials (collector.api.auth).
    with TestClient(create_app(db, registry), headers=auth_headers(db, "viewer")) as client:
        yield client


def test_rooms_list_shows_state_at_a_glance(client: TestClient):
    response = client.get("/api/rooms")
    assert response.status_code == 200
    rooms = {room["id"]: room for room in response.json()}
    assert set(rooms) == {"r1", "r2"}
    r1 = rooms["r1"]
    assert (r1["site_id"], r1["site_name"], r1["building"]) == ("s1", "School One", "A")
    assert (r1["device_count"], r1["unreachable_count"], r1["open_fault_count"]) == (3, 1, 2)
    assert r1["worst_open_level"] == 1
    assert r1["worst_open_level_label"] == "L1 system stopped"
    assert r1["online"] is True
    assert [a["id"] for a in r1["agents"]] == ["agent-1"]
    assert r1["agents"][0]["version"] == "1.0.0"
    r2 = rooms["r2"]
    assert (r2["online"], r2["worst_open_level"], r2["device_count"]) == (False, 4, 1)
    assert client.get("/api/rooms", params={"site": "nope"}).json() == []


def test_room_detail_shows_the_latest_values_as_stored(client: TestClient):
    response = client.get("/api/rooms/r1")
    assert response.status_code == 200
    body = response.json()
    assert body["room"]["id"] == "r1"
    devices = {device["id"]: device for device in body["devices"]}
    host = devices["host"]
    assert host["model"] == "RS-8000" and host["source"] == "inventory"
    assert host["state"]["metrics"] == {"cpu_pct": 37.5, "mem_pct": 61.0}
    assert host["state"]["tables"] == {
        "disk": [{"labels": {"mount": "D:"}, "metrics": {"used_pct": 92.0}}]
    }
    assert (host["state"]["reachable"], host["state"]["rtt_ms"]) == (True, 0.2)
    assert host["state"]["sampled_at"].startswith("2025-03-03T08:10:00")
    camera = devices["cam1"]
    assert (camera["parent"], camera["state"]["reachable"], camera["state"]["error"]) == (
        "sw",
        False,
        "timeout",
    )
    assert devices["sw"]["state"]["metrics"] == {"ports_up": 6.0}
    faults = body["open_faults"]
    assert [(f["level"], f["status"]) for f in faults] == [(3, "acknowledged"), (1, "open")]
    assert faults[1]["device"] == "cam1"
    assert faults[1]["level_label"] == "L1 system stopped"
    assert faults[1]["level_label_zh"] == "L1 一级故障"


def test_an_unknown_room_is_a_404_with_a_clear_error(client: TestClient):
    response = client.get("/api/rooms/r404")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "room 'r404' does not exist"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [(4, "open"), (3, "acknowledged"), (1, "open"), (2, "resolved")]),
        ({"status": "open"}, [(4, "open"), (3, "acknowledged"), (1, "open")]),
        ({"status": "closed"}, [(2, "resolved")]),
        ({"status": "open", "room": "r1"}, [(3, "acknowledged"), (1, "open")]),
        ({"status": "all", "room": "r1", "level": 2}, [(2, "resolved")]),
        ({"room": "r9"}, []),
        ({"status": "open", "room": ""}, [(4, "open"), (3, "acknowledged"), (1, "open")]),
    ],
)
def test_faults_are_filtered_by_status_room_and_level(client: TestClient, params, expected):
    body = client.get("/api/faults", params=params).json()
    assert [(f["level"], f["status"]) for f in body["items"]] == expected
    assert body["total"] == len(expected)


def test_faults_are_paginated(client: TestClient):
    first = client.get("/api/faults", params={"limit": 3}).json()
    second = client.get("/api/faults", params={"limit": 3, "offset": 3}).json()
    assert (first["total"], len(first["items"]), len(second["items"])) == (4, 3, 1)
    ids = [f["id"] for f in first["items"] + second["items"]]
    assert len(set(ids)) == 4


@pytest.mark.parametrize(
    "params", [{"status": "pending"}, {"level": 5}, {"level": 0}, {"limit": 0}, {"offset": -1}]
)
def test_bad_fault_filters_are_rejected(client: TestClient, params):
    assert client.get("/api/faults", params=params).status_code == 422


def test_metrics_shows_the_registry_and_the_database_gauges(client: TestClient):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "roomwatch_ingest_messages_total 3.0" in text
    assert "roomwatch_api_database_up 1.0" in text
    assert "roomwatch_agents_online 1.0" in text
    assert 'roomwatch_open_faults{level="L1"} 1.0' in text
    assert 'roomwatch_open_faults{level="L2"} 0.0' in text


def test_healthz_is_ok_with_a_database(client: TestClient):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})


def test_healthz_is_503_and_metrics_still_work_without_a_database(tmp_path, registry):
    missing = tmp_path / "no" / "such" / "dir" / "c.db"
    db = Database(create_engine(f"sqlite:///{missing}"))
    with TestClient(create_app(db, registry)) as client:
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "database": "unreachable"}
        metrics = client.get("/metrics").text
        assert "roomwatch_ingest_messages_total 3.0" in metrics
        assert "roomwatch_api_database_up 0.0" in metrics
    db.dispose()


def test_no_response_carries_a_secret(client: TestClient):
    paths = ["/api/rooms", "/api/rooms/r1", "/api/faults", "/healthz", "/openapi.json"]
    for path in paths:
        text = client.get(path).text.lower()
        if path != "/openapi.json":  # the schema names the sign-in form's fields, no values
            assert "password" not in text
        assert "postgresql" not in text and "sqlite" not in text

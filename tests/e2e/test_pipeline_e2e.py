"""End to end with every real piece: snmpd devices → agent process → mosquitto (ACL) →
collector → VictoriaMetrics + SQLite, read back the way a user would (TSDB export, API)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from roomwatch.agent import wire
from roomwatch.collector.api.auth import create_user, issue_token
from roomwatch.collector.config import CollectorConfig
from roomwatch.collector.db import report_store
from roomwatch.collector.db.models import Device
from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.demo.procs import wait_for
from roomwatch.collector.demo.rooms import SimRoom
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from roomwatch.collector.runner import CollectorService

pytestmark = pytest.mark.e2e
ROOM = "room-101"
AGENT = "agent-101"
OTHER_AGENT = "agent-102"


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.broker = MosquittoBroker(tmp / "broker")
        self.tsdb = VictoriaMetrics(tmp / "tsdb")
        self.room = SimRoom(
            ROOM, AGENT, tmp / ROOM, password=secrets.token_urlsafe(12), interval_s=1.0
        )
        self.other_password = secrets.token_urlsafe(12)
        self.collector_password = secrets.token_urlsafe(12)
        self.tmp = tmp
        self.service: CollectorService | None = None
        self.api: TestClient | None = None

    def start(self) -> None:
        self.broker.add_user("collector", self.collector_password, collector=True)
        self.broker.add_user(AGENT, self.room.password)
        self.broker.add_user(OTHER_AGENT, self.other_password)
        self.broker.start()
        self.tsdb.start()
        self.room.start_devices()
        self.room.start_recorder()
        inventory = self.tmp / "inventory.yaml"
        inventory.write_text(
            yaml.safe_dump(
                {
                    "sites": [
                        {
                            "id": "campus",
                            "name": "Campus",
                            "rooms": [
                                {
                                    "id": ROOM,
                                    "name": "Room 101",
                                    "agents": [AGENT],
                                    "devices": self.room.inventory_devices(),
                                },
                                {"id": "room-102", "name": "Room 102", "agents": [OTHER_AGENT]},
                            ],
                        }
                    ]
                }
            )
        )
        config = CollectorConfig.model_validate(
            {
                "mqtt": {
                    "port": self.broker.port,
                    "username": "collector",
                    "password": self.collector_password,
                    "client_id": "e2e-collector",
                },
                "tsdb": {"url": self.tsdb.url},
                "database": {"url": f"sqlite:///{self.tmp / 'collector.db'}"},
                "inventory_file": str(inventory),
                "ingest": {"batch_wait_s": 0.05},
                "faults": {"advisories_every_s": 1},
            }
        )
        self.service = CollectorService(config)
        self.service.start()
        # The API needs credentials: a viewer's token, made as an admin would make it.
        with self.service.db.session() as session:
            now = datetime.now(UTC)
            viewer = create_user(session, "e2e-viewer", "viewer", now)
            token = issue_token(session, viewer, now, name="e2e").secret
        self.api = TestClient(self.service.app(), headers={"Authorization": f"Bearer {token}"})
        self.room.start_agent(self.broker.port)

    def stop(self) -> None:
        self.room.stop()
        if self.service is not None:
            self.service.stop()
        self.tsdb.stop()
        self.broker.close()

    def faults(self, **params: str) -> list[dict]:
        assert self.api is not None
        return self.api.get("/api/faults", params=params).json()["items"]

    def counter(self, name: str) -> float:
        assert self.service is not None
        return self.service.registry.get_sample_value(name) or 0.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(Path(tmp_path_factory.mktemp("e2e")))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def test_tsdb_holds_exactly_what_the_simulated_camera_served(stack: Stack):
    stack.room.devices["cam-1"].set_values({"temperature_c": 47})  # Axis: whole degrees

    def stored_temperatures() -> list[float]:
        series = stack.tsdb.export(f'camera_temperature_c{{room="{ROOM}",device="cam-1"}}')
        return [v for s in series for v in s["values"]]

    wait_for(lambda: 47 in stored_temperatures(), 30, "camera temperature 47 in the TSDB")
    [series] = stack.tsdb.export(f'camera_temperature_c{{room="{ROOM}",device="cam-1"}}')
    assert series["metric"]["site"] == "campus" and series["metric"]["agent"] == AGENT


def test_unplugged_camera_opens_one_l1_fault_and_plugging_back_resolves_it(stack: Stack):
    camera = stack.room.devices["cam-2"]
    camera.unplug()
    try:
        wait_for(
            lambda: any(f["rule_id"] == "device_unreachable" for f in stack.faults(status="open")),
            30,
            "L1 fault for the unplugged camera",
        )
        time.sleep(3)  # several more poll cycles: the fault must stay one fault
        [fault] = [f for f in stack.faults(status="open") if f["rule_id"] == "device_unreachable"]
        assert (fault["level"], fault["room_id"], fault["target"]) == (1, ROOM, f"{ROOM}/cam-2")
    finally:
        camera.plug()
    wait_for(
        lambda: not any(f["rule_id"] == "device_unreachable" for f in stack.faults(status="open")),
        30,
        "the fault to resolve",
    )
    [resolved] = [f for f in stack.faults() if f["id"] == fault["id"]]
    assert resolved["status"] == "resolved" and resolved["resolved_at"]


def publish_as(
    stack: Stack, username: str, password: str, topic: str, payload: bytes
) -> mqtt.ReasonCode | None:
    """Connect as ``username``, publish one QoS 1 message, return the CONNACK reason."""
    result: dict[str, object] = {}
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"t-{secrets.token_hex(3)}", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(username, password)
    client.on_connect = lambda c, u, f, reason, p: result.setdefault("reason", reason)
    client.connect("127.0.0.1", stack.broker.port)
    client.loop_start()
    wait_for(lambda: "reason" in result, 10, "CONNACK")
    reason = result["reason"]
    if not getattr(reason, "is_failure", True):
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()
    return reason  # type: ignore[return-value]


def forged_metrics(agent: str, marker: float) -> bytes:
    message = wire.MetricsMessage(
        agent=agent,
        seq=10**12,
        ts=datetime.now(UTC),
        interval_s=1,
        devices=[
            wire.DeviceSample(
                device="cam-1", kind="camera", reachable=True, metrics={"temperature_c": marker}
            )
        ],
    )
    return wire.encode(message)


def test_an_agent_with_a_wrong_password_is_refused(stack: Stack):
    reason = publish_as(
        stack,
        AGENT,
        "wrong-password",
        wire.topic(AGENT, wire.Kind.METRICS),
        forged_metrics(AGENT, 1.0),
    )
    assert reason is not None and reason.is_failure
    assert "authori" in str(reason).lower()


def test_an_agent_publishing_under_another_id_reaches_nothing(stack: Stack):
    before = stack.counter("roomwatch_collector_invalid_messages_total")
    marker = 66.6
    reason = publish_as(
        stack,
        OTHER_AGENT,
        stack.other_password,
        wire.topic(AGENT, wire.Kind.METRICS),
        forged_metrics(AGENT, marker),
    )
    assert reason is not None and not reason.is_failure
    # Its own topic with a payload claiming to be the other agent is rejected by the collector.
    publish_as(
        stack,
        OTHER_AGENT,
        stack.other_password,
        wire.topic(OTHER_AGENT, wire.Kind.METRICS),
        forged_metrics(AGENT, marker),
    )
    wait_for(
        lambda: stack.counter("roomwatch_collector_invalid_messages_total") == before + 1,
        10,
        "the collector to reject the forged payload",
    )
    series = stack.tsdb.export(f'camera_temperature_c{{room="{ROOM}",device="cam-1"}}')
    assert marker not in [v for s in series for v in s["values"]]


def test_malformed_payload_is_counted_and_the_collector_keeps_storing(stack: Stack):
    before = stack.counter("roomwatch_collector_invalid_messages_total")
    publish_as(
        stack,
        OTHER_AGENT,
        stack.other_password,
        wire.topic(OTHER_AGENT, wire.Kind.METRICS),
        b"\x00garbage",
    )
    wait_for(
        lambda: stack.counter("roomwatch_collector_invalid_messages_total") == before + 1,
        10,
        "rejection",
    )
    stored = stack.counter("roomwatch_collector_batches_total")
    wait_for(
        lambda: stack.counter("roomwatch_collector_batches_total") > stored + 1,
        15,
        "later batches stored",
    )
    assert stack.api is not None and stack.api.get("/healthz").status_code == 200


def test_a_vendor_advisory_opens_its_fault_on_the_firmware_the_agent_reported(stack: Stack):
    """Nobody applies the advisory by hand: the collector matches advisories periodically
    against the model and firmware the agent read from the camera over SNMP."""
    assert stack.service is not None
    db = stack.service.db

    def camera() -> Device | None:
        with db.session() as session:
            return session.scalar(
                select(Device).where(Device.room_id == ROOM, Device.device == "cam-1")
            )

    wait_for(lambda: (camera() or Device()).firmware is not None, 30, "cam-1 firmware reported")
    reported = camera()
    # The Axis camera's model and AXIS OS version, as its sysDescr gives them.
    assert reported is not None and (reported.model, reported.firmware) == ("P1435-LE", "9.80.69")
    with db.session() as session:
        report_store.put_advisory(
            session,
            "RC-E2E-1",
            datetime.now(UTC),
            model=reported.model,
            firmware_min="9.80",
            firmware_max="9.80.99",
            severity="high",
            title="Video stops after 30 days of uptime",
        )
    target = f"{ROOM}/cam-1/advisory{{id=RC-E2E-1}}"
    wait_for(
        lambda: any(f["target"] == target for f in stack.faults(status="open")),
        15,
        "the advisory's fault for cam-1",
    )
    [fault] = [f for f in stack.faults(status="open") if f["target"] == target]
    assert fault["level"] == 4 and fault["rule_id"] == "vendor_advisory"

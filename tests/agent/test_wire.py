"""The wire contract: what agents send is what collectors accept, and nothing else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from roomwatch.agent import protocol_doc, wire

ROOT = Path(__file__).resolve().parents[2]
TS = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def metrics(agent: str = "room-101", seq: int = 7) -> wire.MetricsMessage:
    return wire.MetricsMessage(
        agent=agent,
        seq=seq,
        ts=TS,
        interval_s=10,
        devices=[
            wire.DeviceSample(
                device="cam-1",
                kind="camera",
                reachable=True,
                rtt_ms=2.5,
                metrics={"temperature_c": 41.5},
            ),
            wire.DeviceSample(
                device="host",
                kind="host",
                reachable=True,
                tables={"disk": [wire.TableRow(labels={"mount": "/"}, metrics={"used_pct": 91.0})]},
            ),
        ],
    )


def test_a_message_survives_encode_and_decode_unchanged():
    message = metrics()
    topic = wire.topic("room-101", wire.Kind.METRICS)
    assert topic == "roomwatch/v1/room-101/metrics"
    assert wire.decode(topic, wire.encode(message)) == message


def test_payload_claiming_another_agent_than_its_topic_is_rejected():
    with pytest.raises(wire.WireError, match="differs from topic agent"):
        wire.decode(wire.topic("room-102", wire.Kind.METRICS), wire.encode(metrics("room-101")))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "Invalid JSON"),
        (b'{"v": 2, "type": "metrics"}', "v"),
        (b"[]", "payload"),
    ],
)
def test_malformed_payloads_raise_wire_error_with_a_reason(payload, reason):
    with pytest.raises(wire.WireError, match=reason):
        wire.decode("roomwatch/v1/room-101/metrics", payload)


def _with(field_path: tuple[str | int, ...], value: object) -> bytes:
    payload = json.loads(wire.encode(metrics()))
    node = payload
    for key in field_path[:-1]:
        node = node[key]
    node[field_path[-1]] = value
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("field_path", "value"),
    [
        (("seq",), "7"),
        (("seq",), 2**63),
        (("interval_s",), "10"),
        (("devices", 0, "reachable"), "yes"),
        (("devices", 0, "reachable"), 1),
        (("devices", 0, "rtt_ms"), "2.5"),
        (("devices", 0, "metrics", "temperature_c"), "41.5"),
    ],
)
def test_values_of_the_wrong_json_type_are_rejected_not_coerced(field_path, value):
    with pytest.raises(wire.WireError):
        wire.decode("roomwatch/v1/room-101/metrics", _with(field_path, value))


def test_the_largest_storable_seq_is_accepted():
    payload = _with(("seq",), wire.SEQ_MAX)
    assert wire.decode("roomwatch/v1/room-101/metrics", payload).seq == 2**63 - 1


@pytest.mark.parametrize(
    "topic",
    [
        "roomwatch/v1/room-101",
        "other/v1/room-101/metrics",
        "roomwatch/v1/room-101/logs",
        "roomwatch/v1/a b/metrics",
    ],
)
def test_topics_outside_the_contract_are_rejected(topic):
    with pytest.raises(wire.WireError):
        wire.parse_topic(topic)


def test_every_encoded_message_validates_against_the_published_schema():
    schema = wire.json_schema()
    status = wire.StatusMessage(
        agent="room-101", seq=1, ts=TS, state="offline", agent_version="0.1.0"
    )
    for message in (metrics(), status):
        jsonschema.validate(json.loads(wire.encode(message)), schema)


def test_protocol_doc_is_generated_from_the_code():
    committed = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    assert committed == protocol_doc.render(), (
        "run: python -m roomwatch.agent.protocol_doc docs/protocol.md"
    )


def test_no_module_but_wire_spells_a_topic():
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("agent", "collector")
        for path in (ROOT / package).rglob("*.py")
        if path.name != "wire.py" and "roomwatch/v1" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []

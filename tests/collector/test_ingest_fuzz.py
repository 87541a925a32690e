"""Bounded property-based fuzzing (reproducible: derandomized) of the wire decoder and of the
ingest path on a real SQLite database: anything an agent sends is either stored whole or
refused with the documented rejection (counted, quarantined); nothing raises, nothing is
stored in part."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from roomwatch.agent import wire
from roomwatch.collector.config import IngestConfig, IngestLimits, TsdbConfig
from roomwatch.collector.db.models import Device, DeviceState, IngestedMessage
from roomwatch.collector.db.quarantine_models import QuarantinedMessage
from roomwatch.collector.db.session import open_database
from roomwatch.collector.faults import FaultTracker
from roomwatch.collector.ingest.pipeline import IngestPipeline, Received
from roomwatch.collector.ingest.stats import IngestStats
from roomwatch.collector.ingest.tsdb import TsdbWriter
from roomwatch.collector.inventory import load_inventory, sync_inventory
from roomwatch.collector.rules.engine import RuleEngine
from roomwatch.collector.rules.model import load_rules

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
AGENT = "agent-f"
TOPIC = wire.topic(AGENT, wire.Kind.METRICS)
FUZZ = settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# Small limits so that generated messages cross them often.
LIMITS = IngestLimits(max_devices_per_message=4, max_metrics_per_device=6,
                      max_metrics_per_message=12, max_label_chars=8,
                      max_devices_per_agent=4, future_skew_s=60, backfill_max_s=3600)  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
names = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True)
numbers = st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.sampled_from(["7", "yes"])


@st.composite
def metrics_payloads(draw: st.DrawFn) -> dict[str, object]:
    devices = [
        {
            "device": draw(st.sampled_from(["host", "cam-1", "cam-2", "sw-1", "ups-1", "x" * 70])),
            "kind": draw(st.sampled_from(["host", "camera", "switch", "ups"])),
            "reachable": draw(st.booleans() | st.sampled_from(["yes", 1])),
            "model": draw(st.none() | st.text(max_size=12)),
            "metrics": draw(st.dictionaries(names, numbers, max_size=8)),
        }
        for _ in range(draw(st.integers(0, 6)))
    ]
    for device in devices:
        if device["model"] is None:
            del device["model"]
    offset_s = draw(st.integers(-2 * 3600, 2 * 3600) | st.sampled_from([86_400, 10**9]))
    ts = (
        (T0 + timedelta(seconds=offset_s)).isoformat()
        if offset_s < 10**9
        else "9999-12-31T00:00:00Z"
    )
    return {
        "agent": AGENT,
        "seq": draw(st.integers(0, 2**64) | st.sampled_from([2**63 - 1, 2**63])),
        "ts": ts,
        "type": "metrics",
        "interval_s": draw(st.sampled_from([10, 0.5, "10"])),
        "devices": devices,
    }


def explicit(at: datetime, metrics: int) -> dict[str, object]:
    """A well-formed metrics message with ``metrics`` values on one device."""
    values = {f"m{i}": 1.0 for i in range(metrics)}
    device = {"device": "host", "kind": "host", "reachable": True, "metrics": values}
    return {"agent": AGENT, "seq": 1, "ts": at.isoformat(), "type": "metrics",
            "interval_s": 10, "devices": [device]}  # fmt: skip


@FUZZ
@given(payload=st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode()))
def test_the_decoder_returns_a_message_or_raises_wire_error(payload: bytes):
    try:
        message = wire.decode(TOPIC, payload)
    except wire.WireError:
        return
    assert message.agent == AGENT


@FUZZ
@given(payload=metrics_payloads())
def test_the_decoder_is_strict_about_generated_metrics(payload: dict[str, object]):
    try:
        message = wire.decode(TOPIC, json.dumps(payload).encode())
    except wire.WireError:
        return
    assert 0 <= message.seq <= 2**63 - 1
    assert all(isinstance(d.reachable, bool) for d in message.devices)  # type: ignore[union-attr]


def test_ingest_stores_each_message_whole_or_quarantines_it(tmp_path: Path):
    inventory = {"sites": [{"id": "s", "name": "S", "rooms": [
        {"id": "rf", "name": "RF", "agents": [AGENT], "devices": []}]}]}  # fmt: skip
    (tmp_path / "inventory.yaml").write_text(yaml.safe_dump(inventory))
    db = open_database(f"sqlite:///{tmp_path / 'fuzz.db'}")
    sync_inventory(db, load_inventory(tmp_path / "inventory.yaml"))
    pipeline = IngestPipeline(
        db,
        TsdbWriter(TsdbConfig(enabled=False)),
        FaultTracker(RuleEngine(load_rules())),
        IngestStats(CollectorRegistry()),
        IngestConfig(limits=LIMITS),
        clock=lambda: T0,
    )

    def counts(seq: int) -> tuple[int, int]:
        with db.session() as session:
            claimed = session.scalar(
                select(func.count())
                .select_from(IngestedMessage)
                .where(
                    IngestedMessage.agent_id == AGENT, IngestedMessage.seq == min(seq, 2**63 - 1)
                )
            )
            quarantined = session.scalar(select(func.count()).select_from(QuarantinedMessage))
        return int(claimed or 0), int(quarantined or 0)

    def room_devices() -> set[str]:
        with db.session() as session:
            return set(session.scalars(select(Device.device).where(Device.room_id == "rf")))

    @FUZZ
    @given(payload=metrics_payloads())
    # Each outcome the end asks for at least once, whatever the generated examples reach
    # (which ones they reach has been seen to depend on the tests run before this one).
    @example(payload=explicit(T0, metrics=7))
    @example(payload=explicit(T0 + timedelta(days=1), metrics=1))
    def ingest_one(payload: dict[str, object]) -> None:
        seq = payload["seq"] if isinstance(payload["seq"], int) else 0
        claimed_before, quarantined_before = counts(seq)
        devices_before = room_devices()
        pipeline.process([Received(TOPIC, json.dumps(payload).encode())])  # never raises
        claimed, quarantined = counts(seq)
        refused = quarantined == quarantined_before + 1
        stored = claimed > claimed_before and not refused
        assert quarantined - quarantined_before in (0, 1)
        assert refused or stored or claimed_before  # else: a re-delivered seq, ignored
        if refused:
            assert room_devices() == devices_before
        if stored:
            message = wire.decode(TOPIC, json.dumps(payload).encode())
            reported = {d.device for d in message.devices}  # type: ignore[union-attr]
            with db.session() as session:
                known = set(session.scalars(select(Device.device).where(Device.room_id == "rf")))
                with_state = session.scalar(
                    select(func.count()).select_from(DeviceState).join(Device)
                    .where(Device.device.in_(reported))
                )  # fmt: skip
            assert reported <= known and with_state == len(reported)
        with db.session() as session:
            agent_devices = session.scalar(select(func.count()).select_from(Device))
        assert agent_devices <= LIMITS.max_devices_per_agent

    ingest_one()
    with db.session() as session:  # the examples reached every outcome
        stages = set(session.scalars(select(QuarantinedMessage.stage)))
        reasons = {r.split(":")[0] for r in session.scalars(select(QuarantinedMessage.reason))}
        stored = session.scalar(select(func.count()).select_from(IngestedMessage))
    assert stages == {"wire", "limits"} and stored
    assert {"future_timestamp", "too_many_metrics"} <= reasons, reasons

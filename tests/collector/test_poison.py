"""Poison messages from one agent against a real VictoriaMetrics and a real SQLite database:
each is acknowledged, counted and quarantined with its reason, never retried forever; the
other agent's samples are all stored exactly once (SQL and TSDB), and the hostile agent's
later correct messages still open faults."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from roomwatch.agent import wire
from roomwatch.collector.api.app import create_app
from roomwatch.collector.config import IngestConfig, IngestLimits, TsdbConfig
from roomwatch.collector.db.models import Device, Fault, IngestedMessage
from roomwatch.collector.db.quarantine_models import QuarantinedMessage
from roomwatch.collector.db.session import open_database
from roomwatch.collector.demo.procs import wait_for
from roomwatch.collector.faults import FaultTracker
from roomwatch.collector.ingest.pipeline import IngestPipeline, Received
from roomwatch.collector.ingest.stats import IngestStats
from roomwatch.collector.ingest.tsdb import TsdbWriter
from roomwatch.collector.inventory import load_inventory, sync_inventory
from roomwatch.collector.rules.engine import RuleEngine
from roomwatch.collector.rules.model import load_rules
from tests.collector.auth_support import bearer, token_for

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
A, B = "agent-a", "agent-b"
INVENTORY = {
    "sites": [
        {
            "id": "campus",
            "name": "Campus",
            "rooms": [
                {
                    "id": "ra",
                    "name": "RA",
                    "agents": [A],
                    "devices": [{"id": "host", "kind": "host"}],
                },
                {
                    "id": "rb",
                    "name": "RB",
                    "agents": [B],
                    "devices": [{"id": "host", "kind": "host"}],
                },
            ],
        }
    ]
}


class Collector:
    def __init__(self, tmp: Path, tsdb_url: str, limits: IngestLimits) -> None:
        (tmp / "inventory.yaml").write_text(yaml.safe_dump(INVENTORY))
        self.db = open_database(f"sqlite:///{tmp / 'c.db'}")
        sync_inventory(self.db, load_inventory(tmp / "inventory.yaml"))
        self.registry = CollectorRegistry()
        self.now = T0
        self.pipeline = IngestPipeline(
            self.db,
            TsdbWriter(TsdbConfig(url=tsdb_url)),
            FaultTracker(RuleEngine(load_rules())),
            IngestStats(self.registry),
            IngestConfig(batch_max=50, limits=limits),
            clock=lambda: self.now,
        )
        self.pipeline.retry_delay_s = 0.05
        self.acked: list[Received] = []

        self.worker = threading.Thread(target=self.pipeline.run, args=(self.acked.append,))
        self.worker.start()

    def run(self, messages: list[Received]) -> None:
        """Feed the messages to the running worker and wait until every one is acked."""
        wanted = len(self.acked) + len(messages)
        for message in messages:
            self.pipeline.submit(message)
        wait_for(lambda: len(self.acked) >= wanted, 30, "every message acked")

    def close(self) -> None:
        self.pipeline.stop()
        self.worker.join(10)

    def count(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels or None) or 0.0

    def quarantined(self) -> list[tuple[str | None, str, str]]:
        with self.db.session() as session:
            rows = session.scalars(select(QuarantinedMessage).order_by(QuarantinedMessage.id))
            return [(q.agent_id, q.stage, q.reason) for q in rows]


def metrics(agent: str, seq: int, at: datetime, **values: float) -> Received:
    sample = wire.DeviceSample(device="host", kind="host", reachable=True, metrics=values)
    message = wire.MetricsMessage(agent=agent, seq=seq, ts=at, interval_s=10, devices=[sample])
    return Received(wire.topic(agent, wire.Kind.METRICS), wire.encode(message))


def raw(agent: str, kind: wire.Kind, payload: dict[str, object]) -> Received:
    return Received(wire.topic(agent, kind), json.dumps(payload).encode())


def metrics_payload(seq: int, at: str, values: dict[str, float]) -> dict[str, object]:
    device = {"device": "host", "kind": "host", "reachable": True, "metrics": values}
    return {"agent": A, "seq": seq, "ts": at, "type": "metrics", "interval_s": 10,
            "devices": [device]}  # fmt: skip


def inventory(seq: int, devices: list[dict[str, object]]) -> Received:
    return raw(A, wire.Kind.INVENTORY, {
        "agent": A, "seq": seq, "ts": T0.isoformat(), "type": "inventory",
        "agent_version": "x", "hostname": "h", "devices": devices})  # fmt: skip


def chain(length: int) -> list[dict[str, object]]:
    return [{"device": f"d{i}", "kind": "switch", **({"parent": f"d{i - 1}"} if i else {})}
            for i in range(length)]  # fmt: skip


def hostile() -> list[Received]:
    many = {f"m{i}": 1.0 for i in range(60_000)}
    return [
        raw(A, wire.Kind.METRICS, metrics_payload(2**63, T0.isoformat(), {"cpu_pct": 1.0})),
        raw(A, wire.Kind.METRICS, metrics_payload(2, T0.isoformat(), many)),
        inventory(3, chain(2000)),
        raw(A, wire.Kind.METRICS, metrics_payload(4, "9999-12-31T00:00:00+00:00", {"x": 1.0})),
        metrics(A, 5, T0 + timedelta(days=1), cpu_pct=2.0),
        inventory(6, chain(20)),  # few devices, but deeper than max_graph_depth
        inventory(7, [{"device": f"cam{i}", "kind": "camera"} for i in range(400)]),
        inventory(8, [{"device": f"cam{i}", "kind": "camera"} for i in range(400, 800)]),
    ]


@pytest.fixture
def collectors() -> Iterator[list[Collector]]:
    made: list[Collector] = []
    yield made
    for collector in made:
        collector.close()


def test_hostile_messages_are_quarantined_and_the_other_agent_is_stored_once(
    tmp_path: Path, victoria, collectors: list[Collector]
):
    collector = Collector(tmp_path, victoria.url, IngestLimits())
    collectors.append(collector)
    good = [metrics(B, seq, T0 + timedelta(seconds=seq), load=float(seq)) for seq in range(1, 41)]
    mixed = [*good[:20], *hostile(), *good[20:], *good[:5]]  # the last five re-delivered
    collector.run(mixed)

    with collector.db.session() as session:
        stored_b = session.scalar(
            select(func.count()).select_from(IngestedMessage).where(IngestedMessage.agent_id == B)
        )
        devices_a = session.scalar(
            select(func.count()).select_from(Device).where(Device.room_id == "ra")
        )
    assert stored_b == 40 and devices_a == 1 + 400  # the first 400 cameras were within limits
    [series] = victoria.export(f'host_load{{agent="{B}"}}')
    assert sorted(series["values"]) == [float(s) for s in range(1, 41)]
    assert len(series["timestamps"]) == len(set(series["timestamps"])) == 40
    reasons = [
        (agent, stage, reason.split(":")[0]) for agent, stage, reason in collector.quarantined()
    ]
    assert reasons == [
        (A, "wire", "seq"),
        (A, "limits", "too_many_metrics"),
        (A, "limits", "too_many_devices"),
        (A, "limits", "future_timestamp"),
        (A, "limits", "future_timestamp"),
        (A, "limits", "graph_depth"),
        (A, "limits", "device_limit"),
    ]
    assert (
        collector.count("roomwatch_collector_rejected_messages_total", reason="future_timestamp")
        == 2
    )
    assert collector.count("roomwatch_collector_quarantined_messages_total", stage="limits") == 6

    # Agent A's later correct messages are evaluated: a full disk opens its fault at once.
    collector.now = T0 + timedelta(minutes=1)
    full = wire.TableRow(labels={"mount": "/"}, metrics={"used_pct": 99.0})
    sample = wire.DeviceSample(device="host", kind="host", reachable=True, tables={"disk": [full]})
    message = wire.MetricsMessage(agent=A, seq=9, ts=collector.now, interval_s=10, devices=[sample])
    collector.run([Received(wire.topic(A, wire.Kind.METRICS), wire.encode(message))])
    with collector.db.session() as session:
        opened = [(f.agent_id, f.rule_id) for f in session.scalars(select(Fault))]
    # Whichever step of the disk ladder (filling, nearly full, full) the rule pack opens at.
    assert any(agent == A and rule.startswith("disk_") for agent, rule in opened), opened


def test_a_batch_the_tsdb_refuses_is_split_and_only_the_culprit_quarantined(
    tmp_path: Path, victoria, collectors: list[Collector]
):
    """Limits raised so the 60,000-metric message reaches the TSDB: VictoriaMetrics answers
    400 after taking the lines before it; the split halves rewrite those with the same
    series and timestamps, so each point is stored once."""
    loose = IngestLimits(max_message_bytes=10_000_000, max_metrics_per_device=100_000,
                         max_metrics_per_message=100_000)  # fmt: skip
    collector = Collector(tmp_path, victoria.url, loose)
    collectors.append(collector)
    good = [metrics(B, seq, T0 + timedelta(seconds=seq), split=float(seq)) for seq in range(1, 31)]
    many = {f"m{i}": 1.0 for i in range(60_000)}
    culprit = raw(A, wire.Kind.METRICS, metrics_payload(1, T0.isoformat(), many))
    collector.run([*good[:15], culprit, *good[15:]])

    assert [(agent, stage) for agent, stage, _ in collector.quarantined()] == [(A, "tsdb")]
    [series] = victoria.export(f'host_split{{agent="{B}"}}')
    assert sorted(series["values"]) == [float(s) for s in range(1, 31)]
    with collector.db.session() as session:
        assert session.scalar(select(func.count()).select_from(IngestedMessage)) == 30


def test_admins_see_the_quarantine_and_metrics_count_it(
    tmp_path: Path, victoria, collectors: list[Collector]
):
    collector = Collector(tmp_path, victoria.url, IngestLimits())
    collectors.append(collector)
    collector.run([metrics(A, 1, T0 + timedelta(days=1), cpu_pct=1.0), metrics(B, 1, T0, x=1.0)])
    app = create_app(collector.db, collector.registry)
    with TestClient(app) as client:
        admin = bearer(token_for(collector.db, "root", "admin"))
        viewer = bearer(token_for(collector.db, "eve", "viewer"))
        assert client.get("/api/admin/quarantine", headers=viewer).status_code == 403
        body = client.get("/api/admin/quarantine", params={"agent": A}, headers=admin).json()
        scraped = client.get("/metrics").text
    [item] = body["items"]
    assert body["total"] == 1 and (item["agent_id"], item["seq"], item["stage"]) == (
        A,
        "1",
        "limits",
    )
    assert item["reason"].startswith("future_timestamp") and '"cpu_pct"' in item["excerpt"]
    assert 'roomwatch_collector_quarantined_messages_total{stage="limits"} 1.0' in scraped


def test_the_quarantine_keeps_the_newest_rows_up_to_its_cap(
    tmp_path: Path, victoria, collectors: list[Collector]
):
    collector = Collector(tmp_path, victoria.url, IngestLimits(quarantine_max_rows=3))
    collectors.append(collector)
    ahead = T0 + timedelta(days=1)
    collector.run([metrics(A, 1, ahead, x=1.0), metrics(A, 2, ahead, x=1.0)])
    collector.run([metrics(A, seq, ahead, x=1.0) for seq in (3, 4)])
    collector.run([metrics(A, 5, ahead, x=1.0), metrics(B, 1, T0, x=1.0)])

    with collector.db.session() as session:
        kept = list(session.scalars(select(QuarantinedMessage.seq).order_by(QuarantinedMessage.id)))
        stored_b = session.scalar(select(func.count()).select_from(IngestedMessage))
    assert kept == ["3", "4", "5"] and stored_b == 1
    assert collector.count("roomwatch_collector_quarantined_messages_total", stage="limits") == 5
    assert collector.count("roomwatch_collector_quarantine_dropped_total") == 2


def test_outages_are_told_from_content_errors() -> None:
    from sqlalchemy.exc import IntegrityError, OperationalError

    from roomwatch.collector.errors import TsdbRejectedError, TsdbWriteError
    from roomwatch.collector.ingest.poison import is_outage

    locked = OperationalError("UPDATE x", {}, Exception("database is locked"))
    assert is_outage(TsdbWriteError("TSDB down")) and is_outage(locked)
    assert is_outage(ConnectionRefusedError()) and is_outage(TimeoutError())
    assert not is_outage(TsdbRejectedError("bad sample"))
    assert not is_outage(IntegrityError("INSERT x", {}, Exception("unique")))
    assert not is_outage(ValueError("content"))

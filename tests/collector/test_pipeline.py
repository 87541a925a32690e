"""The ingest pipeline against a real VictoriaMetrics and a real SQLite database:
samples land in the TSDB under the inventory's room, each (agent, seq) is stored once,
bad messages are counted, faults open at the plan's level and resolve, and a TSDB outage
stores nothing (so nothing is acknowledged) until it is back."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from roomwatch.agent import wire
from roomwatch.collector.config import IngestConfig, TsdbConfig
from roomwatch.collector.db import ingest_store
from roomwatch.collector.db.models import Fault, IngestedMessage, RollupHourly
from roomwatch.collector.db.session import open_database
from roomwatch.collector.demo.procs import free_port, wait_for
from roomwatch.collector.errors import TsdbWriteError
from roomwatch.collector.faults import FaultTracker
from roomwatch.collector.ingest.pipeline import IngestPipeline, Received
from roomwatch.collector.ingest.stats import IngestStats
from roomwatch.collector.ingest.tsdb import TsdbWriter
from roomwatch.collector.inventory import load_inventory, sync_inventory
from roomwatch.collector.rules.engine import RuleEngine
from roomwatch.collector.rules.model import load_rules

T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
INVENTORY = {
    "sites": [
        {
            "id": "north-campus",
            "name": "North Campus",
            "rooms": [
                {
                    "id": "a101",
                    "name": "A101",
                    "agents": ["agent-a101"],
                    "devices": [{"id": "host", "kind": "host"}, {"id": "cam-1", "kind": "camera"}],
                }
            ],
        }
    ]
}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Harness:
    def __init__(self, tmp: Path, tsdb_url: str) -> None:
        inventory = tmp / "inventory.yaml"
        inventory.write_text(yaml.safe_dump(INVENTORY))
        self.db = open_database(f"sqlite:///{tmp / 'c.db'}")
        sync_inventory(self.db, load_inventory(inventory))
        self.registry = CollectorRegistry()
        self.clock = Clock()
        self.seq = 0
        self.pipeline = IngestPipeline(
            self.db,
            TsdbWriter(TsdbConfig(url=tsdb_url)),
            FaultTracker(RuleEngine(load_rules())),
            IngestStats(self.registry),
            IngestConfig(),
            clock=self.clock,
        )

    def metrics(
        self, *samples: wire.DeviceSample, agent: str = "agent-a101", at: datetime | None = None
    ) -> Received:
        self.seq += 1
        message = wire.MetricsMessage(
            agent=agent, seq=self.seq, ts=at or self.clock.now, interval_s=10, devices=list(samples)
        )
        return Received(wire.topic(agent, wire.Kind.METRICS), wire.encode(message))

    def status(self, state: str) -> Received:
        self.seq += 1
        message = wire.StatusMessage(
            agent="agent-a101", seq=self.seq, ts=self.clock.now, state=state, agent_version="t"
        )
        return Received(wire.topic("agent-a101", wire.Kind.STATUS), wire.encode(message))

    def counter(self, name: str) -> float:
        return self.registry.get_sample_value(name) or 0.0

    def faults(self) -> list[Fault]:
        with self.db.session() as session:
            return list(session.scalars(select(Fault).order_by(Fault.id)))


def camera(reachable: bool = True, temperature_c: float = 41.5) -> wire.DeviceSample:
    metrics = {"temperature_c": temperature_c} if reachable else {}
    return wire.DeviceSample(
        device="cam-1",
        kind="camera",
        reachable=reachable,
        rtt_ms=3.0 if reachable else None,
        metrics=metrics,
    )


def host(disk_pct: float) -> wire.DeviceSample:
    rows = [wire.TableRow(labels={"mount": "/"}, metrics={"used_pct": disk_pct})]
    return wire.DeviceSample(device="host", kind="host", reachable=True, tables={"disk": rows})


@pytest.fixture
def harness(tmp_path: Path, victoria) -> Harness:
    return Harness(tmp_path, victoria.url)


def test_samples_land_in_the_tsdb_under_the_inventory_room(harness: Harness, victoria):
    harness.pipeline.process([harness.metrics(camera(temperature_c=47.25))])
    series = victoria.export('camera_temperature_c{agent="agent-a101"}')
    assert [(s["metric"]["room"], s["metric"]["site"], s["values"]) for s in series] == [
        ("a101", "north-campus", [47.25])
    ]


def test_a_redelivered_message_is_stored_once(harness: Harness):
    message = harness.metrics(camera(temperature_c=40.0))
    harness.pipeline.process([message])
    harness.pipeline.process([message])
    assert harness.counter("roomwatch_collector_duplicates_total") == 1
    with harness.db.session() as session:
        rollup = session.scalars(
            select(RollupHourly).where(RollupHourly.metric == "temperature_c")
        ).one()
    assert rollup.count == 1


def test_malformed_and_foreign_messages_are_counted_and_the_rest_stored(harness: Harness):
    good = harness.metrics(camera())
    batch = [
        Received("roomwatch/v1/agent-a101/metrics", b"{not json"),
        harness.metrics(camera(), agent="agent-unknown"),
        good,
    ]
    harness.pipeline.process(batch)
    assert harness.counter("roomwatch_collector_invalid_messages_total") == 1
    assert harness.counter("roomwatch_collector_unknown_agent_messages_total") == 1
    assert (
        harness.registry.get_sample_value("roomwatch_collector_messages_total", {"kind": "metrics"})
        == 2
    )


def test_unreachable_camera_is_one_l1_fault_until_it_answers_again(harness: Harness):
    for minute in range(3):
        harness.clock.now = T0 + timedelta(minutes=minute)
        harness.pipeline.process([harness.metrics(camera(reachable=False))])
    [fault] = harness.faults()
    assert (fault.rule_id, fault.level, fault.status, fault.fire_count) == (
        "device_unreachable",
        1,
        "open",
        3,
    )
    assert fault.room_id == "a101" and fault.title == "cam-1 unreachable in a101"

    harness.clock.now = T0 + timedelta(minutes=5)
    harness.pipeline.process([harness.metrics(camera(reachable=True))])
    [fault] = harness.faults()
    assert fault.status == "resolved"
    assert fault.resolved_at == T0 + timedelta(minutes=5)


def test_disk_at_92_percent_opens_one_l2_fault(harness: Harness):
    harness.pipeline.process([harness.metrics(host(92.0))])
    # The L2 rung waits for a second poll (its guard); the disk's one fault shows at L3.
    assert [(f.rule_id, f.level) for f in harness.faults()] == [("disk_filling", 3)]
    harness.clock.now = T0 + timedelta(seconds=30)
    harness.pipeline.process([harness.metrics(host(92.0))])
    assert [(f.rule_id, f.level) for f in harness.faults()] == [("disk_nearly_full", 2)]


def test_agent_last_will_opens_l1_and_its_next_message_resolves_it(harness: Harness):
    harness.pipeline.process([harness.status("online"), harness.metrics(camera())])
    harness.clock.now = T0 + timedelta(minutes=1)
    harness.pipeline.process([harness.status("offline")])
    [fault] = harness.faults()
    assert (fault.rule_id, fault.level, fault.status) == ("agent_offline", 1, "open")
    harness.clock.now = T0 + timedelta(minutes=2)
    harness.pipeline.process([harness.metrics(camera())])
    assert [f.status for f in harness.faults()] == ["resolved"]


def test_an_agent_silent_past_the_threshold_is_offline(harness: Harness):
    harness.pipeline.process([harness.metrics(camera())])
    harness.clock.now = T0 + timedelta(seconds=119)
    assert harness.pipeline.check_silence(120) == []
    harness.clock.now = T0 + timedelta(seconds=121)
    [opened] = harness.pipeline.check_silence(120)
    assert (opened.kind, opened.level) == ("opened", 1)
    assert harness.pipeline.check_silence(120) == []


def test_tsdb_outage_stores_nothing_and_the_retry_stores_everything(tmp_path: Path, victoria):
    harness = Harness(tmp_path, f"http://127.0.0.1:{free_port()}")
    message = harness.metrics(camera(temperature_c=39.5))
    with pytest.raises(TsdbWriteError):
        harness.pipeline.process([message])
    assert harness.counter("roomwatch_collector_tsdb_write_errors_total") == 1
    with harness.db.session() as session:
        assert session.scalars(select(RollupHourly)).all() == []

    harness.pipeline.tsdb = TsdbWriter(TsdbConfig(url=victoria.url))
    harness.pipeline.process([message])
    assert harness.counter("roomwatch_collector_duplicates_total") == 0
    wait_for(
        lambda: bool(victoria.export('camera_temperature_c{agent="agent-a101"}')), 10, "sample"
    )


def test_a_stop_during_a_tsdb_outage_acknowledges_nothing(tmp_path: Path):
    """Stopped while the TSDB is down, the batch is neither acknowledged nor quarantined:
    the broker delivers it again after the restart."""
    harness = Harness(tmp_path, f"http://127.0.0.1:{free_port()}")
    pipeline = harness.pipeline
    pipeline.retry_delay_s = 0.01
    acked: list[Received] = []
    pipeline.submit(harness.metrics(camera(temperature_c=39.5)))
    worker = threading.Thread(target=pipeline.run, args=(acked.append,), daemon=True)
    worker.start()
    wait_for(lambda: harness.counter("roomwatch_collector_store_retries_total") >= 2, 10, "retry")
    pipeline.stop()
    worker.join(10)

    assert not worker.is_alive()
    assert acked == []
    assert harness.registry.get_sample_value(
        "roomwatch_collector_quarantined_messages_total", {"stage": "store"}
    ) in (None, 0.0)
    with harness.db.session() as session:
        assert session.scalars(select(IngestedMessage)).all() == []


def test_a_sql_failure_during_the_tsdb_write_stores_nothing_and_the_retry_stores_once(
    harness: Harness, victoria, monkeypatch: pytest.MonkeyPatch
):
    """The TSDB write runs while the batch's SQL does; a failing SQL statement still rolls
    everything back (so nothing is acknowledged), and the retry stores the batch once."""
    message = harness.metrics(camera(temperature_c=44.5), at=T0 + timedelta(seconds=7))
    store_latest = ingest_store.store_latest_many

    def database_gone(*args: object, **kwargs: object) -> None:
        raise OperationalError("UPDATE device_state", {}, Exception("database is locked"))

    monkeypatch.setattr(ingest_store, "store_latest_many", database_gone)
    with pytest.raises(OperationalError):
        harness.pipeline.process([message])
    assert harness.counter("roomwatch_collector_tsdb_write_errors_total") == 0
    with harness.db.session() as session:
        assert session.scalars(select(RollupHourly)).all() == []
        assert session.scalars(select(IngestedMessage)).all() == []

    monkeypatch.setattr(ingest_store, "store_latest_many", store_latest)
    harness.pipeline.process([message])
    with harness.db.session() as session:
        [rollup] = session.scalars(
            select(RollupHourly).where(RollupHourly.metric == "temperature_c")
        )
    assert (rollup.count, rollup.sum) == (1, 44.5)
    [series] = victoria.export('camera_temperature_c{agent="agent-a101"}')
    assert series["values"].count(44.5) == 1

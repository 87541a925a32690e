"""Exactly-once storage rests on the (agent, seq) records in SQL: they outlive the collector
process, so a message delivered again after a restart is recognised; and old records are
pruned on a schedule (``ingest.dedupe_keep_days``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from roomwatch.agent import wire
from roomwatch.collector.config import CollectorConfig
from roomwatch.collector.db.models import IngestedMessage
from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from roomwatch.collector.runner import CollectorService
from tests.e2e.outage_stack import stored_cycles, wait_until
from tests.fixtures.broker import COLLECTOR_PASSWORD, COLLECTOR_USER

pytestmark = pytest.mark.e2e
AGENT = "room-601"


def collector_config(
    broker: MosquittoBroker, victoria: VictoriaMetrics, tmp_path: Path, **ingest: float
) -> CollectorConfig:
    inventory = tmp_path / "inventory.yaml"
    rooms = [{"id": f"room-of-{AGENT}", "name": "Room", "agents": [AGENT]}]
    inventory.write_text(yaml.safe_dump({"sites": [{"id": "s", "name": "S", "rooms": rooms}]}))
    return CollectorConfig.model_validate(
        {
            "mqtt": {
                "port": broker.port,
                "username": COLLECTOR_USER,
                "password": COLLECTOR_PASSWORD,
                "client_id": "dedupe-collector",
                "reconnect_min_s": 0.1,
                "reconnect_max_s": 0.5,
            },
            "tsdb": {"url": victoria.url},
            "database": {"url": f"sqlite:///{tmp_path / 'collector.db'}"},
            "inventory_file": str(inventory),
            "ingest": {"batch_wait_s": 0.05, **ingest},
        }
    )


def cycle(seq: int, start: datetime) -> bytes:
    """A metrics message whose agent counters say ``cycles = seq``, sampled ``seq`` seconds
    after ``start`` (a re-delivery has the same time, as an agent's replay has)."""
    agent = wire.DeviceSample(
        device="agent", kind="agent", reachable=True, metrics={"cycles": float(seq)}
    )
    ts = start + timedelta(seconds=seq)
    message = wire.MetricsMessage(agent=AGENT, seq=seq, ts=ts, interval_s=1, devices=[agent])
    return wire.encode(message)


def publish(broker: MosquittoBroker, seqs: range, start: datetime) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(AGENT, "pw")
    client.connect(broker.host, broker.port)
    client.loop_start()
    for seq in seqs:
        client.publish(
            wire.topic(AGENT, wire.Kind.METRICS), cycle(seq, start), qos=1
        ).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def stored(service: CollectorService) -> int:
    with service.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(IngestedMessage)) or 0)


def test_a_message_delivered_again_after_a_collector_restart_is_stored_once(
    broker: MosquittoBroker, victoria: VictoriaMetrics, tmp_path: Path
):
    broker.add_user(AGENT, "pw")
    # Sample times from the collector's (real) clock: ingest.limits refuses ones more than
    # backfill_max_s old or ahead of it.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    config = collector_config(broker, victoria, tmp_path)
    first = CollectorService(config)
    first.start()
    try:
        wait_until(lambda: first.subscriber.connected, 10, "the first collector")
        publish(broker, range(1, 11), start)
        wait_until(lambda: stored(first) == 10, 20, "ten messages stored")
    finally:
        first.stop()

    second = CollectorService(config)  # a new process's worth of state: only SQL carries over
    second.start()
    try:
        wait_until(lambda: second.subscriber.connected, 10, "the second collector")
        publish(broker, range(1, 13), start)  # the same ten again, and two new ones
        duplicates = "roomwatch_collector_duplicates_total"
        wait_until(
            lambda: second.registry.get_sample_value(duplicates) == 10 and stored(second) == 12,
            20,
            "the repeats recognised and the new ones stored",
        )
    finally:
        second.stop()
    wait_until(lambda: len(stored_cycles(victoria, AGENT)) == 12, 20, "12 points in the TSDB")
    assert [v for _t, v in stored_cycles(victoria, AGENT)] == [float(n) for n in range(1, 13)]


def test_dedupe_records_older_than_keep_days_are_pruned_periodically(
    broker: MosquittoBroker, victoria: VictoriaMetrics, tmp_path: Path
):
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    config = collector_config(
        broker, victoria, tmp_path, dedupe_keep_days=2, dedupe_prune_every_s=0.2
    )
    service = CollectorService(config, clock=lambda: now)
    with service.db.session() as session:
        for seq, age_days in enumerate([10, 3, 2.5, 1.9, 0.1], start=1):
            received = now - timedelta(days=age_days)
            session.add(IngestedMessage(agent_id=AGENT, seq=seq, received_at=received))
    service.start()
    try:
        wait_until(lambda: stored(service) == 2, 10, "the records older than two days pruned")
        pruned = service.registry.get_sample_value("roomwatch_collector_dedupe_pruned_total")
    finally:
        service.stop()
    assert pruned == 3
    with service.db.session() as session:
        assert sorted(session.scalars(select(IngestedMessage.seq))) == [4, 5]

"""One agent's valid broker account against the collector, end to end: a real mosquitto with
the shipped settings (ACL, client id = account name), the collector's runner, VictoriaMetrics
and SQLite.

Agent A publishes, through the broker, a seq of 2^63, ~60,000 metrics, a 2,000-link parent
chain, a too-deep parent chain and samples dated year 9999 and a day ahead, while agents B
and C publish correct samples every 0.1 s. B's samples must all be stored exactly once in
SQL and in the TSDB; the collector keeps ingesting across a restart without the hostile
messages coming back; A's later correct message still opens its fault; nobody gets an
"agent offline"; admins see A's messages with their reasons and /metrics counts them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from roomwatch.agent import wire
from roomwatch.collector.api.auth import create_user, issue_token
from roomwatch.collector.config import CollectorConfig
from roomwatch.collector.db.models import Fault, IngestedMessage
from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from roomwatch.collector.runner import CollectorService
from tests.e2e.outage_stack import wait_until
from tests.fixtures.broker import COLLECTOR_PASSWORD, COLLECTOR_USER

pytestmark = pytest.mark.e2e

A, B, C = "room-801", "room-802", "room-803"
SILENCE_S = 6.0  # an agent unheard this long is offline (L1): a stall of ingest shows up
HOSTILE = 6
QUARANTINED = "roomwatch_collector_quarantined_messages_total"
Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]  # (name, labels) → value


def now() -> datetime:
    return datetime.now(UTC)


class Agent:
    """An MQTT client on the agent's own broker account."""

    def __init__(self, broker: MosquittoBroker, agent_id: str) -> None:
        self.agent_id = agent_id
        broker.add_user(agent_id, f"pw-{agent_id}")
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=agent_id, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(agent_id, f"pw-{agent_id}")
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, kind: wire.Kind, payload: bytes) -> None:
        info = self.client.publish(wire.topic(self.agent_id, kind), payload, qos=1)
        info.wait_for_publish(10)
        assert info.is_published(), f"{self.agent_id}: the broker did not take the message"

    def publish_raw(self, kind: wire.Kind, payload: dict[str, Any]) -> None:
        self.publish(kind, json.dumps(payload).encode())

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class SteadyAgent(Agent):
    """Publishes a correct metrics message every 0.1 s (``load`` = its seq) until stopped."""

    def __init__(self, broker: MosquittoBroker, agent_id: str) -> None:
        super().__init__(broker, agent_id)
        self.published = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"agent-{agent_id}")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            seq = self.published + 1
            sample = wire.DeviceSample(
                device="host", kind="host", reachable=True, metrics={"load": float(seq)}
            )
            message = wire.MetricsMessage(
                agent=self.agent_id, seq=seq, ts=now(), interval_s=1, devices=[sample]
            )
            self.publish(wire.Kind.METRICS, wire.encode(message))
            self.published = seq

    def close(self) -> None:
        self._stop.set()
        self._thread.join(15)
        super().close()


def metrics_payload(agent: str, seq: int, at: str, values: dict[str, float]) -> dict[str, Any]:
    device = {"device": "host", "kind": "host", "reachable": True, "metrics": values}
    return {"agent": agent, "seq": seq, "ts": at, "type": "metrics", "interval_s": 10,
            "devices": [device]}  # fmt: skip


def inventory_payload(agent: str, seq: int, links: int) -> dict[str, Any]:
    chain = [{"device": f"d{i}", "kind": "switch", **({"parent": f"d{i - 1}"} if i else {})}
             for i in range(links)]  # fmt: skip
    return {"agent": agent, "seq": seq, "ts": now().isoformat(), "type": "inventory",
            "agent_version": "x", "hostname": "h", "devices": chain}  # fmt: skip


def send_hostile(attacker: Agent) -> None:
    """The messages of issue 13, each published through the broker with A's account."""
    at = now().isoformat()
    metrics, inventory = wire.Kind.METRICS, wire.Kind.INVENTORY
    attacker.publish_raw(metrics, metrics_payload(A, 2**63, at, {"cpu_pct": 1.0}))
    many = {f"m{i}": 1.0 for i in range(60_000)}
    attacker.publish_raw(metrics, metrics_payload(A, 2, at, many))
    attacker.publish_raw(inventory, inventory_payload(A, 3, 2000))
    attacker.publish_raw(inventory, inventory_payload(A, 4, 20))  # few devices, too deep
    year_9999 = "9999-12-31T00:00:00+00:00"
    attacker.publish_raw(metrics, metrics_payload(A, 5, year_9999, {"cpu_pct": 1.0}))
    day_ahead = (now() + timedelta(days=1)).isoformat()
    attacker.publish_raw(metrics, metrics_payload(A, 6, day_ahead, {"cpu_pct": 1.0}))


def full_disk(agent: str, seq: int) -> bytes:
    row = wire.TableRow(labels={"mount": "/"}, metrics={"used_pct": 99.0})
    sample = wire.DeviceSample(device="host", kind="host", reachable=True, tables={"disk": [row]})
    return wire.encode(
        wire.MetricsMessage(agent=agent, seq=seq, ts=now(), interval_s=10, devices=[sample])
    )


class Collector:
    """The collector's runner with an admin's API client; ``restart`` is a new process's
    worth of state (only SQL and the broker session carry over)."""

    def __init__(self, broker: MosquittoBroker, victoria: VictoriaMetrics, tmp: Path) -> None:
        inventory = tmp / "inventory.yaml"
        rooms = [{"id": f"r-{a}", "name": f"Room {a}", "agents": [a]} for a in (A, B, C)]
        inventory.write_text(yaml.safe_dump({"sites": [{"id": "s", "name": "S", "rooms": rooms}]}))
        self.config = CollectorConfig.model_validate(
            {
                "mqtt": {
                    "port": broker.port,
                    "username": COLLECTOR_USER,
                    "password": COLLECTOR_PASSWORD,
                    "reconnect_min_s": 0.1,
                    "reconnect_max_s": 0.5,
                },
                "tsdb": {"url": victoria.url},
                "database": {"url": f"sqlite:///{tmp / 'collector.db'}"},
                "inventory_file": str(inventory),
                "ingest": {"batch_wait_s": 0.05},
                "faults": {"agent_silence_s": SILENCE_S, "evaluate_every_s": 0.5},
            }
        )
        self.service = self._start()
        with self.service.db.session() as session:
            admin = create_user(session, "root", "admin", now())
            self._token = issue_token(session, admin, now(), name="e2e").secret

    def _start(self) -> CollectorService:
        service = CollectorService(self.config)
        service.start()
        wait_until(lambda: service.subscriber.connected, 10, "the collector connected")
        self.api = TestClient(service.app())
        return service

    def restart(self) -> None:
        self.service.stop()
        self.service = self._start()

    def get(self, path: str, **params: str) -> Any:
        headers = {"Authorization": f"Bearer {self._token}"}
        response = self.api.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json() if path.startswith("/api/") else response.text

    def metrics(self) -> Scrape:
        """The /metrics page as (sample name, labels) → value."""
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(self.get("/metrics"))
            for s in family.samples
        }

    def stored(self, agent: str) -> int:
        with self.service.db.session() as session:
            query = (
                select(func.count())
                .select_from(IngestedMessage)
                .where(IngestedMessage.agent_id == agent)
            )
            return int(session.scalar(query) or 0)

    def faults(self) -> list[tuple[str | None, str]]:
        with self.service.db.session() as session:
            return [(f.agent_id, f.rule_id) for f in session.scalars(select(Fault))]


@pytest.fixture
def collector(
    broker: MosquittoBroker, victoria: VictoriaMetrics, tmp_path: Path
) -> Iterator[Collector]:
    instance = Collector(broker, victoria, tmp_path)
    yield instance
    instance.service.stop()


def quarantined_total(metrics: Scrape) -> float:
    return sum(value for (name, _), value in metrics.items() if name == QUARANTINED)


def test_one_agents_hostile_messages_hold_up_no_one_across_a_restart(
    broker: MosquittoBroker, victoria: VictoriaMetrics, collector: Collector
):
    b, c, attacker = SteadyAgent(broker, B), SteadyAgent(broker, C), Agent(broker, A)
    try:
        wait_until(lambda: collector.stored(B) >= 5, 10, "B's first samples stored")
        send_hostile(attacker)
        after_hostile = b.published
        wait_until(
            lambda: collector.stored(B) >= after_hostile + 10, 15, "B's samples after A's stored"
        )
        # A's own correct message after the hostile ones is evaluated (the day-ahead one did
        # not become A's newest sample): its full disk opens a fault at once.
        attacker.publish(wire.Kind.METRICS, full_disk(A, 7))
        wait_until(
            lambda: any(a == A and rule.startswith("disk") for a, rule in collector.faults()),
            10,
            "A's disk fault",
        )
        listed = collector.get("/api/admin/quarantine", agent=A)
        counted = collector.metrics()

        collector.restart()
        before_restart = b.published
        wait_until(
            lambda: collector.stored(B) >= before_restart + 10, 15, "B's samples after a restart"
        )
    finally:
        for agent in (b, c, attacker):
            agent.close()

    # Every sample B published is stored once in SQL and once in the TSDB. C's last message
    # may be stored a batch after B's last: wait for each, then read both again (none twice).
    wait_until(lambda: collector.stored(B) == b.published, 10, "all of B's samples in SQL")
    wait_until(lambda: collector.stored(C) == c.published, 10, "all of C's samples in SQL")
    assert (collector.stored(B), collector.stored(C)) == (b.published, c.published)

    def b_points() -> list[dict[str, Any]]:
        return victoria.export(f'host_load{{agent="{B}"}}')

    # VictoriaMetrics may show the last points a moment after force_flush.
    wait_until(lambda: sum(len(s["values"]) for s in b_points()) >= b.published, 10, "B's points")
    [series] = b_points()
    assert sorted(series["values"]) == [float(seq) for seq in range(1, b.published + 1)]
    assert len(set(series["timestamps"])) == b.published
    assert victoria.export(f'{{agent="{A}", __name__=~"host_m[0-9]+"}}') == []

    # Admins see each hostile message of A with its reason; /metrics counted them.
    assert listed["total"] == HOSTILE
    reasons = sorted(
        (item["stage"], item["reason"].split(":")[0], item["seq"] or "") for item in listed["items"]
    )
    assert reasons == [
        ("limits", "future_timestamp", "5"),
        ("limits", "future_timestamp", "6"),
        ("limits", "graph_depth", "4"),
        ("limits", "too_many_devices", "3"),
        ("limits", "too_many_metrics", "2"),
        ("wire", "seq", ""),  # the seq is the problem: it cannot be read as one
    ]
    assert quarantined_total(counted) == HOSTILE
    assert counted[(QUARANTINED, (("stage", "limits"),))] == 5
    rejected = ("roomwatch_collector_rejected_messages_total", (("reason", "future_timestamp"),))
    assert counted[rejected] == 2

    # After the restart nothing of A's came back: acknowledged, not re-delivered.
    assert quarantined_total(collector.metrics()) == 0
    assert collector.get("/api/admin/quarantine", agent=A)["total"] == HOSTILE

    # Nobody else was taken for offline while A's messages went through (A itself went
    # quiet after its last message: that one is true).
    offline = [agent for agent, rule in collector.faults() if rule == "agent_offline"]
    assert set(offline) <= {A}

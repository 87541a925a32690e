"""A collector group under load survives losing two of its three members.

Real pieces only: mosquitto with the shipped settings and one account per partition,
PostgreSQL (a database of its own, dropped afterwards), VictoriaMetrics, three collector
processes and simulated agents publishing steadily over MQTT. One collector is killed
(SIGKILL) while the agents publish, later a second. Afterwards: the TSDB holds exactly the
samples the agents sent, the SQL rollups counted each message once (no (agent, seq) stored
twice), every injected incident has exactly one fault whose SLA clocks did not change, and
the survivor holds every partition.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, text

from roomwatch.agent import wire
from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from roomwatch.collector.group.partitions import lease_name, partition_account
from tests.collector.conftest import postgres_database
from tests.e2e.outage_stack import COLLECTOR_USER, CollectorProcess, stop_all, wait_until

pytestmark = pytest.mark.e2e
PARTITIONS = 4
KEEPALIVE_S = 5  # the lease defaults to it: a take-over within 5 x 4/3 s
GROUP_PASSWORD = "group-test-password"
AGENTS = [f"room-{n}" for n in range(701, 707)]
RATE_HZ = 4.0  # per agent
LOAD_S = 22.0
INCIDENT_FROM_SEQ = 8  # the camera stops answering from this message on


@pytest.fixture
def group_broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    broker = MosquittoBroker(tmp_path / "mosquitto")
    for partition in range(PARTITIONS):
        broker.add_user(
            partition_account(COLLECTOR_USER, partition), GROUP_PASSWORD, collector=True
        )
    for agent in AGENTS:
        broker.add_user(agent, f"pw-{agent}")
    broker.start()
    yield broker
    broker.close()


def metrics(agent: str, seq: int, ts: datetime) -> bytes:
    own = wire.DeviceSample(device="agent", kind="agent", reachable=True, metrics={"cycles": seq})
    camera = wire.DeviceSample(
        device="cam-1", kind="camera", reachable=seq < INCIDENT_FROM_SEQ, metrics={}
    )
    message = wire.MetricsMessage(agent=agent, seq=seq, ts=ts, interval_s=1, devices=[own, camera])
    return wire.encode(message)


class Agents(threading.Thread):
    """Every agent publishes at RATE_HZ with QoS 1 until stopped; counts what was sent."""

    def __init__(self, broker: MosquittoBroker) -> None:
        super().__init__(daemon=True)
        self.sent = dict.fromkeys(AGENTS, 0)
        self._done = threading.Event()
        self._clients: dict[str, mqtt.Client] = {}
        for agent in AGENTS:
            client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            client.username_pw_set(agent, f"pw-{agent}")
            client.connect(broker.host, broker.port)
            client.loop_start()
            self._clients[agent] = client
        self.start_ts = datetime.now(UTC) - timedelta(seconds=60)

    def run(self) -> None:
        seq = 0
        while not self._done.wait(1 / RATE_HZ):
            seq += 1
            ts = self.start_ts + timedelta(seconds=seq / RATE_HZ)
            for agent, client in self._clients.items():
                topic = wire.topic(agent, wire.Kind.METRICS)
                client.publish(topic, metrics(agent, seq, ts), qos=1).wait_for_publish(5)
                self.sent[agent] = seq

    def stop(self) -> None:
        self._done.set()
        self.join()
        for client in self._clients.values():
            client.disconnect()
            client.loop_stop()


def test_a_group_loses_two_of_three_collectors_and_nothing_is_lost_or_doubled(
    group_broker: MosquittoBroker, victoria: VictoriaMetrics, tmp_path: Path
) -> None:
    with postgres_database() as url:
        engine = create_engine(url)

        def sql(query: str, **params: Any) -> list[Any]:
            with engine.connect() as connection:
                return list(connection.execute(text(query), params).all())

        collectors = [
            CollectorProcess(
                tmp_path / f"collector-{n}",
                group_broker,
                victoria,
                mqtt={"password": GROUP_PASSWORD, "keepalive_s": KEEPALIVE_S},
                database={"url": url},
                group={"enabled": True, "partitions": PARTITIONS},
            )
            for n in range(3)
        ]
        agents: Agents | None = None
        try:
            for collector in collectors:
                collector.write_inventory(AGENTS)
                collector.start()

            def all_served() -> bool:
                held = sql(
                    "SELECT count(*) FROM collector_leases"
                    " WHERE name LIKE 'partition-%' AND expires_at > clock_timestamp()"
                )
                logs = "".join(c.log_text() for c in collectors)
                served = all(f"serving agent partition {p} " in logs for p in range(PARTITIONS))
                return held[0][0] == PARTITIONS and served

            wait_until(all_served, 30, "every partition served")
            time.sleep(1.0)  # the sessions subscribe once connected
            agents = Agents(group_broker)
            agents.start()

            wait_until(lambda: _fault_count(sql) == len(AGENTS), 15, "the incidents opened")
            clocks_before = _clocks(sql)
            assert clocks_before, "the incidents' faults started SLA clocks"
            first, second, survivor = _by_load(collectors, sql)
            for victim in (first, second):
                assert _held_by(victim, sql) > 0  # its kill hands partitions over
                victim.kill()
                took_s = wait_until(
                    lambda v=victim: _held_by(v, sql) == 0 and _served(sql) == PARTITIONS,
                    2 * KEEPALIVE_S,
                    "the dead collector's partitions taken over",
                )
                time.sleep(max(0.0, LOAD_S / 3 - took_s))
            agents.stop()
            sent = sum(agents.sent.values())

            def stored() -> int:
                return int(sql("SELECT count(*) FROM ingested_messages")[0][0])

            wait_until(lambda: stored() >= sent, 4 * KEEPALIVE_S, f"{sent} messages stored")

            exported = 0
            for agent in AGENTS:
                series = victoria.export(f'agent_cycles{{agent="{agent}"}}')
                values = sorted(v for s in series for v in s["values"])
                assert values == [float(s) for s in range(1, agents.sent[agent] + 1)], agent
                exported += len(values)
            assert exported == sent == stored()
            [(rolled,)] = sql(
                "SELECT sum(r.count) FROM rollups_hourly r JOIN devices d ON d.id = r.device_id"
                " WHERE d.device = 'agent' AND r.metric = 'cycles'"
            )
            assert rolled == sent  # each message went through SQL exactly once

            assert _fault_count(sql) == len(AGENTS)
            assert _clocks(sql) == clocks_before
            holders = sql(
                "SELECT DISTINCT holder FROM collector_leases"
                " WHERE name LIKE 'partition-%' AND expires_at > clock_timestamp()"
            )
            assert len(holders) == 1
            [(leader,)] = sql("SELECT holder FROM collector_leases WHERE name = 'leader'")
            assert leader == holders[0][0]
            assert survivor.running
        finally:
            if agents is not None and agents.is_alive():
                agents.stop()
            stop_all(collectors)
            engine.dispose()


def _fault_count(sql: Any) -> int:
    rows = sql("SELECT count(*) FROM faults WHERE rule_id = 'device_unreachable'")
    return int(rows[0][0])


def _clocks(sql: Any) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in sql(
            "SELECT f.room_id, c.kind, c.started_at, c.deadline_at, c.stopped_at"
            " FROM sla_clocks c JOIN faults f ON f.id = c.fault_id ORDER BY f.room_id, c.kind"
        )
    ]


def _held_by(collector: CollectorProcess, sql: Any) -> int:
    """Partitions whose live lease names the collector (member ids carry the process id)."""
    rows = sql(
        "SELECT count(*) FROM collector_leases WHERE name LIKE 'partition-%'"
        " AND expires_at > clock_timestamp() AND holder LIKE :pid",
        pid=f"%-{collector.pid}-%",
    )
    return int(rows[0][0])


def _served(sql: Any) -> int:
    rows = sql(
        "SELECT count(*) FROM collector_leases"
        " WHERE name LIKE 'partition-%' AND expires_at > clock_timestamp()"
    )
    return int(rows[0][0])


def _by_load(collectors: list[CollectorProcess], sql: Any) -> list[CollectorProcess]:
    """The collectors, those holding partitions first (a kill then hands partitions over)."""
    counts = {
        holder: n
        for holder, n in sql(
            "SELECT holder, count(*) FROM collector_leases"
            " WHERE name LIKE 'partition-%' GROUP BY holder"
        )
    }

    def held(collector: CollectorProcess) -> int:
        return sum(n for holder, n in counts.items() if f"-{collector.pid}-" in holder)

    return sorted(collectors, key=held, reverse=True)


assert lease_name(0) == "partition-000"  # the SQL above filters on this prefix

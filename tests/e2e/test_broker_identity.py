"""An attacker holding one room agent's broker account, against the shipped broker settings
(deploy/mosquitto: the ``broker`` fixture loads them) and a real mosquitto.

It tries to take over the collector's client id (and with it the collector's persistent
session and the messages queued in it), another room's client id (which would cut that
room off and fire its Last Will, an L1 "agent offline"), and another room's topics.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import SecretStr

from roomwatch.agent import wire
from roomwatch.agent.config import AgentConfig
from roomwatch.agent.publisher import Publisher
from roomwatch.agent.spool import Spool
from roomwatch.collector.config import CollectorMqtt
from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.ingest.pipeline import Received
from roomwatch.collector.ingest.subscriber import Subscriber as CollectorSubscriber
from tests.fixtures.broker import COLLECTOR_PASSWORD, COLLECTOR_USER, Subscriber, wait_until

pytestmark = pytest.mark.e2e

ATTACKER, VICTIM = "room-701", "room-702"
OLD_COLLECTOR_ID = "roomwatch-collector"  # the collector's client id before it was its name


class Collector:
    """The collector's own MQTT client with its default settings, counting what it sees."""

    def __init__(self, broker: MosquittoBroker) -> None:
        self.config = CollectorMqtt(
            port=broker.port,
            username=COLLECTOR_USER,
            password=SecretStr(COLLECTOR_PASSWORD),
            reconnect_min_s=0.1,
            reconnect_max_s=0.2,
        )
        self.seqs: list[int] = []
        self.drops = 0
        self.sessions_lost = 0
        self._lock = threading.Lock()
        self.client = CollectorSubscriber(self.config, self._on_message, self._on_session_lost)
        on_disconnect = self.client.client.on_disconnect
        assert on_disconnect is not None

        def count_drop(*args: Any) -> None:
            self.drops += 1
            on_disconnect(*args)

        self.client.client.on_disconnect = count_drop

    def _on_message(self, received: Received) -> None:
        message = wire.decode(received.topic, received.payload)
        with self._lock:
            if isinstance(message, wire.MetricsMessage):
                self.seqs.append(message.seq)
        self.client.ack(received)

    def _on_session_lost(self) -> None:
        self.sessions_lost += 1


@contextmanager
def collector(broker: MosquittoBroker) -> Iterator[Collector]:
    instance = Collector(broker)
    instance.client.start()
    try:
        wait_until(lambda: instance.client.connected)
        yield instance
    finally:
        instance.client.stop()


@contextmanager
def agent(config: AgentConfig) -> Iterator[tuple[Publisher, Spool]]:
    spool = Spool.open(config.state_dir, config.spool)
    publisher = Publisher(config, spool)
    publisher.start()
    try:
        wait_until(lambda: publisher.connected)
        yield publisher, spool
    finally:
        publisher.stop()
        spool.close()


def publish_metrics(publisher: Publisher, spool: Spool, agent_id: str, count: int) -> list[int]:
    seqs = []
    for _ in range(count):
        seqs.append(
            spool.append(
                wire.Kind.METRICS.value,
                lambda seq: wire.encode(
                    wire.MetricsMessage(
                        agent=agent_id, seq=seq, ts=wire.now(), interval_s=1, devices=[]
                    )
                ),
            ).seq
        )
    publisher.notify()
    wait_until(lambda: spool.stats().depth == 0)  # every one acknowledged by the broker
    return seqs


@contextmanager
def attacker_as(broker: MosquittoBroker, client_id: str) -> Iterator[mqtt.Client]:
    """The attacker's valid account, connecting with ``client_id`` and a clean start (which
    would discard the session of whoever had that id)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(ATTACKER, f"pw-{ATTACKER}")
    connacks: list[ReasonCode] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: connacks.append(reason)
    client.connect(broker.host, broker.port, clean_start=True)
    client.loop_start()
    try:
        wait_until(lambda: bool(connacks))
        assert not connacks[0].is_failure  # a valid account: the broker lets it in
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def test_an_agent_account_cannot_take_over_the_collectors_connection_or_session(
    broker: MosquittoBroker, make_agent_config: Callable[..., AgentConfig]
) -> None:
    make_agent_config(ATTACKER)
    victim = make_agent_config(VICTIM)
    with agent(victim) as (publisher, spool):
        with collector(broker) as live:
            for client_id in (live.config.client_id, OLD_COLLECTOR_ID):
                with attacker_as(broker, client_id):
                    sent = publish_metrics(publisher, spool, VICTIM, 3)
                    wait_until(lambda sent=sent: set(sent) <= set(live.seqs))
            assert live.drops == 0 and live.client.connected

        # The collector is away: the broker queues in its session. The attacker tries again.
        queued = publish_metrics(publisher, spool, VICTIM, 5)
        for client_id in (live.config.client_id, OLD_COLLECTOR_ID):
            with attacker_as(broker, client_id):
                pass

        with collector(broker) as back:
            wait_until(lambda: set(queued) <= set(back.seqs))
            assert back.sessions_lost == 0


def test_an_agent_account_cannot_cut_another_room_off_by_using_its_client_id(
    broker: MosquittoBroker,
    make_agent_config: Callable[..., AgentConfig],
    subscriber: Subscriber,
) -> None:
    make_agent_config(ATTACKER)
    victim = make_agent_config(VICTIM)

    def states() -> list[str]:
        return [m.state for m in subscriber.messages(wire.Kind.STATUS, VICTIM)]

    with agent(victim) as (publisher, spool):
        subscriber.wait_for(lambda _r: states() == ["online"])
        with attacker_as(broker, VICTIM):
            sent = publish_metrics(publisher, spool, VICTIM, 3)  # the victim still publishes
            subscriber.wait_for(
                lambda _r: (
                    {m.seq for m in subscriber.messages(wire.Kind.METRICS, VICTIM)} >= set(sent)
                )
            )
        assert publisher.counters().reconnects == 0
    assert "offline" not in states()[:-1]  # only its own clean stop at the end, no Last Will


def test_an_agent_account_cannot_publish_on_another_rooms_topics_and_collectors_write_nothing(
    broker: MosquittoBroker,
    make_agent_config: Callable[..., AgentConfig],
    subscriber: Subscriber,
    tmp_path: Path,
) -> None:
    make_agent_config(ATTACKER)
    make_agent_config(VICTIM)
    forged = {
        kind: wire.topic(VICTIM, kind)
        for kind in (wire.Kind.METRICS, wire.Kind.EVENTS, wire.Kind.STATUS, wire.Kind.INVENTORY)
    }
    acks: list[ReasonCode] = []
    with attacker_as(broker, ATTACKER) as client:
        client.on_publish = lambda _c, _u, _mid, reason, _p: acks.append(reason)
        for topic in forged.values():
            client.publish(topic, b"{}", qos=1)
        wait_until(lambda: len(acks) == len(forged))
    own_name_topic = wire.topic(COLLECTOR_USER, wire.Kind.METRICS)
    collector_acks: list[ReasonCode] = []
    writer = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    writer.username_pw_set(COLLECTOR_USER, COLLECTOR_PASSWORD)
    writer.on_publish = lambda _c, _u, _mid, reason, _p: collector_acks.append(reason)
    writer.connect(broker.host, broker.port)
    writer.loop_start()
    try:
        writer.publish(own_name_topic, b"{}", qos=1)
        writer.publish(wire.topic(VICTIM, wire.Kind.METRICS), b"{}", qos=1)
        wait_until(lambda: len(collector_acks) == 2)
    finally:
        writer.disconnect()
        writer.loop_stop()

    assert all(reason.is_failure for reason in acks + collector_acks)  # "Not authorized"
    assert subscriber.received == [] and subscriber.undecodable == []

"""The broker as a durable hop: what mosquitto 2.0 keeps across its own restart and crash,
and what the agent's replay window adds so that neither loses a message.

Findings these tests pin (docs/operations.md, "Broker restarts"):

- mosquitto writes a session to its persistence file only if the client's latest CONNECT
  had clean start off. A v5 client that opened its session with clean start on
  (paho's MQTT_CLEAN_START_FIRST_ONLY) comes back to no session after a restart, and what
  agents published in between was acknowledged to them and dropped. The collector always
  connects with clean start off, so a clean restart (SIGTERM) loses nothing even when the
  agents are back long before the collector.
- A crash (SIGKILL, power cut) loses what arrived since the last autosave
  (``autosave_interval``), acknowledgements included. Agents keep acknowledged messages for
  ``spool.replay_window_s`` and re-send them on every connect, which closes that window.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import SecretStr

from roomwatch.agent import wire
from roomwatch.agent.config import AgentConfig, SpoolConfig
from roomwatch.agent.publisher import Publisher
from roomwatch.agent.spool import Spool
from roomwatch.collector.config import CollectorMqtt
from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.ingest.pipeline import Received
from roomwatch.collector.ingest.subscriber import Subscriber
from tests.e2e.outage_stack import wait_until

pytestmark = pytest.mark.e2e

AGENT = "room-201"
MESSAGES = 40
REPO = Path(__file__).resolve().parents[2]


class Collector:
    """The collector's real MQTT client (clean start off, manual ack), recording seqs."""

    def __init__(self, broker: MosquittoBroker, reconnect_s: float = 0.2) -> None:
        self.seqs: list[int] = []
        self._lock = threading.Lock()
        config = CollectorMqtt(
            port=broker.port,
            username="collector",
            password=SecretStr("collector-pw"),
            client_id="broker-test-collector",
            reconnect_min_s=reconnect_s,
            reconnect_max_s=reconnect_s,
        )
        self.sessions_lost = 0
        self.client = Subscriber(config, self._on_message, on_session_lost=self._lost)

    def _lost(self) -> None:
        self.sessions_lost += 1

    def _on_message(self, received: Received) -> None:
        message = wire.decode(received.topic, received.payload)
        if isinstance(message, wire.MetricsMessage):
            with self._lock:
                self.seqs.append(message.seq)
        self.client.ack(received)

    def received(self) -> set[int]:
        with self._lock:
            return set(self.seqs)

    def __enter__(self) -> Collector:
        self.client.start()
        wait_until(lambda: self.client.connected, 10, "the collector to connect")
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.stop()


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[Callable[..., MosquittoBroker]]:
    brokers: list[MosquittoBroker] = []

    def make(**options: int) -> MosquittoBroker:
        broker = MosquittoBroker(tmp_path / f"broker-{len(brokers)}", **options)  # type: ignore[arg-type]
        broker.add_user("collector", "collector-pw", collector=True)
        broker.add_user(AGENT, "agent-pw")
        broker.start()
        brokers.append(broker)
        return broker

    yield make
    for broker in brokers:
        broker.close()


def agent_config(broker: MosquittoBroker, tmp_path: Path, replay_window_s: float) -> AgentConfig:
    return AgentConfig.model_validate(
        {
            "agent_id": AGENT,
            "state_dir": str(tmp_path / "agent"),
            "mqtt": {
                "port": broker.port,
                "password": "agent-pw",
                "reconnect_min_s": 0.1,
                "reconnect_max_s": 0.3,
            },
            "spool": {"replay_window_s": replay_window_s, "backlog_rate_per_s": 500},
        }
    )


def publish_all(spool: Spool, publisher: Publisher, count: int) -> list[int]:
    """Spool ``count`` metrics messages and wait until the broker acknowledged every one."""
    seqs = [
        spool.append(
            "metrics",
            lambda seq: wire.encode(
                wire.MetricsMessage(agent=AGENT, seq=seq, ts=wire.now(), interval_s=1, devices=[])
            ),
        ).seq
        for _ in range(count)
    ]
    publisher.notify()
    wait_until(lambda: spool.stats().depth == 0, 20, "the broker to acknowledge everything")
    return seqs


@pytest.mark.parametrize("clean_start", [False, True], ids=["clean-start-off", "clean-start-on"])
def test_mosquitto_keeps_over_a_restart_only_sessions_last_opened_with_clean_start_off(
    make_broker: Callable[..., MosquittoBroker], clean_start: bool
):
    broker = make_broker()
    received: list[bytes] = []

    def connect(clean: bool) -> tuple[mqtt.Client, bool]:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, "pin-subscriber", protocol=mqtt.MQTTv5)
        client.username_pw_set("collector", "collector-pw")
        client.on_message = lambda _c, _u, m: received.append(bytes(m.payload))
        present: list[bool] = []
        client.on_connect = lambda _c, _u, flags, _r, _p: present.append(flags.session_present)
        session = Properties(PacketTypes.CONNECT)
        session.SessionExpiryInterval = 3600
        client.connect(broker.host, broker.port, clean_start=clean, properties=session)
        client.loop_start()
        wait_until(lambda: bool(present), 10, "CONNACK")
        return client, present[0]

    client, _ = connect(clean_start)
    subscribed = threading.Event()
    client.on_subscribe = lambda *_args: subscribed.set()
    client.subscribe(wire.subscriptions()[0], qos=1)
    assert subscribed.wait(10)
    client.disconnect()
    client.loop_stop()

    broker.restart()  # SIGTERM: mosquitto saves its persistence file
    _publish_raw(broker, [b"while-away-1", b"while-away-2"])
    client, session_present = connect(False)
    try:
        if clean_start:
            assert not session_present  # the session was never written to disk
            assert b"while-away-1" not in received
        else:
            assert session_present
            wait_until(lambda: b"while-away-2" in received, 10, "queued messages")
    finally:
        client.disconnect()
        client.loop_stop()


def test_agents_back_before_the_collector_lose_nothing_over_a_clean_broker_restart(
    make_broker: Callable[..., MosquittoBroker], tmp_path: Path
):
    broker = make_broker()
    config = agent_config(broker, tmp_path, replay_window_s=0)  # the broker alone must do it
    spool = Spool.open(config.state_dir, config.spool)
    publisher = Publisher(config, spool)
    with Collector(broker, reconnect_s=3.0) as collector:
        publisher.start()
        before = publish_all(spool, publisher, MESSAGES)
        wait_until(lambda: collector.received() >= set(before), 10, "live delivery")

        broker.restart()
        wait_until(lambda: publisher.connected, 10, "the agent to reconnect first")
        assert not collector.client.connected
        during = publish_all(spool, publisher, MESSAGES)  # acknowledged by the broker alone
        wait_until(lambda: collector.received() >= set(during), 20, "the queued messages")
        assert collector.sessions_lost == 0
    publisher.stop()
    spool.close()


@pytest.mark.parametrize("replay_window_s", [0.0, 30.0], ids=["no-replay", "replay"])
def test_a_broker_crash_loses_its_unsaved_messages_unless_agents_replay_them(
    make_broker: Callable[..., MosquittoBroker], tmp_path: Path, replay_window_s: float
):
    broker = make_broker(autosave_interval_s=3600)  # nothing is saved by time in this test
    config = agent_config(broker, tmp_path, replay_window_s)
    spool = Spool.open(config.state_dir, config.spool)
    publisher = Publisher(config, spool)
    collector = Collector(broker)
    with collector:
        pass  # the collector's session exists, then the collector goes away
    broker.restart()  # a clean stop saves that session
    publisher.start()
    produced = publish_all(spool, publisher, MESSAGES)  # queued for the absent collector

    broker.kill()  # a crash: everything since the last save is gone, PUBACKs given or not
    broker.start()
    with collector:
        wait_until(lambda: publisher.connected, 10, "the agent to reconnect")
        if replay_window_s:
            wait_until(lambda: collector.received() >= set(produced), 20, "the replayed messages")
        else:
            with pytest.raises(TimeoutError):
                wait_until(lambda: bool(collector.received()), 3, "anything")
    publisher.stop()
    spool.close()
    lost = set(produced) - collector.received()
    print(f"\n[outage] broker SIGKILL, replay window {replay_window_s:g} s: lost {len(lost)}")
    assert len(lost) == (0 if replay_window_s else MESSAGES)


def test_the_deployed_broker_saves_more_often_than_agents_forget_what_they_sent():
    text = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    settings = dict(
        line.split(None, 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert settings["persistence"] == "true"
    assert "autosave_on_changes" not in settings  # a full snapshot per message: too slow
    autosave_s = int(settings["autosave_interval"])
    assert autosave_s * 4 <= SpoolConfig().replay_window_s
    assert re.search(r"^max_queued_messages \d+", text, re.MULTILINE)


def _publish_raw(broker: MosquittoBroker, payloads: list[bytes]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, "pin-agent", protocol=mqtt.MQTTv5)
    client.username_pw_set(AGENT, "agent-pw")
    client.connect(broker.host, broker.port)
    client.loop_start()
    for payload in payloads:
        client.publish(wire.topic(AGENT, wire.Kind.METRICS), payload, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()

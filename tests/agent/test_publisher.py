"""The publisher against a real mosquitto with the production ACL and passwords."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from roomwatch.agent import wire
from roomwatch.agent.config import AgentConfig
from roomwatch.agent.host import HostProbe
from roomwatch.agent.publisher import Publisher
from roomwatch.agent.spool import Spool
from roomwatch.collector.demo.broker import MosquittoBroker
from roomwatch.collector.demo.shipped_broker import load_shipped
from tests.fixtures.broker import (
    COLLECTOR_PASSWORD,
    COLLECTOR_USER,
    Received,
    Subscriber,
    wait_until,
)

MakeConfig = Callable[..., AgentConfig]


@contextmanager
def running(config: AgentConfig) -> Iterator[tuple[Publisher, Spool]]:
    spool = Spool.open(config.state_dir, config.spool)
    publisher = Publisher(config, spool)
    publisher.start()
    try:
        yield publisher, spool
    finally:
        publisher.stop()
        spool.close()


def spool_metrics(spool: Spool, publisher: Publisher, agent: str) -> int:
    host = HostProbe(AgentConfig(agent_id=agent).host).collect()
    message = spool.append(
        wire.Kind.METRICS.value,
        lambda seq: wire.encode(
            wire.MetricsMessage(agent=agent, seq=seq, ts=wire.now(), interval_s=1, devices=[host])
        ),
    )
    publisher.notify()
    return message.seq


def of_kind(kind: type[wire.Envelope], agent: str) -> Callable[[list[Received]], list[Received]]:
    return lambda received: [
        r for r in received if isinstance(r.message, kind) and r.message.agent == agent
    ]


def metrics_of(received: list[Received], agent: str = "room-101") -> list[wire.MetricsMessage]:
    return [r.message for r in of_kind(wire.MetricsMessage, agent)(received)]  # type: ignore[misc]


def test_a_spooled_message_reaches_the_collector_and_leaves_the_spool(
    make_agent_config: MakeConfig, subscriber: Subscriber
) -> None:
    config = make_agent_config("room-101")
    with running(config) as (publisher, spool):
        seq = spool_metrics(spool, publisher, "room-101")

        received = subscriber.wait_for(lambda r: len(metrics_of(r)) == 1)
        wait_until(lambda: spool.stats().depth == 0)

    [message] = metrics_of(received)
    assert message.seq == seq
    assert message.devices[0].device == "host" and "cpu_pct" in message.devices[0].metrics
    assert publisher.counters().published >= 2  # the online status and the metrics


def test_online_status_is_retained(make_agent_config: MakeConfig, broker: MosquittoBroker) -> None:
    with running(make_agent_config("room-101")) as (publisher, _spool):
        wait_until(lambda: publisher.connected and publisher.wait_idle(0))

        late = Subscriber(broker, COLLECTOR_USER, COLLECTOR_PASSWORD)  # after the fact
        try:
            [status] = late.wait_for(lambda r: bool(of_kind(wire.StatusMessage, "room-101")(r)))
        finally:
            late.close()

    assert status.retained
    assert isinstance(status.message, wire.StatusMessage)
    assert status.message.state == "online"


def test_a_clean_stop_leaves_a_retained_offline_status(
    make_agent_config: MakeConfig, broker: MosquittoBroker
) -> None:
    with running(make_agent_config("room-101")) as (publisher, _spool):
        wait_until(lambda: publisher.connected)

    late = Subscriber(broker, COLLECTOR_USER, COLLECTOR_PASSWORD)
    try:
        [status] = late.wait_for(lambda r: bool(of_kind(wire.StatusMessage, "room-101")(r)))
    finally:
        late.close()
    assert isinstance(status.message, wire.StatusMessage)
    assert (status.message.state, status.message.reason) == ("offline", "stopped")


def test_a_wrong_password_is_refused_and_reported_once_without_the_password(
    make_agent_config: MakeConfig,
    broker: MosquittoBroker,
    subscriber: Subscriber,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "wrong-password-7f3a"
    config = make_agent_config("room-101", mqtt={"password": secret})

    with caplog.at_level(logging.DEBUG), running(config) as (publisher, spool):
        spool_metrics(spool, publisher, "room-101")
        wait_until(lambda: publisher.refusal is not None)
        # Let it retry a few times: each retry is refused again, and logged only once.
        wait_until(lambda: broker.log_tail(200).count("not authorised") >= 3)
        assert spool.stats().depth == 1  # kept for when the password is fixed

    assert publisher.refusal is not None
    assert publisher.refusal.getName() == "Not authorized"
    refusals = [r for r in caplog.records if "refused the connection" in r.getMessage()]
    assert len(refusals) == 1 and "0x87" in refusals[0].getMessage()
    assert all(secret not in r.getMessage() for r in caplog.records)
    assert subscriber.messages(agent="room-101") == []


def test_an_agent_cannot_publish_on_another_agents_topic(
    make_agent_config: MakeConfig, broker: MosquittoBroker, subscriber: Subscriber
) -> None:
    make_agent_config("room-101", password="pw-101")
    make_agent_config("room-102", password="pw-102")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="room-101", protocol=mqtt.MQTTv5)
    client.username_pw_set("room-101", "pw-101")
    acks: dict[int, str] = {}
    client.on_publish = lambda _c, _u, mid, reason, _p: acks.__setitem__(mid, reason.getName())
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        forged = client.publish(
            wire.topic("room-102", wire.Kind.METRICS), metrics_payload("room-102", 1), qos=1
        )
        honest = client.publish(
            wire.topic("room-101", wire.Kind.METRICS), metrics_payload("room-101", 2), qos=1
        )
        subscriber.wait_for(lambda r: len(metrics_of(r, "room-101")) == 1)
        wait_until(lambda: {forged.mid, honest.mid} <= acks.keys())
    finally:
        client.disconnect()
        client.loop_stop()

    assert acks[forged.mid] == "Not authorized" and honest.mid in acks
    assert subscriber.messages(agent="room-102") == []


def metrics_payload(agent: str, seq: int) -> bytes:
    return wire.encode(
        wire.MetricsMessage(agent=agent, seq=seq, ts=wire.now(), interval_s=1, devices=[])
    )


def test_messages_spooled_while_the_broker_is_down_arrive_oldest_first_exactly_once(
    make_agent_config: MakeConfig, broker: MosquittoBroker, subscriber: Subscriber
) -> None:
    config = make_agent_config("room-101")
    assert config.mqtt.password is not None
    with running(config) as (publisher, spool):
        before = spool_metrics(spool, publisher, "room-101")
        subscriber.wait_for(lambda r: len(metrics_of(r)) == 1)
        wait_until(lambda: spool.stats().depth == 0)

        broker.stop()
        wait_until(lambda: not publisher.connected and not subscriber.subscribed)
        during = [spool_metrics(spool, publisher, "room-101") for _ in range(5)]
        assert spool.stats().depth == 5
        # The agent is let back in only once the collector is. (Not needed for the broker:
        # it keeps the subscriber's session over its restart, see docs/operations.md.)
        broker.remove_user("room-101")
        broker.start()
        subscriber.wait_subscribed()
        broker.add_user("room-101", config.mqtt.password.get_secret_value())

        subscriber.wait_for(lambda r: len(metrics_of(r)) >= 6)
        wait_until(lambda: spool.stats().depth == 0 and publisher.wait_idle(0))

    # Messages acknowledged before a (re)connect are re-sent after it (the replay window
    # covers a broker crash); the collector drops those copies by seq. What it stores is each
    # message once, the backlog oldest first.
    arrived = [m.seq for m in metrics_of(subscriber.received)]
    assert list(dict.fromkeys(arrived)) == [before, *during]
    assert arrived.count(before) >= 2  # the replayed copy of the acknowledged one
    assert publisher.counters().reconnects >= 1


def test_the_deployed_acl_is_the_one_the_tests_run() -> None:
    deployed = (Path(__file__).parents[2] / "deploy" / "mosquitto" / "acl").read_text()
    lines = [line.strip() for line in deployed.splitlines()]

    assert wire.AGENT_ACL_PATTERN in lines
    assert wire.COLLECTOR_ACL_READ in lines
    assert [line for line in lines if line and not line.startswith("#")] == [
        wire.AGENT_ACL_PATTERN,
        "user collector",
        wire.COLLECTOR_ACL_READ,
        f"topic deny {wire.TOPIC_PREFIX}/collector/#",  # the pattern above would let it write
    ]


def test_every_shipped_listener_binds_client_ids_to_account_names() -> None:
    shipped = load_shipped()  # refuses listeners that differ in their settings

    assert "use_username_as_clientid true" in shipped.listener_settings
    assert "allow_anonymous false" in shipped.settings

"""``roomwatch broker add-collector`` writes accounts a real mosquitto accepts: every
partition account of a group signs in with the one password and reads the agents' topics;
running it again rotates the password without doubling the ACL blocks."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from roomwatch.agent import wire
from roomwatch.collector.cli import main
from roomwatch.collector.demo.broker import MosquittoBroker

pytestmark = pytest.mark.e2e
PARTITIONS = 3


def _add_collector(broker: MosquittoBroker, *extra: str) -> int:
    acl = broker.workdir / "acl"  # the files the broker runs with
    args = ["broker", "add-collector", "--passwd-file", str(broker.passwd_file)]
    args += ["--acl-file", str(acl), "--partitions", str(PARTITIONS), *extra]
    return main([*args, "collector"])


def _session(broker: MosquittoBroker, account: str, password: str) -> tuple[mqtt.Client, int]:
    """A connected client of ``account`` (or the broker's refusal code)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=account, protocol=mqtt.MQTTv5)
    client.username_pw_set(account, password)
    answered = threading.Event()
    codes: list[int] = []

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        codes.append(int(getattr(reason, "value", 0)))
        answered.set()

    client.on_connect = on_connect
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert answered.wait(10), "no CONNACK"
    return client, codes[0]


def test_partition_accounts_made_by_the_cli_sign_in_and_read_the_agents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broker = MosquittoBroker(tmp_path / "mosquitto")
    broker.add_user("room-101", "pw-room-101")
    monkeypatch.setattr("sys.stdin", io.StringIO("first-group-password\n"))
    assert _add_collector(broker, "--password-stdin") == 0
    first = capsys.readouterr()
    assert first.out == "" and "first-group-password" not in first.err
    assert _add_collector(broker) == 0  # again: a new generated password for every account
    second = capsys.readouterr()
    password = second.out.strip()
    assert len(password) >= 20 and password not in second.err
    acl = (broker.workdir / "acl").read_text()
    assert acl.count("user collector-p001\n") == 1 and "user collector-p003" not in acl
    broker.start()
    clients: list[mqtt.Client] = []
    try:
        old, refused = _session(broker, "collector-p000", "first-group-password")
        clients.append(old)
        assert refused != 0  # the rotated password is gone
        received: dict[str, threading.Event] = {}
        for account in ["collector", *(f"collector-p{p:03d}" for p in range(PARTITIONS))]:
            client, code = _session(broker, account, password)
            clients.append(client)
            assert code == 0, f"{account} refused ({code})"
            got = received[account] = threading.Event()
            client.on_message = lambda _c, _u, _m, got=got: got.set()
            client.subscribe(f"{wire.TOPIC_PREFIX}/#", qos=1)
        agent, code = _session(broker, "room-101", "pw-room-101")
        clients.append(agent)
        assert code == 0
        topic = wire.topic("room-101", wire.Kind.EVENTS)
        for _attempt in range(20):  # until every subscription has been set up
            agent.publish(topic, b"{}", qos=1).wait_for_publish(5)
            if all(event.wait(0.25) for event in received.values()):
                break
        assert {a for a, event in received.items() if event.is_set()} == set(received)
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()
        broker.close()

"""MQTT security as deployed: TLS with a CA made here, per-agent accounts from
``roomwatch broker add-agent``, the ACL (agents write only their own topics, collectors only
read), no anonymous access, and no password in any log even at DEBUG."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import shutil
import signal
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from roomwatch.agent import wire
from roomwatch.collector.demo.broker import BrokerTls, MosquittoBroker
from roomwatch.collector.demo.procs import free_port, tcp_open
from roomwatch.collector.demo.simdevice import free_udp_port
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from roomwatch.collector.mqttauth import set_password, verify_password
from tests.e2e.outage_stack import REPO, AgentProcess, CollectorProcess, Process, wait_until
from tests.fixtures.broker import COLLECTOR_PASSWORD, COLLECTOR_USER, Subscriber

pytestmark = pytest.mark.e2e


class Pki:
    """A throw-away CA and certificates it signs, as PEM files in ``folder``."""

    def __init__(self, folder: Path, name: str = "roomwatch test CA") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._name = subject
        self._cert = (
            _builder(subject, subject, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_file = self._write("ca.crt", self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name: str) -> tuple[Path, Path]:
        """A server certificate for 127.0.0.1 / localhost: (cert file, key file)."""
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        san = x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        )
        cert = (
            _builder(subject, self._name, key.public_key())
            .add_extension(san, critical=False)
            .sign(self._key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        cert_file = self._write(f"{common_name}.crt", cert.public_bytes(serialization.Encoding.PEM))
        return cert_file, self._write(f"{common_name}.key", key_pem)

    def _write(self, name: str, data: bytes) -> Path:
        path = self.folder / name
        path.write_bytes(data)
        path.chmod(0o600)
        return path


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki")


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[MosquittoBroker]:
    cert, key = pki.issue("broker")
    broker = MosquittoBroker(tmp_path / "broker", tls=BrokerTls(cert, key, pki.ca_file))
    broker.add_user(COLLECTOR_USER, COLLECTOR_PASSWORD, collector=True)
    broker.start()
    yield broker
    broker.close()


def try_connect(
    port: int,
    username: str | None,
    password: str | None = None,
    ca_file: Path | None = None,
) -> ReasonCode | Exception:
    """The CONNACK reason code, or the exception the connection attempt raised."""
    result: list[ReasonCode] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if username is not None:
        client.username_pw_set(username, password)
    if ca_file is not None:
        client.tls_set(ca_certs=str(ca_file))
    client.on_connect = lambda _c, _u, _f, reason, _p: result.append(reason)
    client.on_disconnect = lambda _c, _u, _f, reason, _p: result.append(reason)
    try:
        client.connect("127.0.0.1", port)
        client.loop_start()
        wait_until(lambda: bool(result), 5, "an answer from the broker")
    except (OSError, ssl.SSLError, TimeoutError) as exc:
        return exc
    finally:
        client.disconnect()
        client.loop_stop()
    return result[0]


def test_an_agent_connects_over_tls_to_a_broker_with_a_throwaway_ca(
    tls_broker: MosquittoBroker, pki: Pki, tmp_path: Path
):
    assert tls_broker.tls_port is not None
    subscriber = Subscriber(tls_broker, COLLECTOR_USER, COLLECTOR_PASSWORD)
    agent = AgentProcess(
        "room-401",
        tmp_path,
        tls_broker,
        interval_s=0.5,
        mqtt={"port": tls_broker.tls_port, "tls": {"ca_file": str(pki.ca_file)}},
    )
    agent.start()
    try:
        subscriber.wait_for(
            lambda _r: len(subscriber.messages(wire.Kind.METRICS, "room-401")) >= 2, 30
        )
    finally:
        agent.stop()
        subscriber.close()
    assert "refused" not in agent.log_text() and "cannot reach" not in agent.log_text()


def test_tls_refuses_an_unknown_ca_and_plain_mqtt_and_no_listener_takes_anonymous(
    tls_broker: MosquittoBroker, tmp_path: Path
):
    assert tls_broker.tls_port is not None
    tls_broker.add_user("room-402", "pw-402")
    stranger = Pki(tmp_path / "other", name="not our CA")

    wrong_ca = try_connect(tls_broker.tls_port, "room-402", "pw-402", stranger.ca_file)
    assert isinstance(wrong_ca, ssl.SSLCertVerificationError)
    plain_to_tls = try_connect(tls_broker.tls_port, "room-402", "pw-402")
    assert not isinstance(plain_to_tls, ReasonCode) or plain_to_tls.is_failure
    for port, ca in ((tls_broker.port, None), (tls_broker.tls_port, stranger.ca_file)):
        anonymous = try_connect(port, None, ca_file=ca)
        assert not isinstance(anonymous, ReasonCode) or anonymous.is_failure


def test_tls_with_the_right_ca_still_needs_the_agents_password(
    tls_broker: MosquittoBroker, pki: Pki
):
    assert tls_broker.tls_port is not None
    tls_broker.add_user("room-403", "pw-403")
    good = try_connect(tls_broker.tls_port, "room-403", "pw-403", pki.ca_file)
    bad = try_connect(tls_broker.tls_port, "room-403", "wrong", pki.ca_file)
    anonymous = try_connect(tls_broker.tls_port, None, ca_file=pki.ca_file)
    assert isinstance(good, ReasonCode) and not good.is_failure
    assert isinstance(bad, ReasonCode) and bad.is_failure
    assert isinstance(anonymous, ReasonCode) and anonymous.is_failure


def publish_once(broker: MosquittoBroker, user: str, password: str, topic: str) -> ReasonCode:
    """Publish one QoS 1 message; the PUBACK's reason code."""
    acks: list[ReasonCode] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.on_publish = lambda _c, _u, _mid, reason, _p: acks.append(reason)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(topic, b"{}", qos=1)
        wait_until(lambda: bool(acks), 5, "PUBACK")
    finally:
        client.disconnect()
        client.loop_stop()
    return acks[0]


def test_the_acl_lets_agents_write_only_their_own_topics_and_collectors_only_read(
    broker: MosquittoBroker, subscriber: Subscriber
):
    broker.add_user("room-404", "pw-404")
    broker.add_user("room-405", "pw-405")
    eavesdropped: list[str] = []
    spy = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    spy.username_pw_set("room-405", "pw-405")
    spy.on_message = lambda _c, _u, message: eavesdropped.append(message.topic)
    spy.connect(broker.host, broker.port)
    spy.loop_start()
    spy.subscribe("roomwatch/v1/#", qos=1)
    try:
        own_topic = wire.topic("room-404", wire.Kind.METRICS)
        own = publish_once(broker, "room-404", "pw-404", own_topic)
        other_topic = wire.topic("room-405", wire.Kind.METRICS)
        other = publish_once(broker, "room-404", "pw-404", other_topic)
        collector = publish_once(broker, COLLECTOR_USER, COLLECTOR_PASSWORD, own_topic)
        wait_until(lambda: [t for t, _ in subscriber.undecodable] == [own_topic], 10, "delivery")
    finally:
        spy.disconnect()
        spy.loop_stop()
    assert not own.is_failure
    assert other.is_failure and collector.is_failure  # "Not authorized"
    assert eavesdropped == []  # an agent reads nothing, not even its own topics
    assert [topic for topic, _ in subscriber.undecodable] == [own_topic]  # only what was allowed


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roomwatch.collector.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_add_agent_prints_a_password_once_that_the_broker_accepts_and_rotation_replaces_it(
    broker: MosquittoBroker,
):
    first = run_cli("broker", "add-agent", "--passwd-file", str(broker.passwd_file), "room-406")
    assert first.returncode == 0, first.stderr
    password = first.stdout.strip()
    assert len(password) >= 20 and password not in first.stderr
    broker.reload()
    assert not _connack(broker, "room-406", password).is_failure
    assert _connack(broker, "room-406", password + "x").is_failure
    assert _connack(broker, COLLECTOR_USER, COLLECTOR_PASSWORD).value == 0  # others kept

    second = run_cli("broker", "add-agent", "--passwd-file", str(broker.passwd_file), "room-406")
    rotated = second.stdout.strip()
    broker.reload()
    assert rotated != password and "new password for room-406" in second.stderr
    assert _connack(broker, "room-406", password).is_failure
    assert not _connack(broker, "room-406", rotated).is_failure
    assert (broker.passwd_file.stat().st_mode & 0o777) == 0o600

    bad = run_cli("broker", "add-agent", "--passwd-file", str(broker.passwd_file), "no/slash")
    assert bad.returncode == 2 and "not a valid account name" in bad.stderr


def test_our_hashes_and_mosquitto_passwd_hashes_are_the_same_format(tmp_path: Path):
    passwd = tmp_path / "passwd"
    binary = shutil.which("mosquitto_passwd")
    assert binary, "mosquitto_passwd missing: apt-get install mosquitto"
    subprocess.run([binary, "-c", "-b", str(passwd), "room-407", "pw-407"], check=True)
    [line] = passwd.read_text().splitlines()
    assert verify_password("pw-407", line.split(":", 1)[1])
    set_password(passwd, "room-408", "pw-408")  # added beside the mosquitto_passwd entry
    assert [row.split(":")[0] for row in passwd.read_text().splitlines()] == [
        "room-407",
        "room-408",
    ]


def test_the_deployed_mosquitto_conf_runs_with_tls_and_the_deployed_acl(tmp_path: Path, pki: Pki):
    """deploy/mosquitto as shipped, only its paths and ports pointed at this test's files."""
    cert, key = pki.issue("broker")
    passwd = tmp_path / "roomwatch.passwd"
    set_password(passwd, "room-409", "pw-409")
    set_password(passwd, "collector", "pw-collector")
    acl = tmp_path / "roomwatch.acl"
    shutil.copy(REPO / "deploy" / "mosquitto" / "acl", acl)
    plain, tls = free_port(), free_port()
    text = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    for old, new in {
        "/etc/mosquitto/roomwatch.passwd": str(passwd),
        "/etc/mosquitto/roomwatch.acl": str(acl),
        "/var/lib/mosquitto/": f"{tmp_path}/",
        "/etc/mosquitto/certs/broker.crt": str(cert),
        "/etc/mosquitto/certs/broker.key": str(key),
        "/etc/mosquitto/certs/ca.crt": str(pki.ca_file),
        "log_dest syslog": f"log_dest file {tmp_path / 'mosquitto.log'}",
        "listener 1883 127.0.0.1": f"listener {plain} 127.0.0.1",
        "listener 8883": f"listener {tls} 127.0.0.1",
    }.items():
        assert old in text, old
        text = text.replace(old, new)
    config = tmp_path / "mosquitto.conf"
    config.write_text(text + "user root\n")
    broker = Process(
        [shutil.which("mosquitto") or "mosquitto", "-c", str(config)], tmp_path / "out"
    )
    broker.start()
    try:
        wait_until(lambda: _listening(tls), 10, "the deployed config to start")
        ok = try_connect(tls, "room-409", "pw-409", pki.ca_file)
        assert isinstance(ok, ReasonCode) and not ok.is_failure
        anonymous = try_connect(plain, None)
        assert isinstance(anonymous, ReasonCode) and anonymous.is_failure
    finally:
        broker.stop()


def test_no_password_token_or_community_reaches_any_log_at_debug(
    broker: MosquittoBroker, tmp_path: Path
):
    secrets = {
        "agent": "agent-secret-Zq81",
        "wrong": "wrong-secret-Kt42",
        "collector": "collector-secret-Jm27",
        "token": "tsdb-token-secret-Pw93",
        "community": "community-secret-Hx65",
    }
    with VictoriaMetrics(tmp_path / "tsdb") as tsdb:
        collector = CollectorProcess(
            tmp_path / "collector",
            broker,
            tsdb,
            log_level="DEBUG",
            tsdb={"token": secrets["token"]},
        )
        broker.add_user(COLLECTOR_USER, secrets["collector"], collector=True)
        collector.config["mqtt"]["password"] = secrets["collector"]
        collector.write_inventory(["room-410", "room-411"])
        health_port = free_port()
        agent = AgentProcess(
            "room-410",
            tmp_path,
            broker,
            log_level="DEBUG",
            interval_s=0.5,
            health_http={"enabled": True, "port": health_port},
            snmp={"credentials": {"default": {"community": secrets["community"]}}},
            devices=[
                {"id": "cam-1", "kind": "camera", "address": "127.0.0.1", "port": free_udp_port()}
            ],
        )
        broker.add_user("room-410", secrets["agent"])
        agent.config["mqtt"]["password"] = secrets["agent"]
        agent.write_config()
        refused = AgentProcess("room-411", tmp_path, broker, log_level="DEBUG")
        refused.config["mqtt"]["password"] = secrets["wrong"]
        refused.write_config()
        collector.start()
        agent.start()
        refused.start()
        try:
            wait_until(lambda: "refused the connection" in refused.log_text(), 30, "a refusal")
            wait_until(lambda: collector.ingested("room-410") >= 3, 60, "stored messages")
            with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/metrics") as response:
                scraped = response.read().decode()
            assert re.search(r"^roomwatch_agent_cycles_total \d", scraped, re.MULTILINE)
            broken = dict(agent.config, interval_s="fast")
            agent.write_config(broken)
            agent.signal(signal.SIGHUP)
            wait_until(lambda: "reload rejected" in agent.log_text(), 20, "the rejected reload")
        finally:
            for process in (agent, refused, collector):
                process.stop()
    logs = {
        "agent": agent.log_text(),
        "refused agent": refused.log_text(),
        "collector": collector.log_text(),
        "broker": broker.log_tail(100_000),
        "/metrics": scraped,
    }
    assert "DEBUG" in logs["agent"] and "DEBUG" in logs["collector"]
    leaks = [(log, name) for log, text in logs.items() for name, s in secrets.items() if s in text]
    assert leaks == []


def _connack(broker: MosquittoBroker, user: str, password: str) -> ReasonCode:
    result = try_connect(broker.port, user, password)
    assert isinstance(result, ReasonCode), result
    return result


def _listening(port: int) -> bool:
    return tcp_open(port)

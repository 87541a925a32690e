"""What real agents send, decoded through the real poller: one value of an odd type is read
as absent and counted (the device stays reachable), Chinese text in GBK decodes, sentinels
give no value, and a table longer than a poll can read is kept as far as read and reported
as cut."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from pathlib import Path

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api, rfc1902, rfc1905

from roomwatch.agent import wire
from roomwatch.agent.config import DeviceConfig, SnmpConfig, SnmpCredential
from roomwatch.agent.snmp.poller import SnmpPoller
from roomwatch.agent.snmp.profile import ProfileRegistry
from roomwatch.agent.snmp.readings import finite_only
from roomwatch.agent.snmp.recording import RecordingServer
from roomwatch.agent.wire import TableRow
from roomwatch.collector.demo.simfaulty import FaultyDevice, SlowProxy
from tests.fixtures.snmp import make_poller

pytestmark = pytest.mark.anyio
V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
BASE = "1.3.6.1.4.1.2021.100"  # any subtree: the device below serves what it is told to
SYS_NAME = "1.3.6.1.2.1.1.5.0"
ROOM_NAME = "录播教室 3-201"
PROFILE = f"""
name: decoding
kind: sensor
extends: [generic-system]
metrics:
  - {{name: temperature_c, oid: {BASE}.1.0, no_value: [-1]}}
  - {{name: load_pct, oid: {BASE}.2.0}}
  - {{name: nsap_pct, oid: {BASE}.3.0}}
  - {{name: uinteger_pct, oid: {BASE}.4.0}}
  - {{name: load_average, oid: {BASE}.5.0}}
  - {{name: short_ip_pct, oid: {BASE}.6.0}}
  - {{name: humidity_pct, oid: {BASE}.7.0, no_value: [2147483647]}}
"""
# OID -> a pyasn1 value, or the raw BER of a value (tag, length, contents) as sent.
SERVED: dict[str, object] = {
    "1.3.6.1.2.1.1.1.0": rfc1902.OctetString("Linux recorder"),
    "1.3.6.1.2.1.1.3.0": rfc1902.TimeTicks(4200),
    SYS_NAME: rfc1902.OctetString(ROOM_NAME.encode("gbk")),
    f"{BASE}.1.0": rfc1902.Integer32(-1),  # "no sensor"
    f"{BASE}.2.0": rfc1902.Integer32(42),
    f"{BASE}.3.0": b"\x45\x06\x47\x00\x05\x80\x00\x01",  # SMIv1 NsapAddress
    f"{BASE}.4.0": b"\x47\x01\x07",  # SMIv1 UInteger32 7
    f"{BASE}.5.0": b"\x44\x07\x9f\x78\x04" + struct.pack(">f", 0.25),  # net-snmp Opaque float
    f"{BASE}.6.0": b"\x40\x05\x0a\x00\x00\x01\x02",  # an IpAddress of 5 octets
    f"{BASE}.7.0": rfc1902.Integer32(2147483647),  # "not available" in many vendor MIBs
}


@pytest.fixture
def anyio_backend():
    return "asyncio"


def answer_get(served: Mapping[str, object], request: bytes) -> bytes:
    """A GetResponse to a GetRequest; raw values are put in as they are: each first as an
    OCTET STRING placeholder of the same encoded size, replaced in the encoded reply."""
    message, _rest = decoder.decode(request, asn1Spec=V2C.Message())
    pdu = V2C.apiMessage.get_pdu(message)
    reply = V2C.apiMessage.get_response(message)
    raw: dict[bytes, bytes] = {}
    varbinds = []
    for oid, _ in V2C.apiPDU.get_varbinds(pdu):
        value = served.get(str(oid), rfc1905.noSuchObject)
        if isinstance(value, bytes):
            placeholder = bytes([0xEE - len(raw)]) * (len(value) - 2)
            raw[b"\x04" + bytes([len(placeholder)]) + placeholder] = value
            value = rfc1902.OctetString(placeholder)
        varbinds.append((oid, value))
    V2C.apiPDU.set_varbinds(V2C.apiMessage.get_pdu(reply), varbinds)
    encoded = bytes(encoder.encode(reply))
    for placeholder, value in raw.items():
        encoded = encoded.replace(placeholder, value)
    return encoded


@pytest.fixture
def odd_device():
    device = FaultyDevice(lambda request: answer_get(SERVED, request)).start()
    yield device
    device.stop()


async def test_odd_values_are_dropped_and_counted_and_the_rest_is_reported(tmp_path, odd_device):
    (tmp_path / "decoding.yaml").write_text(PROFILE, encoding="utf-8")
    registry = ProfileRegistry.load([tmp_path])
    config = odd_device.device_config("rec1", kind="sensor", profile="decoding")
    poller = make_poller([], registry, timeout_s=0.5, others=[config])
    try:
        [sample] = await poller.poll_all()
        identity = poller.identity_of("rec1")
    finally:
        poller.close()
    assert sample.reachable and sample.error is None
    assert sample.metrics == {
        "uptime_s": 42.0,
        "load_pct": 42,
        "uinteger_pct": 7,
        "load_average": 0.25,
    }  # no temperature (-1), humidity (2147483647), NsapAddress or 5-octet IpAddress
    assert poller.odd_values == 2  # the NsapAddress and the 5-octet IpAddress
    assert identity is not None and identity.sys_name == ROOM_NAME  # GBK on the wire


NAN_PROFILE = f"""
name: odd-numbers
kind: sensor
extends: [generic-system]
metrics:
  - {{name: load_pct, oid: {BASE}.1.1, aggregate: avg}}
  - {{name: temperature_c, oid: {BASE}.2.1, aggregate: max}}
tables:
  - name: sensors
    index_label: sensor
    metrics: [{{name: temperature_c, oid: {BASE}.2.1}}]
"""


async def test_nan_and_inf_text_in_a_column_drop_only_that_row_and_the_message_decodes(tmp_path):
    """One sensor saying "nan" or "inf" must not turn the room's aggregate into NaN, which
    the wire writes as null and the collector refuses with every other device's sample."""
    (tmp_path / "odd-numbers.yaml").write_text(NAN_PROFILE, encoding="utf-8")
    registry = ProfileRegistry.load([tmp_path])
    recording = tmp_path / "odd_numbers.snmprec"
    recording.write_text(
        "1.3.6.1.2.1.1.1.0|4|sensor box\n1.3.6.1.2.1.1.3.0|67|100\n"
        f"{BASE}.1.1.1|2|10\n{BASE}.1.1.2|4|nan\n{BASE}.1.1.3|2|30\n"
        f"{BASE}.2.1.1|4|inf\n{BASE}.2.1.2|4|-Infinity\n{BASE}.2.1.3|2|25\n",
        encoding="utf-8",
    )
    server = RecordingServer([recording]).start()
    try:
        config = SnmpConfig(
            credentials={"rec": SnmpCredential(community="odd_numbers")},  # type: ignore[arg-type]
            timeout_s=2.0,
        )
        device = DeviceConfig(
            id="sensors", kind="sensor", address="127.0.0.1", port=server.port,
            credentials="rec", profile="odd-numbers",
        )  # fmt: skip
        poller = SnmpPoller(config, [device], registry)
        try:
            [sample] = await poller.poll_all()
        finally:
            poller.close()
    finally:
        server.stop()
    assert sample.reachable, sample.error
    assert sample.metrics["load_pct"] == 20.0
    assert sample.metrics["temperature_c"] == 25.0
    assert [(r.labels, r.metrics) for r in sample.tables["sensors"]] == [
        ({"sensor": "3"}, {"temperature_c": 25.0})
    ]
    message = wire.MetricsMessage(
        agent="room-1", seq=1, ts=wire.now(), interval_s=30, devices=[sample]
    )
    decoded = wire.decode(wire.topic("room-1", wire.Kind.METRICS), wire.encode(message))
    assert isinstance(decoded, wire.MetricsMessage)
    assert decoded.devices[0].metrics["load_pct"] == 20.0


def test_the_last_guard_drops_and_counts_every_non_finite_number():
    rows = [
        TableRow(labels={"i": "1"}, metrics={"a": float("nan")}),
        TableRow(labels={"i": "2"}, metrics={"a": 1.0, "b": float("-inf")}),
    ]
    metrics, tables, dropped = finite_only({"x": float("inf"), "y": 2.0}, {"t": rows})
    assert metrics == {"y": 2.0}
    assert tables == {"t": [TableRow(labels={"i": "2"}, metrics={"a": 1.0})]}
    assert dropped == 3


def big_table_recording(folder: Path, rows: int) -> Path:
    """An interface table of ``rows`` rows, as a large chassis or a misconfigured agent
    serves it: ifDescr (GBK text, as Chinese switches name ports) and ifOperStatus."""
    path = folder / "many-ports.snmprec"
    lines = [
        "1.3.6.1.2.1.1.1.0|4|big chassis",
        "1.3.6.1.2.1.1.3.0|67|100",
    ]
    lines += [
        f"1.3.6.1.2.1.2.2.1.2.{i}|4x|{f'端口{i}'.encode('gbk').hex()}" for i in range(1, rows + 1)
    ]
    lines += [f"1.3.6.1.2.1.2.2.1.8.{i}|2|1" for i in range(1, rows + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def recording_poller(
    registry: ProfileRegistry, port: int, community: str, **snmp: object
) -> SnmpPoller:
    config = SnmpConfig(
        credentials={"rec": SnmpCredential(community=community)},  # type: ignore[arg-type]
        **snmp,  # type: ignore[arg-type]
    )
    device = DeviceConfig(
        id="chassis", kind="switch", address="127.0.0.1", port=port, credentials="rec",
        profile="fallback",
    )  # fmt: skip
    return SnmpPoller(config, [device], registry)


@pytest.fixture
def big_table(tmp_path):
    path = big_table_recording(tmp_path, 3000)
    server = RecordingServer([path]).start()
    yield server, RecordingServer.community(path)
    server.stop()


async def test_a_3000_row_table_over_the_row_limit_keeps_its_rows_and_says_it_was_cut(
    profile_registry, big_table
):
    server, community = big_table
    poller = recording_poller(
        profile_registry, server.port, community, timeout_s=2.0, retries=0,
        max_rows_per_table=1000, max_repetitions=50,
    )  # fmt: skip
    try:
        [sample] = await poller.poll_all()
    finally:
        poller.close()
    assert sample.reachable
    assert sample.metrics["table_truncated"] == 1
    assert sample.error is not None and "cut off at 1000 rows" in sample.error
    rows = sample.tables["interfaces"]
    assert len(rows) == 1000
    assert rows[0].labels["ifname"] == "端口1" and rows[0].metrics["oper_up"] == 1


async def test_a_table_longer_than_the_poll_deadline_is_cut_not_the_device_lost(
    profile_registry, big_table
):
    server, community = big_table
    slow = SlowProxy(("127.0.0.1", server.port), delay_s=0.1).start()
    try:
        poller = recording_poller(
            profile_registry, slow.port, community, timeout_s=0.4, retries=0,
            max_repetitions=20,
        )  # fmt: skip
        try:
            [sample] = await poller.poll_all()
        finally:
            poller.close()
    finally:
        slow.stop()
    # 3 x 0.4 s for the poll, 0.1 s per reply, 20 rows per reply: far from 3000 rows.
    assert sample.reachable, sample.error
    assert sample.error is not None and "the poll's time was up" in sample.error
    assert sample.metrics["table_truncated"] == 1
    assert 0 < len(sample.tables["interfaces"]) < 3000

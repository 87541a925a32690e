"""The v2c BER codec on its own, checked against pysnmp + pyasn1 as the reference: requests
encode to the same octets, replies decode to what ``to_python`` made of pysnmp's values, and
anything that is not a well-formed Response is refused with ``MalformedMessage`` only."""

from __future__ import annotations

import contextlib
import random

import pytest
from pyasn1.codec.ber import encoder
from pysnmp.proto import api, rfc1902, rfc1905

from roomwatch.agent.snmp import ber
from roomwatch.agent.snmp.pysnmp_path import to_python
from roomwatch.agent.snmp.values import END_OF_MIB, Counter

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
LONG_OID = "1.3.6.1.4.1.2636." + ".".join(str(n) for n in range(100, 160))  # > 127 octets
ODD_OIDS = [
    "1.3.6.1.2.1.1.3.0",
    "1.3.6.1.4.1.2636.3.1.13.1.8.9.1.0.0",  # 2636: two octets
    "1.3.6.1.4.1.55555.127.128.16383.16384.2097151.2097152.4294967295",  # septet edges
    "2.999.3",  # first octet above 80
    "0.0",
    LONG_OID,
]


def pysnmp_request(pdu_type: str, request_id: int, oids: list[str], community: str,
                   max_repetitions: int = 0) -> bytes:  # fmt: skip
    pdu = V2C.GetBulkRequestPDU() if pdu_type == "bulk" else V2C.GetRequestPDU()
    if pdu_type == "bulk":
        V2C.apiBulkPDU.set_defaults(pdu)
        V2C.apiBulkPDU.set_max_repetitions(pdu, max_repetitions)
    else:
        V2C.apiPDU.set_defaults(pdu)
    V2C.apiPDU.set_request_id(pdu, request_id)
    V2C.apiPDU.set_varbinds(pdu, [(oid, V2C.null) for oid in oids])
    message = V2C.Message()
    V2C.apiMessage.set_defaults(message)
    V2C.apiMessage.set_community(message, community)
    V2C.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


def pysnmp_response(varbinds: list[tuple[str, object]], request_id: int = 7,
                    error_status: int = 0, community: str = "public") -> bytes:  # fmt: skip
    pdu = V2C.ResponsePDU()
    V2C.apiPDU.set_defaults(pdu)
    V2C.apiPDU.set_request_id(pdu, request_id)
    V2C.apiPDU.set_error_status(pdu, error_status)
    V2C.apiPDU.set_varbinds(pdu, varbinds)
    message = V2C.Message()
    V2C.apiMessage.set_defaults(message)
    V2C.apiMessage.set_community(message, community)
    V2C.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


def decode(data: bytes) -> tuple[ber.ResponseHeader, list[tuple[str, object]]]:
    header = ber.parse_response(data)
    return header, ber.decode_varbinds(data, header.varbinds_start, header.varbinds_end)


@pytest.mark.parametrize("community", ["public", "c" * 200])  # 200: a long-form length
@pytest.mark.parametrize("request_id", [1, 127, 128, 65535, 2**31 - 1])
def test_requests_encode_to_the_octets_pysnmp_sends(community: str, request_id: int) -> None:
    header = ber.message_header(community.encode())
    many = [f"1.3.6.1.2.1.2.2.1.10.{i}" for i in range(1, 40)]  # a message over 255 octets
    for oids in (ODD_OIDS, many):
        assert ber.encode_get(header, request_id, oids) == pysnmp_request(
            "get", request_id, oids, community
        )
        for repetitions in (1, 25, 128):
            assert ber.encode_bulk(header, request_id, oids, repetitions) == pysnmp_request(
                "bulk", request_id, oids, community, repetitions
            )


VALUES = [
    rfc1902.Integer32(0), rfc1902.Integer32(127), rfc1902.Integer32(128),
    rfc1902.Integer32(-1), rfc1902.Integer32(-128), rfc1902.Integer32(-129),
    rfc1902.Integer32(-2147483648), rfc1902.Integer32(2147483647),
    rfc1902.Counter32(0), rfc1902.Counter32(2**31), rfc1902.Counter32(2**32 - 1),
    rfc1902.Gauge32(4_000_000_000), rfc1902.Unsigned32(17), rfc1902.TimeTicks(2**32 - 1),
    rfc1902.Counter64(0), rfc1902.Counter64(2**63), rfc1902.Counter64(2**64 - 1),
    rfc1902.IpAddress("10.20.30.250"), rfc1902.IpAddress("0.0.0.0"),
    rfc1902.OctetString(b"port1"), rfc1902.OctetString(b""),
    rfc1902.OctetString("h\u00e9llo".encode()), rfc1902.OctetString(b"name\x00\x00"),
    rfc1902.OctetString(b"\xff\xfebad utf-8"), rfc1902.OctetString(b"x" * 300),
    rfc1902.Opaque(b"\x9f\x78\x04"), rfc1902.ObjectIdentifier("1.3.6.1.4.1.9.1.1"),
    rfc1902.ObjectIdentifier("2.999.16384"), rfc1905.noSuchObject, rfc1905.noSuchInstance,
    rfc1905.unSpecified,
]  # fmt: skip


def test_every_value_type_decodes_as_to_python_read_pysnmps_value() -> None:
    varbinds = [(oid, value) for oid in ODD_OIDS for value in VALUES]
    header, decoded = decode(pysnmp_response(varbinds, request_id=2**31 - 1))
    assert (header.request_id, header.error_status, header.community) == (2**31 - 1, 0, b"public")
    assert decoded == [(oid, to_python(value)) for oid, value in varbinds]
    assert header.varbinds_end - header.varbinds_start > 0xFF  # lengths of 1 and 2 octets


def test_lengths_of_three_octets_decode() -> None:
    big = rfc1902.OctetString(b"y" * 60_000)
    header, decoded = decode(pysnmp_response([("1.3.6.1.4.1.1.1", big), ("1.3.6.1.4.1.1.2", big)]))
    assert header.varbinds_end - header.varbinds_start > 0xFFFF
    assert decoded == [("1.3.6.1.4.1.1.1", "y" * 60_000), ("1.3.6.1.4.1.1.2", "y" * 60_000)]


def test_counters_keep_their_width_and_their_high_bit() -> None:
    reply = pysnmp_response([("1.3.6.1.2.1.31.1.1.1.6.1", rfc1902.Counter64(2**64 - 1)),
                             ("1.3.6.1.2.1.2.2.1.10.1", rfc1902.Counter32(2**32 - 1))])  # fmt: skip
    _, decoded = decode(reply)
    assert [value for _, value in decoded] == [Counter(2**64 - 1, 64), Counter(2**32 - 1, 32)]


def test_a_counter_sent_without_its_leading_zero_octet_is_read_unsigned() -> None:
    # A Counter64 of 2^64 - 1 as some devices send it: 8 octets, no 0x00 before the 0xff.
    good = pysnmp_response([("1.3.6.1.2.1.31.1.1.1.6.1", rfc1902.Counter64(2**64 - 1))])
    sloppy = good.replace(b"\x46\x09\x00" + b"\xff" * 8, b"\x46\x08" + b"\xff" * 8)
    assert sloppy != good
    _, decoded = decode(_grow_lengths(sloppy, by=-1, levels=4))
    assert decoded == [("1.3.6.1.2.1.31.1.1.1.6.1", Counter(2**64 - 1, 64))]


def test_end_of_mib_view_is_its_own_marker_not_an_absent_value() -> None:
    _, decoded = decode(pysnmp_response([("2.25.7.2", rfc1905.endOfMibView),
                                         ("2.25.7.3", rfc1905.noSuchInstance)]))  # fmt: skip
    assert decoded == [("2.25.7.2", END_OF_MIB), ("2.25.7.3", None)]


def test_error_status_names_are_pysnmps() -> None:
    for number in [*range(19), 42]:  # 42: unknown to both, shown as its number
        assert ber.error_name(number) == rfc1905.errorStatus.clone(number).prettyPrint()
    header, _ = decode(pysnmp_response([("1.3.6.1.2.1.1.3.0", V2C.null)], error_status=1))
    assert ber.error_name(header.error_status) == "tooBig"


def test_every_truncation_of_a_reply_is_malformed() -> None:
    reply = pysnmp_response([(oid, value) for oid, value in zip(ODD_OIDS, VALUES, strict=False)])
    for cut in range(len(reply)):
        with pytest.raises(ber.MalformedMessage):
            decode(reply[:cut])


def test_random_bytes_and_flipped_octets_raise_nothing_but_malformed() -> None:
    rng = random.Random(20240501)
    reply = bytearray(pysnmp_response([(oid, value) for oid in ODD_OIDS[:2] for value in VALUES]))
    for _ in range(3000):
        damaged = bytearray(reply)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        for data in (bytes(damaged), rng.randbytes(rng.randint(0, 80))):
            with contextlib.suppress(ber.MalformedMessage):
                decode(data)


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("v1 message", lambda m: m.replace(b"\x02\x01\x01\x04", b"\x02\x01\x00\x04", 1)),
        ("a GetRequest, not a Response", lambda m: m.replace(b"\xa2", b"\xa0", 1)),
        ("indefinite length", lambda m: b"\x30\x80" + m[2:]),
        (
            "OID arc with a leading 0x80",
            lambda m: m.replace(b"\x06\x03\x2b\x06\x01", b"\x06\x03\x2b\x80\x01"),
        ),
        ("a stray NULL in the varbind list", lambda m: _grow_lengths(m + b"\x05\x00", 2, 3)),
    ],
)
def test_replies_that_are_not_well_formed_responses_are_refused(name, change) -> None:
    reply = pysnmp_response([("1.3.6.1", rfc1902.Integer32(5)), ("1.3.6.2", rfc1902.Integer32(6))])
    changed = change(reply)
    assert changed != reply, name
    with pytest.raises(ber.MalformedMessage):
        decode(changed)


@pytest.mark.parametrize(
    ("tag", "expected", "odd"),
    [
        (0x47, 5, 0),  # SMIv1 UInteger32: read as Unsigned32
        (0x45, None, 1),  # SMIv1 NsapAddress: odd
        (0x44, None, 1),  # an Opaque that is not net-snmp's float: odd
        (0x48, None, 1),  # an application tag no SMI defines: odd
        (0x9F, None, 1),  # a context tag: odd
    ],
)
def test_a_value_of_an_odd_type_is_none_and_counted_and_its_neighbours_kept(
    tag: int, expected: object, odd: int
) -> None:
    reply = pysnmp_response([("1.3.6.1", rfc1902.Integer32(5)), ("1.3.6.2", rfc1902.Integer32(6))])
    changed = reply.replace(b"\x02\x01\x05\x30", bytes([tag]) + b"\x01\x05\x30")
    header = ber.parse_response(changed)
    counted: list[int] = []
    varbinds = ber.decode_varbinds(
        changed, header.varbinds_start, header.varbinds_end, lambda: counted.append(1)
    )
    assert varbinds == [("1.3.6.1", expected), ("1.3.6.2", 6)]
    assert len(counted) == odd


def test_text_in_gbk_decodes_and_binary_octets_never_raise() -> None:
    for text, octets in [("录播教室", "录播教室".encode("gbk")), ("端口1", "端口1".encode())]:
        reply = pysnmp_response([("1.3.6.1", rfc1902.OctetString(octets))])
        assert decode(reply)[1] == [("1.3.6.1", text)]
    binary = bytes(range(256))
    assert isinstance(
        decode(pysnmp_response([("1.3.6.1", rfc1902.OctetString(binary))]))[1][0][1], str
    )


def test_oids_that_are_not_numeric_are_refused_when_encoding() -> None:
    for oid in ("", "1", "sysDescr.0", "3.1", "1.40", "1.3.-6"):
        with pytest.raises(ValueError, match="not a numeric OID"):
            ber.encode_oid(oid)


def _grow_lengths(message: bytes, by: int, levels: int) -> bytes:
    """``message`` with the lengths of its first ``levels`` enclosing SEQUENCEs (message,
    PDU, varbind list, first varbind) changed ``by`` octets; short-form lengths only."""
    data = bytearray(message)
    community_end = 7 + data[6]
    pdu = community_end
    varbind_list = pdu + 2
    for _ in range(3):  # request-id, error-status, error-index
        varbind_list += 2 + data[varbind_list + 1]
    for position in (0, pdu, varbind_list, varbind_list + 2)[:levels]:
        assert data[position + 1] < 0x80
        data[position + 1] += by
    return bytes(data)

"""BER encoding of the SNMPv2c requests the poller sends (GetRequest, GetBulkRequest) and
decoding of the Response it reads back, written for speed.

Why by hand, when the project otherwise uses pysnmp (measured on the project's 2-CPU bench
machine, docs/performance.md "SNMP throughput" and "Agent footprint"):

- ``bench/snmp_throughput.py`` (one snmpd, a 48-port switch, 4 requests in flight, against
  prometheus-snmp-exporter 0.21): with pysnmp 7 + pyasn1 the agent spent 0.80 ms of CPU per
  GET, 65 ms per 13-column x 48-row walk and 67 ms per device poll, where the exporter
  spends 0.22, 6.2 and 5.8 ms: ratios 0.24 (get), 0.08 (walk), 0.08 (poll) at load 1.6,
  goal >= 1.0. pysnmp's cost is ~0.15 ms per decoded value (pyasn1 builds several objects
  per value) and 0.8-1.5 ms per request (hlapi's MIB-view resolution, message processing).
  With this codec: 0.04-0.09 ms per GET, 1.5-2.3 ms per walk, 3.1-3.5 ms per device poll;
  ratios 2.0-3.4 (get), 2.2-3.5 (walk), 1.4-2.3 (poll) in three runs at load 1.4-5.5.
  Decoding one value takes ~0.8 us.
- ``bench/agent_footprint.py`` (20 devices every 10 s): agent CPU 1.67-1.87 % of a core
  (goal <= 1 %) and RSS 61.5-63.2 MiB (goal <= 2x zabbix-agent2, ~44.4 MiB), of which
  importing pysnmp was 10.9-12.5 MiB (7 MiB of it ``cryptography``). With v2c on this codec
  pysnmp is not imported: 0.23-0.32 % and 43.3-44.0 MiB.

SNMPv3, SET and traps stay on pysnmp (``agent.snmp.pysnmp_path``, ``agent.snmp.traps``);
the values of SNMPv3 replies are read here all the same (``decode_value``).

What a reply's values become is ``agent.snmp.values``: the same as pysnmp's values gave
through ``to_python`` (Integer -> int, Counter32/64 -> Counter, Gauge32/TimeTicks -> int,
IpAddress -> dotted text, OCTET STRING -> text without trailing NULs (UTF-8, else GB18030:
``values.decode_text``), OID -> dotted text, noSuchObject/noSuchInstance -> None,
endOfMibView -> END_OF_MIB). Unsigned types are read as unsigned, so a device that leaves
out the leading zero octet of a counter with its high bit set is read as it meant (pysnmp
dropped such a reply). SMIv1's UInteger32 (0x47) is read as Unsigned32; net-snmp's Opaque
float and double (UCD-SNMP-MIB laLoadFloat) as the number's text.

A value of a type the poller cannot use (NsapAddress 0x45, another Opaque, an unknown
tag) or whose contents do not fit its type (an IpAddress of 5 octets) is an **odd value**:
it becomes None, like noSuchObject, and ``on_odd_value`` is told; the reply's other values
are kept (one such value used to make a healthy device unreachable). Anything that breaks
the message's structure raises ``MalformedMessage``.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import NamedTuple

from roomwatch.agent.snmp.values import END_OF_MIB, Counter, ReplyValue, VarBinds, decode_text

ERROR_NAMES = (
    "noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess",
    "wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation",
    "inconsistentValue", "resourceUnavailable", "commitFailed", "undoFailed",
    "authorizationError", "notWritable", "inconsistentName",
)  # fmt: skip
"""errorStatus names (RFC 3416), as pysnmp prints them."""

_V2C_VERSION = b"\x02\x01\x01"
_GET_REQUEST = 0xA0
_GET_BULK_REQUEST = 0xA5
_RESPONSE = 0xA2
_NULL_VALUE = b"\x05\x00"
_ZERO = b"\x02\x01\x00"
_DECIMAL = tuple(str(n) for n in range(128))
_MAX_PREFIXES = 4096
_OID_PREFIXES: dict[bytes, str] = {}  # an encoded OID -> its dotted text and a dot


class MalformedMessage(ValueError):
    """A datagram that is not a well-formed SNMPv2c Response."""


class ResponseHeader(NamedTuple):
    """A Response's fields before its varbinds, which follow at ``varbinds_start``."""

    request_id: int
    community: bytes
    error_status: int
    varbinds_start: int
    varbinds_end: int


def error_name(status: int) -> str:
    """The errorStatus name pysnmp gave (its number for one RFC 3416 does not know)."""
    return ERROR_NAMES[status] if 0 <= status < len(ERROR_NAMES) else str(status)


# -- encoding ------------------------------------------------------------------------------


def encode_length(size: int) -> bytes:
    if size < 0x80:
        return bytes((size,))
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def encode_integer(value: int) -> bytes:
    """An INTEGER, two's complement in as few octets as it takes."""
    octets = value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)
    return b"\x02" + encode_length(len(octets)) + octets


def encode_oid(oid: str) -> bytes:
    """The contents octets of an OBJECT IDENTIFIER given in dotted form ("1.3.6.1...")."""
    try:
        arcs = [int(arc) for arc in oid.split(".") if arc]
    except ValueError:
        raise ValueError(f"not a numeric OID: {oid!r}") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40) or min(arcs) < 0:
        raise ValueError(f"not a numeric OID: {oid!r}")
    out = bytearray()
    for arc in (arcs[0] * 40 + arcs[1], *arcs[2:]):
        if arc < 0x80:
            out.append(arc)
            continue
        septets = [arc & 0x7F]
        arc >>= 7
        while arc:
            septets.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(septets))
    return bytes(out)


@functools.lru_cache(maxsize=2048)
def encoded_varbind(oid: str) -> bytes:
    """``oid`` with a NULL value, as a request carries it (cached: polls repeat them)."""
    name = encode_oid(oid)
    body = b"\x06" + encode_length(len(name)) + name + _NULL_VALUE
    return b"\x30" + encode_length(len(body)) + body


def message_header(community: bytes) -> bytes:
    """What every v2c message with this community starts with (after its own length)."""
    return _V2C_VERSION + b"\x04" + encode_length(len(community)) + community


def encode_get(header: bytes, request_id: int, oids: list[str]) -> bytes:
    """A GetRequest for ``oids``; ``header`` from ``message_header``."""
    return _message(header, _GET_REQUEST, encode_integer(request_id) + _ZERO + _ZERO, oids)


def encode_bulk(header: bytes, request_id: int, oids: list[str], max_repetitions: int) -> bytes:
    """A GetBulkRequest: no non-repeaters, ``max_repetitions`` rows after each of ``oids``."""
    fields = encode_integer(request_id) + _ZERO + encode_integer(max_repetitions)
    return _message(header, _GET_BULK_REQUEST, fields, oids)


def _message(header: bytes, pdu_tag: int, fields: bytes, oids: list[str]) -> bytes:
    varbinds = b"".join([encoded_varbind(oid) for oid in oids])
    pdu_body = fields + b"\x30" + encode_length(len(varbinds)) + varbinds
    pdu = bytes((pdu_tag,)) + encode_length(len(pdu_body)) + pdu_body
    return b"\x30" + encode_length(len(header) + len(pdu)) + header + pdu


# -- decoding ------------------------------------------------------------------------------


def parse_response(data: bytes) -> ResponseHeader:
    """The header fields of a v2c Response; MalformedMessage if ``data`` is not one."""
    try:
        if data[0] != 0x30:
            raise MalformedMessage("not a SEQUENCE")
        size, pos = _length(data, 1)
        message_end = pos + size
        if message_end > len(data):
            raise MalformedMessage("truncated")
        if data[pos : pos + 3] != _V2C_VERSION or data[pos + 3] != 0x04:
            raise MalformedMessage("not an SNMPv2c message")
        size, pos = _length(data, pos + 4)
        community = data[pos : pos + size]
        pos += size
        if data[pos] != _RESPONSE:
            raise MalformedMessage("not a Response-PDU")
        size, pos = _length(data, pos + 1)
        pdu_end = pos + size
        request_id, pos = _integer(data, pos)
        error_status, pos = _integer(data, pos)
        _error_index, pos = _integer(data, pos)
        if data[pos] != 0x30:
            raise MalformedMessage("varbind list is not a SEQUENCE")
        size, pos = _length(data, pos + 1)
    except IndexError:
        raise MalformedMessage("truncated") from None
    if pos + size != pdu_end or pdu_end > message_end:
        raise MalformedMessage("inconsistent lengths")
    return ResponseHeader(request_id, community, error_status, pos, pos + size)


def decode_varbinds(
    data: bytes, pos: int, end: int, on_odd_value: Callable[[], None] | None = None
) -> VarBinds:
    """The varbinds between ``pos`` and ``end`` (from ``parse_response``), values converted;
    an odd value becomes None and is reported to ``on_odd_value``.

    The common cases (an OID whose last arc is one octet, INTEGER and Counter32 values) are
    inlined: this loop runs once per value the agent reads."""
    found: VarBinds = []
    append = found.append
    prefixes = _OID_PREFIXES
    decimal = _DECIMAL
    from_bytes = int.from_bytes
    new_tuple = tuple.__new__
    try:
        while pos < end:
            if data[pos] != 0x30:
                raise MalformedMessage("varbind is not a SEQUENCE")
            size = data[pos + 1]
            if size < 0x80:
                pos += 2
            else:
                size, pos = _length(data, pos + 1)
            bind_end = pos + size
            if data[pos] != 0x06:
                raise MalformedMessage("varbind without an OID")
            size = data[pos + 1]
            if size < 0x80:
                pos += 2
            else:
                size, pos = _length(data, pos + 1)
            last = pos + size - 1
            if size > 1 and data[last] < 0x80 and data[last - 1] < 0x80:
                prefix = prefixes.get(data[pos:last])
                if prefix is None:
                    prefix = _oid_prefix(data[pos:last])
                oid = prefix + decimal[data[last]]
            else:
                oid = _oid_text(data, pos, last + 1)
            pos = last + 1
            tag, size = data[pos], data[pos + 1]
            if size < 0x80:
                pos += 2
            else:
                size, pos = _length(data, pos + 1)
            value_end = pos + size
            if value_end != bind_end:
                raise MalformedMessage("varbind lengths disagree")
            if tag == 0x41:  # Counter32 (tuple.__new__: Counter() costs twice as much)
                append((oid, new_tuple(Counter, (from_bytes(data[pos:value_end]), 32))))
            elif tag == 0x02 and size == 1:  # a small INTEGER
                small = data[pos]
                append((oid, small - 256 if small > 127 else small))
            elif tag == 0x04:  # OCTET STRING
                try:
                    append((oid, data[pos:value_end].decode("utf-8").rstrip("\x00")))
                except UnicodeDecodeError:
                    append((oid, decode_text(data[pos:value_end])))
            elif tag == 0x42:  # Gauge32
                append((oid, from_bytes(data[pos:value_end])))
            else:
                value = _value(data, tag, pos, value_end)
                if isinstance(value, _Odd):
                    value = None
                    if on_odd_value is not None:
                        on_odd_value()
                append((oid, value))
            pos = value_end
    except IndexError:
        raise MalformedMessage("truncated") from None
    if pos != end:
        raise MalformedMessage("a varbind runs past the list")
    return found


def decode_value(
    tag: int, contents: bytes, on_odd_value: Callable[[], None] | None = None
) -> ReplyValue:
    """One value, given by its tag (identifier octet) and contents octets, read as
    ``decode_varbinds`` reads it: an odd value becomes None and is reported to
    ``on_odd_value``. For SNMPv3 replies, which pysnmp takes apart."""
    value = _value(contents, tag, 0, len(contents))
    if isinstance(value, _Odd):
        if on_odd_value is not None:
            on_odd_value()
        return None
    return value


class _Odd:
    """A value the poller cannot use (see the module docstring)."""


_ODD = _Odd()
_OPAQUE_FLOAT = b"\x9f\x78\x04"  # net-snmp: Opaque wrapping an ASN.1 float (4 octets)
_OPAQUE_DOUBLE = b"\x9f\x79\x08"  # ... or a double (8 octets)


def _value(data: bytes, tag: int, pos: int, end: int) -> ReplyValue | _Odd:
    if tag == 0x02:  # INTEGER
        if end - pos == 1:
            small = data[pos]
            return small - 256 if small > 127 else small
        if end == pos:
            return _ODD
        return int.from_bytes(data[pos:end], "big", signed=True)
    if tag == 0x41:  # Counter32
        return Counter(int.from_bytes(data[pos:end], "big"), 32)
    if tag == 0x04:  # OCTET STRING
        return decode_text(data[pos:end])
    if tag == 0x42 or tag == 0x43 or tag == 0x47:  # Gauge32/Unsigned32, TimeTicks, UInteger32
        return int.from_bytes(data[pos:end], "big")
    if tag == 0x46:  # Counter64
        return Counter(int.from_bytes(data[pos:end], "big"), 64)
    if tag == 0x06:  # OBJECT IDENTIFIER
        try:
            return _oid_text(data, pos, end)
        except MalformedMessage:
            return _ODD
    if tag == 0x40:  # IpAddress
        if end - pos != 4:
            return _ODD
        return f"{data[pos]}.{data[pos + 1]}.{data[pos + 2]}.{data[pos + 3]}"
    if tag == 0x80 or tag == 0x81:  # noSuchObject, noSuchInstance
        return None
    if tag == 0x82:  # endOfMibView
        return END_OF_MIB
    if tag == 0x05:  # NULL (unSpecified): pysnmp's value was an empty OCTET STRING
        return ""
    if tag == 0x44:  # Opaque
        return _opaque_number(data[pos:end])
    return _ODD  # NsapAddress (0x45), application or context tags no SMI defines


def _opaque_number(contents: bytes) -> str | _Odd:
    """net-snmp's Opaque float or double as text ("0.15"); any other Opaque is odd."""
    if len(contents) == 7 and contents[:3] == _OPAQUE_FLOAT:
        return f"{struct.unpack('>f', contents[3:])[0]:.7g}"
    if len(contents) == 11 and contents[:3] == _OPAQUE_DOUBLE:
        return repr(struct.unpack(">d", contents[3:])[0])
    return _ODD


def _oid_text(data: bytes, start: int, end: int) -> str:
    """Dotted text of the OID encoded in ``data[start:end]``. All but the last arc come
    from a cache of prefixes: a walk's rows differ in their last arc only."""
    if end - start > 1 and data[end - 1] < 0x80 and data[end - 2] < 0x80:
        prefix = _OID_PREFIXES.get(data[start : end - 1])
        if prefix is None:
            prefix = _oid_prefix(data[start : end - 1])
        return prefix + _DECIMAL[data[end - 1]]
    return _decode_oid(data[start:end])


def _oid_prefix(encoded: bytes) -> str:
    """The dotted text of a complete encoded OID and a dot, remembered."""
    prefix = _decode_oid(encoded) + "."
    if len(_OID_PREFIXES) >= _MAX_PREFIXES:
        _OID_PREFIXES.clear()
    _OID_PREFIXES[encoded] = prefix
    return prefix


def _decode_oid(encoded: bytes) -> str:
    arcs: list[int] = []
    arc = 0
    starting = True
    for octet in encoded:
        if starting and octet == 0x80:
            raise MalformedMessage("OID arc with a leading 0x80 octet")
        arc = (arc << 7) | (octet & 0x7F)
        starting = octet < 0x80
        if starting:
            arcs.append(arc)
            arc = 0
    if not arcs or not starting:
        raise MalformedMessage("OID empty or cut in an arc")
    first = arcs[0]
    head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
    return ".".join(map(str, (*head, *arcs[1:])))


def _length(data: bytes, pos: int) -> tuple[int, int]:
    """The length whose first octet is at ``pos``, and where the contents start."""
    size = data[pos]
    if size < 0x80:
        return size, pos + 1
    count = size & 0x7F
    if count == 0 or count > 4:
        raise MalformedMessage("indefinite or oversized length")
    return int.from_bytes(data[pos + 1 : pos + 1 + count], "big"), pos + 1 + count


def _integer(data: bytes, pos: int) -> tuple[int, int]:
    if data[pos] != 0x02:
        raise MalformedMessage("INTEGER expected")
    size, pos = _length(data, pos + 1)
    if size == 0 or size > 8:
        raise MalformedMessage("bad INTEGER length")
    return int.from_bytes(data[pos : pos + size], "big", signed=True), pos + size

"""What an SNMP reply's values become in the agent, whichever path read them.

Both request paths (``agent.snmp.ber`` for v2c, pysnmp for v3) hand the client the same
things: reply OIDs as dotted strings and values as int, str or ``Counter``; ``None`` for
noSuchObject / noSuchInstance; ``END_OF_MIB`` for endOfMibView, which ends a walk.
"""

from __future__ import annotations

import enum
from typing import Literal, NamedTuple


class Counter(NamedTuple):
    """A counter as the device sent it; ``bits`` (32 or 64) says where it wraps."""

    value: int
    bits: int


class _EndOfMib(enum.Enum):
    END_OF_MIB = "endOfMibView"


END_OF_MIB = _EndOfMib.END_OF_MIB
"""endOfMibView: the device has no OID after the one asked for."""


def decode_text(octets: bytes) -> str:
    """An OCTET STRING as text: UTF-8, else GB18030 (GBK/GB2312 are subsets of it: the
    Chinese names and port descriptions of devices sold in China), else UTF-8 with
    replacement characters; trailing NULs removed. Never raises."""
    try:
        text = octets.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = octets.decode("gb18030")
        except UnicodeDecodeError:
            text = octets.decode("utf-8", "replace")
    return text.rstrip("\x00")


SnmpValue = int | str | Counter
ReplyValue = SnmpValue | None | Literal[_EndOfMib.END_OF_MIB]
VarBinds = list[tuple[str, ReplyValue]]
"""A reply's variable bindings in order: (OID, value)."""

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

SnmpValue = int | str | Counter
ReplyValue = SnmpValue | None | Literal[_EndOfMib.END_OF_MIB]
VarBinds = list[tuple[str, ReplyValue]]
"""A reply's variable bindings in order: (OID, value)."""

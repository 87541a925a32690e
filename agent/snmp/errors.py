"""Why an SNMP request or walk gave no (complete) answer."""

from __future__ import annotations

from roomwatch.agent.errors import AgentError
from roomwatch.agent.snmp.values import SnmpValue


class SnmpError(AgentError):
    """A request got no usable answer; ``reason`` is short ("timeout", "tooBig", ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TableCutOff(SnmpError):
    """A table walk was stopped early; ``rows`` holds what had been read (column -> rows)."""

    def __init__(self, reason: str, rows: dict[str, dict[str, SnmpValue]]) -> None:
        super().__init__(reason)
        self.rows = rows

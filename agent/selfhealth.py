"""The agent's own health: counters it reports as the ``agent`` device, and quiet failure logs.

Counters are totals since the agent started (cycles, published, ...) or gauges of the
moment (spool depth); the collector turns totals into rates. FailureLog keeps logs quiet:
one line when a part starts failing, one when it recovers, nothing in between.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields

from roomwatch.agent.wire import DeviceSample

AGENT_DEVICE = "agent"


@dataclass
class AgentCounters:
    """What the agent counts about itself; one ``agent`` device sample per cycle."""

    cycles: int = 0
    cycle_duration_ms: float = 0.0
    spool_depth: int = 0
    spool_bytes: int = 0
    spool_dropped: int = 0
    published: int = 0
    publish_failures: int = 0
    reconnects: int = 0
    device_timeouts: int = 0
    snmp_malformed_replies: int = 0  # SNMP datagrams that could not be parsed, dropped
    snmp_odd_values: int = 0  # SNMP values of an unusable type (NsapAddress...), read as absent
    spool_in_memory: int = 0  # 1 when the disk spool failed and messages live in memory
    traps_received: int = 0  # SNMP traps (agent.snmp.traps.TrapStats)
    traps_unknown: int = 0
    traps_unresolved: int = 0
    traps_rejected: int = 0
    traps_dropped: int = 0

    def to_sample(self) -> DeviceSample:
        metrics = {f.name: float(getattr(self, f.name)) for f in fields(self)}
        return DeviceSample(device=AGENT_DEVICE, kind=AGENT_DEVICE, reachable=True, metrics=metrics)


class FailureLog:
    """Logs a part's failure once and its recovery once, however many cycles it lasts."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._failing: set[str] = set()

    def failed(self, part: str, reason: object) -> None:
        if part not in self._failing:
            self._failing.add(part)
            self._logger.warning("%s failing: %s (logged once until it recovers)", part, reason)

    def ok(self, part: str) -> None:
        if part in self._failing:
            self._failing.discard(part)
            self._logger.info("%s recovered", part)

    def is_failing(self, part: str) -> bool:
        return part in self._failing

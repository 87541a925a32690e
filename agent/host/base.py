"""The host probes' contract: each one ``collect()``s a ProbeReading; counters become rates.

A probe measures one concern of the PC (cpu, memory, disks, ...), like a Glances plugin. It
may raise: the HostProbe that runs it drops only that probe's metrics for the cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from roomwatch.agent.wire import Event, TableRow


@dataclass
class ProbeReading:
    """What one probe measured in one cycle."""

    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict[str, list[TableRow]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


class Probe(Protocol):
    """One concern of the host; ``name`` appears in logs when the probe fails."""

    name: str

    def collect(self) -> ProbeReading: ...


RowMetric = tuple[str, str]
"""(row name, metric name), e.g. ("eth0", "in_bytes_per_s")."""


class CounterRates:
    """Turns monotonically growing counters into per-second rates between two cycles.

    The first sight of a counter gives no rate; a counter that went down (a reset, a
    wrap, a re-plugged NIC) gives no rate for that cycle, never a negative one. Keys not
    seen in a cycle are forgotten, so a vanished NIC or disk leaks nothing.
    """

    def __init__(self) -> None:
        self._previous: dict[RowMetric, tuple[float, float]] = {}

    def update(self, counters: Mapping[RowMetric, float], now_s: float) -> dict[RowMetric, float]:
        """Rates per second for the counters that have a usable previous value."""
        rates: dict[RowMetric, float] = {}
        for key, value in counters.items():
            before = self._previous.get(key)
            if before is not None:
                before_value, before_s = before
                elapsed_s = now_s - before_s
                if elapsed_s > 0 and value >= before_value:
                    rates[key] = (value - before_value) / elapsed_s
        self._previous = {key: (value, now_s) for key, value in counters.items()}
        return rates


def rows_from_rates(rates: Mapping[RowMetric, float], label: str) -> list[TableRow]:
    """Group {(row name, metric): rate} into one TableRow per row name, sorted by name."""
    by_row: dict[str, dict[str, float]] = {}
    for (row_name, metric), rate in rates.items():
        by_row.setdefault(row_name, {})[metric] = rate
    return [
        TableRow(labels={label: name[:128]}, metrics=metrics)
        for name, metrics in sorted(by_row.items())
    ]

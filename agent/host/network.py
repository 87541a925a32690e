"""Traffic, errors and drops per network interface."""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil

from roomwatch.agent.host.base import CounterRates, ProbeReading, rows_from_rates

_LOOPBACK_NAMES = frozenset({"lo", "lo0", "Loopback Pseudo-Interface 1"})


class NetworkProbe:
    """Table ``nic``, rows {nic}: ``in_bytes_per_s``, ``out_bytes_per_s``, ``errors_per_s``,
    ``drops_per_s`` (errors and drops count both directions).

    Rates between two cycles; the first cycle and a counter reset give no value.
    """

    name = "network"

    def __init__(self, clock_s: Callable[[], float] = time.monotonic) -> None:
        self._clock_s = clock_s
        self._rates = CounterRates()

    def collect(self) -> ProbeReading:
        counters: dict[tuple[str, str], float] = {}
        for nic, io in psutil.net_io_counters(pernic=True).items():
            if nic in _LOOPBACK_NAMES:
                continue
            counters[(nic, "in_bytes_per_s")] = float(io.bytes_recv)
            counters[(nic, "out_bytes_per_s")] = float(io.bytes_sent)
            counters[(nic, "errors_per_s")] = float(io.errin + io.errout)
            counters[(nic, "drops_per_s")] = float(io.dropin + io.dropout)
        rates = self._rates.update(counters, self._clock_s())
        return ProbeReading(tables={"nic": rows_from_rates(rates, "nic")})

"""CPU busy share and load averages."""

from __future__ import annotations

import psutil

from roomwatch.agent.host.base import ProbeReading


class CpuProbe:
    """``cpu_pct`` (whole machine, 0..100, since the previous cycle) and ``load1/5/15``."""

    name = "cpu"

    def __init__(self) -> None:
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement

    def collect(self) -> ProbeReading:
        load1, load5, load15 = psutil.getloadavg()
        return ProbeReading(
            metrics={
                "cpu_pct": float(psutil.cpu_percent(interval=None)),
                "load1": load1,
                "load5": load5,
                "load15": load15,
            }
        )

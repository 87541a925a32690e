"""How long the PC has been up."""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil

from roomwatch.agent.host.base import ProbeReading


class UptimeProbe:
    """``uptime_s``: seconds since boot (a long uptime suggests a reboot, an L4 hint)."""

    name = "uptime"

    def __init__(self, wall_clock_s: Callable[[], float] = time.time) -> None:
        self._wall_clock_s = wall_clock_s

    def collect(self) -> ProbeReading:
        uptime_s = max(0.0, self._wall_clock_s() - psutil.boot_time())
        return ProbeReading(metrics={"uptime_s": uptime_s})

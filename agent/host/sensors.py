"""Temperatures the operating system exposes."""

from __future__ import annotations

import psutil

from roomwatch.agent.host.base import ProbeReading


class SensorsProbe:
    """``temperature_c``: the hottest sensor reading; left out when the OS offers none.

    psutil reads temperatures on Linux and FreeBSD; on Windows there is no such call, and
    virtual machines usually have no sensors at all.
    """

    name = "sensors"

    def collect(self) -> ProbeReading:
        read = getattr(psutil, "sensors_temperatures", None)
        if read is None:
            return ProbeReading()
        currents = [
            entry.current
            for entries in read().values()
            for entry in entries
            if entry.current is not None and entry.current > -273.15
        ]
        if not currents:
            return ProbeReading()
        return ProbeReading(metrics={"temperature_c": float(max(currents))})

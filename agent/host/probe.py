"""HostProbe: the PC the agent runs on, as one ``host`` DeviceSample per cycle."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from roomwatch.agent.config import HostConfig
from roomwatch.agent.host.base import Probe, ProbeReading
from roomwatch.agent.host.cpu import CpuProbe
from roomwatch.agent.host.disks import DiskIoProbe, DiskUsageProbe
from roomwatch.agent.host.memory import MemoryProbe
from roomwatch.agent.host.network import NetworkProbe
from roomwatch.agent.host.processes import ProcessProbe
from roomwatch.agent.host.sensors import SensorsProbe
from roomwatch.agent.host.uptime import UptimeProbe
from roomwatch.agent.selfhealth import FailureLog
from roomwatch.agent.wire import DeviceSample, Event
from roomwatch.agent.wire import now as wall_now

log = logging.getLogger(__name__)

HOST_DEVICE = "host"


def default_probes(
    config: HostConfig,
    clock_s: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = wall_now,
) -> list[Probe]:
    """One probe per concern, as the config asks."""
    return [
        CpuProbe(),
        MemoryProbe(),
        UptimeProbe(),
        SensorsProbe(),
        DiskUsageProbe(config.disks),
        DiskIoProbe(clock_s),
        NetworkProbe(clock_s),
        ProcessProbe(config.processes, clock_s, now),
    ]


class HostProbe:
    """Runs every host probe; a probe that raises loses only its own metrics that cycle.

    ``collect()`` returns the ``host`` sample; events (process start/stop) gathered by it
    are handed out once by ``take_events()``.
    """

    def __init__(
        self,
        config: HostConfig,
        probes: Sequence[Probe] | None = None,
        clock_s: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = wall_now,
    ) -> None:
        self._probes = list(probes) if probes is not None else default_probes(config, clock_s, now)
        self._failures = FailureLog(log)
        self._events: list[Event] = []

    def collect(self) -> DeviceSample:
        merged = ProbeReading()
        for probe in self._probes:
            reading = self._read(probe)
            merged.metrics.update(reading.metrics)
            merged.tables.update({k: rows for k, rows in reading.tables.items() if rows})
            merged.events.extend(reading.events)
        self._events.extend(merged.events)
        return DeviceSample(
            device=HOST_DEVICE,
            kind=HOST_DEVICE,
            reachable=True,
            metrics=merged.metrics,
            tables=merged.tables,
        )

    def take_events(self) -> list[Event]:
        """Events seen since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def _read(self, probe: Probe) -> ProbeReading:
        part = f"host probe {probe.name}"
        try:
            reading = probe.collect()
        except Exception as exc:  # a probe's bug or OS refusal must not stop the others
            self._failures.failed(part, f"{type(exc).__name__}: {exc}")
            return ProbeReading()
        self._failures.ok(part)
        return reading

"""The host probe: the room PC itself (cpu, memory, disks, network, sensors, processes,
uptime), one small module per concern, each with ``collect() -> ProbeReading``."""

from roomwatch.agent.host.base import CounterRates, Probe, ProbeReading
from roomwatch.agent.host.probe import HOST_DEVICE, HostProbe, default_probes

__all__ = ["HOST_DEVICE", "CounterRates", "HostProbe", "Probe", "ProbeReading", "default_probes"]

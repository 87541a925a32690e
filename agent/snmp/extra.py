"""Whether this install has pysnmp, which SNMPv3, SNMP SET and the trap listener need.

v2c polls run on the agent's own codec (``roomwatch.agent.snmp.ber``), so the base install
(``pip install roomwatch``) carries no pysnmp; ``roomwatch[snmpv3]`` adds it."""

from __future__ import annotations

import importlib.util

from roomwatch.agent.config import AgentConfig
from roomwatch.agent.errors import ConfigError

INSTALL_HINT = "install the snmpv3 extra: pip install 'roomwatch[snmpv3]'"


def has_pysnmp() -> bool:
    """True when pysnmp can be imported (without importing it: ~11 MiB)."""
    return importlib.util.find_spec("pysnmp") is not None


def pysnmp_uses(config: AgentConfig) -> list[str]:
    """What in ``config`` needs pysnmp: the trap listener, devices polled with SNMPv3."""
    uses = ["snmp.traps.enabled"] if config.snmp.traps.enabled else []
    v3 = {name for name, cred in config.snmp.credentials.items() if cred.version == "v3"}
    uses += [
        f"device {device.id!r} (SNMPv3 credentials {device.credentials!r})"
        for device in config.devices
        if device.snmp and device.credentials in v3
    ]
    return uses


def require_pysnmp(config: AgentConfig) -> None:
    """Raise ConfigError naming what needs pysnmp when this install lacks it."""
    if has_pysnmp():
        return
    uses = pysnmp_uses(config)
    if uses:
        raise ConfigError(f"{', '.join(uses)} need(s) pysnmp: {INSTALL_HINT}")

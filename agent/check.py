"""Validate what the agent reads at start beyond its config file: the profile folders (every
profile in them), the profile each device names, and the TLS files — without opening the
spool or a socket. ``roomwatch agent --check`` runs it."""

from __future__ import annotations

from pathlib import Path

from roomwatch.agent.config import AgentConfig
from roomwatch.agent.errors import ConfigError, ProfileError
from roomwatch.agent.snmp.extra import require_pysnmp


def check_agent(path: Path, config: AgentConfig) -> int:
    """The number of profiles known; ConfigError lists every problem, each naming the file,
    the key and what was expected."""
    from roomwatch.agent.snmp.profile import ProfileRegistry

    problems = []
    for i, folder in enumerate(config.profiles_dirs):
        if not Path(folder).is_dir():
            problems.append(f"{path}: profiles_dirs.{i}: folder not found ({folder})")
    tls = config.mqtt.tls
    if tls is not None:
        for key in ("ca_file", "cert_file", "key_file"):
            file = getattr(tls, key)
            if file is not None and not Path(file).is_file():
                problems.append(f"{path}: mqtt.tls.{key}: file not found ({file})")
    if problems:
        raise ConfigError("\n".join(problems))
    require_pysnmp(config)
    try:
        registry = ProfileRegistry.load(config.profiles_dirs)
    except ProfileError as exc:
        raise ConfigError(str(exc)) from None
    known = registry.names()
    for i, device in enumerate(config.devices):
        if device.snmp and device.profile is not None and device.profile not in known:
            problems.append(
                f"{path}: devices.{i}.profile: unknown profile {device.profile!r} "
                f"(expected one of: {', '.join(known)})"
            )
    if problems:
        raise ConfigError("\n".join(problems))
    return len(known)

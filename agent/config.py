"""The agent's configuration: one YAML file, validated strictly before any socket opens.

Every section is a pydantic model with ``extra="forbid"``, so a misspelt key is an error that
names the file and the key. Secrets (MQTT password, SNMP communities and keys) are
``SecretStr`` and print as ``**********``. The commented reference is ``examples/agent.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from agent.errors import ConfigError
from agent.wire import AGENT_ID_PATTERN, DEVICE_ID_PATTERN, METRIC_NAME_PATTERN
from agent.yamlconfig import load_yaml_model


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TlsConfig(_Section):
    ca_file: Path | None = Field(default=None, description="CA bundle that signed the broker.")
    cert_file: Path | None = Field(default=None, description="Client certificate (mutual TLS).")
    key_file: Path | None = None
    insecure_skip_verify: bool = False


class MqttConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = Field(default=None, description="Defaults to the agent id.")
    password: SecretStr | None = None
    tls: TlsConfig | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    reconnect_min_s: float = Field(default=1.0, gt=0)
    reconnect_max_s: float = Field(default=60.0, gt=0)
    max_inflight: int = Field(default=20, ge=1, le=1000)
    session_expiry_s: int = Field(
        default=3600, ge=0, description="How long the broker keeps the session after a drop."
    )


class ProcessWatch(_Section):
    """A process the room depends on, e.g. the recording software."""

    name: Annotated[str, Field(pattern=METRIC_NAME_PATTERN)] = Field(
        description="Metric-safe name used in samples, e.g. 'recorder'."
    )
    match: str = Field(description="Process name (or a substring of its command line) to find.")
    required: bool = Field(default=True, description="A missing required process is a fault.")


class HostConfig(_Section):
    enabled: bool = True
    disks: list[str] = Field(
        default_factory=list, description="Mount points to watch; empty = every physical disk."
    )
    processes: list[ProcessWatch] = Field(default_factory=list)


class SpoolConfig(_Section):
    """The on-disk store-and-forward queue (in ``state_dir``); the oldest go first when full."""

    max_bytes: int = Field(default=64 * 1024 * 1024, ge=64 * 1024)
    max_age_s: float = Field(default=7 * 24 * 3600.0, gt=0)
    backlog_rate_per_s: float = Field(
        default=20.0, gt=0, description="Backlog messages sent per second after a reconnect."
    )


class SnmpCredential(_Section):
    """How to talk to a device; kept apart from device profiles, like snmp_exporter's auths."""

    version: Literal["v2c"] = "v2c"
    community: SecretStr = SecretStr("public")


class SnmpConfig(_Section):
    credentials: dict[str, SnmpCredential] = Field(
        default_factory=lambda: {"default": SnmpCredential()}
    )
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=5)
    concurrency: int = Field(default=32, ge=1, le=1024)
    max_repetitions: int = Field(default=25, ge=1, le=100)


class DeviceConfig(_Section):
    id: Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
    kind: Annotated[str, Field(pattern=METRIC_NAME_PATTERN)] = Field(
        description="camera, encoder, switch, ups, nas, audio, projector, ..."
    )
    address: str = Field(description="Host name or IP address of the device.")
    port: int = Field(default=161, ge=1, le=65535)
    credentials: str = "default"
    profile: str | None = Field(
        default=None, description="Profile name; empty = chosen by sysObjectID / sysDescr."
    )
    model: str | None = None
    parent: str | None = Field(default=None, description="Device id this one hangs on.")
    timeout_s: float | None = Field(default=None, gt=0, le=60)


class AgentConfig(_Section):
    agent_id: Annotated[str, Field(pattern=AGENT_ID_PATTERN)]
    site: str | None = Field(default=None, description="Informative; the collector decides.")
    room: str | None = Field(default=None, description="Informative; the collector decides.")
    interval_s: float = Field(default=30.0, ge=0.2, le=3600)
    state_dir: Path = Field(
        default=Path("/var/lib/roomwatch-agent"), description="Spool and sequence live here."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    host: HostConfig = Field(default_factory=HostConfig)
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    snmp: SnmpConfig = Field(default_factory=SnmpConfig)
    devices: list[DeviceConfig] = Field(default_factory=list)
    profiles_dirs: list[Path] = Field(
        default_factory=list, description="Extra profile folders, searched before built-ins."
    )

    @model_validator(mode="after")
    def _check_references(self) -> AgentConfig:
        ids = [d.id for d in self.devices]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"device ids must be unique; repeated: {', '.join(dupes)}")
        if "host" in ids:
            raise ValueError("device id 'host' is reserved for the PC the agent runs on")
        if "agent" in ids:
            raise ValueError("device id 'agent' is reserved for the agent's own counters")
        for device in self.devices:
            if device.credentials not in self.snmp.credentials:
                raise ValueError(
                    f"device {device.id!r} names credentials {device.credentials!r}, "
                    f"which are not under snmp.credentials"
                )
            if device.parent and device.parent not in ids and device.parent != "host":
                raise ValueError(f"device {device.id!r} names unknown parent {device.parent!r}")
        return self

    @property
    def mqtt_username(self) -> str:
        return self.mqtt.username or self.agent_id


def load_config(path: Path) -> AgentConfig:
    """Read and validate an agent config file; raise ConfigError with file, key and reason."""
    return load_yaml_model(path, AgentConfig)


__all__ = ["AgentConfig", "ConfigError", "DeviceConfig", "load_config"]

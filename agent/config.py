"""The agent's configuration: one YAML file, validated strictly before any socket opens.

Every section is a pydantic model with ``extra="forbid"``, so a misspelt key is an error that
names the file and the key. Secrets (MQTT password, SNMP communities and v3 keys) are
``SecretStr`` and print as ``**********``. The commented reference is ``examples/agent.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from roomwatch.agent.errors import ConfigError
from roomwatch.agent.urls import redact_url
from roomwatch.agent.wire import AGENT_ID_PATTERN, DEVICE_ID_PATTERN, METRIC_NAME_PATTERN
from roomwatch.agent.yamlconfig import load_yaml_model


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
    replay_window_s: float = Field(
        default=120.0,
        ge=0,
        description="Acknowledged messages are kept this long and re-sent after every "
        "reconnect, so a broker crash that loses its newest messages loses nothing "
        "(the collector drops the duplicates); 0 = forget a message at its PUBACK.",
    )


class HealthHttpConfig(_Section):
    """An optional local Prometheus endpoint with the agent's own counters (``/metrics``)."""

    enabled: bool = False
    host: str = Field(default="127.0.0.1", description="Keep it on loopback unless scraped.")
    port: int = Field(default=9721, ge=1, le=65535)


AuthProtocol = Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"]
PrivProtocol = Literal["des", "aes", "aes192", "aes256", "aes192c", "aes256c"]
SecurityLevel = Literal["noAuthNoPriv", "authNoPriv", "authPriv"]
_V3_FIELDS = (
    "username",
    "security_level",
    "auth_protocol",
    "auth_key",
    "priv_protocol",
    "priv_key",
)
_MIN_KEY_CHARS = 8  # RFC 3414 2.6: shorter pass phrases are refused by SNMP engines


class SnmpCredential(_Section):
    """How to talk to a device; kept apart from device profiles, like snmp_exporter's auths.

    ``v2c``: a community (default ``public``). ``v3``: a USM user; ``security_level`` follows
    from the keys given when it is left out. Keys and communities are ``SecretStr``: they
    print as ``**********`` and no error message ever contains them.
    """

    version: Literal["v2c", "v3"] = "v2c"
    community: SecretStr | None = Field(default=None, description="v2c; default 'public'.")
    username: str | None = Field(default=None, min_length=1, max_length=32, description="v3.")
    security_level: SecurityLevel | None = Field(
        default=None, description="v3; default: authPriv with priv_key, authNoPriv with auth_key."
    )
    auth_protocol: AuthProtocol | None = None
    auth_key: SecretStr | None = None
    priv_protocol: PrivProtocol | None = None
    priv_key: SecretStr | None = None

    @model_validator(mode="after")
    def _check_version_fields(self) -> SnmpCredential:
        if self.version == "v2c":
            given = [name for name in _V3_FIELDS if getattr(self, name) is not None]
            if given:
                raise ValueError(f"{', '.join(given)}: only for version: v3 (this is v2c)")
            if self.community is None:
                self.community = SecretStr("public")
            return self
        if self.community is not None:
            raise ValueError("community: only for version: v2c; v3 uses username and keys")
        if self.username is None:
            raise ValueError("version: v3 needs a username")
        self._check_v3_keys()
        return self

    def _check_v3_keys(self) -> None:
        if self.priv_key is not None and self.auth_key is None:
            raise ValueError(
                "priv_key needs auth_key: SNMPv3 has no privacy without authentication"
            )
        for key, protocol in (("auth_key", "auth_protocol"), ("priv_key", "priv_protocol")):
            secret: SecretStr | None = getattr(self, key)
            if (secret is None) != (getattr(self, protocol) is None):
                raise ValueError(f"{key} and {protocol} go together: give both or neither")
            if secret is not None and len(secret.get_secret_value()) < _MIN_KEY_CHARS:
                raise ValueError(f"{key}: must be at least {_MIN_KEY_CHARS} characters (RFC 3414)")
        implied: SecurityLevel = (
            "authPriv" if self.priv_key else "authNoPriv" if self.auth_key else "noAuthNoPriv"
        )
        if self.security_level is None:
            self.security_level = implied
        elif self.security_level != implied:
            needs = {
                "authPriv": "auth_key and priv_key",
                "authNoPriv": "auth_key and no priv_key",
                "noAuthNoPriv": "no auth_key and no priv_key",
            }[self.security_level]
            raise ValueError(f"security_level: {self.security_level} needs {needs}")


class TrapConfig(_Section):
    """The SNMP trap (notification) listener; see docs/snmp.md."""

    enabled: bool = False
    listen_address: str = Field(
        default="0.0.0.0", description="Address to receive traps on; '::' for IPv6."
    )
    port: int = Field(
        default=1162, ge=1, le=65535, description="162 is standard but needs privileges."
    )
    credentials: list[str] | None = Field(
        default=None,
        description="Names under snmp.credentials accepted for traps; null = all of them.",
    )
    batch_s: float = Field(
        default=0.5, gt=0, le=60, description="Traps within this time go out in one message."
    )
    max_pending: int = Field(
        default=1000, ge=1, le=100_000, description="Events waiting beyond this are dropped."
    )


class SnmpConfig(_Section):
    credentials: dict[str, SnmpCredential] = Field(
        default_factory=lambda: {"default": SnmpCredential()}
    )
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=5)
    concurrency: int = Field(default=32, ge=1, le=1024)
    max_repetitions: int = Field(default=25, ge=1, le=100)
    max_rows_per_table: int = Field(
        default=10_000, ge=1, le=1_000_000, description="A longer table walk is cut off."
    )
    traps: TrapConfig = Field(default_factory=TrapConfig)

    @model_validator(mode="after")
    def _check_trap_credentials(self) -> SnmpConfig:
        unknown = [n for n in self.traps.credentials or [] if n not in self.credentials]
        if unknown:
            raise ValueError(
                f"traps.credentials names {', '.join(map(repr, unknown))}, "
                f"which are not under snmp.credentials"
            )
        return self


class PingCheck(_Section):
    """ICMP echo. Where the OS refuses ICMP sockets to this user, a TCP connect to
    ``fallback_port`` stands in (an answer, even a refusal, proves the device is up)."""

    timeout_s: float = Field(default=1.0, gt=0, le=30)
    count: int = Field(default=1, ge=1, le=10, description="Echo requests per cycle.")
    fallback_port: int = Field(default=80, ge=1, le=65535)


class TcpCheck(_Section):
    """A TCP connect to a port: open = the service answers; refused or silent = it does not."""

    port: int = Field(ge=1, le=65535)
    timeout_s: float = Field(default=2.0, gt=0, le=30)


def _check_url(url: str, schemes: tuple[str, ...]) -> str:
    """``url`` if it is a full URL of one of ``schemes`` or a /PATH on the device.

    Messages never repeat a URL that may hold a password: one with an ``@`` anywhere, or
    whose port does not parse (``rtsp://admin:pa/ss@cam``: a ``/`` in a password ends the
    host part, and ``urlsplit`` reads "admin" as the host and "pa" as the port)."""
    if "@" in url:
        # A URL is printed in logs and errors; credentials go in their own keys.
        raise ValueError(
            "a URL with '@' is refused: credentials in a URL would be logged, put them in "
            "username and password (an '@' in a path is written %40)"
        )
    if url.startswith("/"):
        return url  # a path on the device's own address
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ValueError("the URL's port is not a number from 0 to 65535") from None
    if parts.scheme not in schemes or not parts.hostname:
        expected = " or ".join(schemes)
        raise ValueError(f"{redact_url(url)!r}: expected {expected}://HOST[:PORT]/PATH or /PATH")
    return url


class HttpCheck(_Section):
    """An HTTP(S) request whose status must be one of ``expect_status``."""

    url: str = Field(description="http(s)://host[:port]/path, or /path on the device's address.")
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] = Field(
        default_factory=list, description="Accepted status codes; empty = any 2xx or 3xx."
    )
    verify_tls: bool = Field(default=True, description="false for self-signed device certs.")
    timeout_s: float = Field(default=3.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return _check_url(url, ("http", "https"))


class RtspCheck(_Section):
    """RTSP DESCRIBE of a stream: up when it answers 200 with an SDP that has a video track."""

    url: str = Field(description="rtsp://host[:port]/path, or /path on the device (port 554).")
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(default=3.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return _check_url(url, ("rtsp",))

    @model_validator(mode="after")
    def _both_or_neither(self) -> RtspCheck:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: give both or neither")
        return self


class DeviceChecks(_Section):
    """Checks that need no SNMP; their results join the device's sample (see docs/devices.md)."""

    ping: PingCheck | None = Field(default=None, description="true or {timeout_s: ...}")
    tcp: list[TcpCheck] = Field(default_factory=list)
    http: list[HttpCheck] = Field(default_factory=list)
    rtsp: list[RtspCheck] = Field(default_factory=list)

    @field_validator("ping", mode="before")
    @classmethod
    def _ping_flag(cls, value: object) -> object:
        if value is True:
            return {}
        return None if value is False else value

    @property
    def empty(self) -> bool:
        return self.ping is None and not (self.tcp or self.http or self.rtsp)


_SNMP_ONLY_FIELDS = ("port", "credentials", "profile")


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
    snmp: bool = Field(default=True, description="false: watched by its checks only.")
    checks: DeviceChecks | None = None

    @model_validator(mode="after")
    def _has_a_source(self) -> DeviceConfig:
        if self.snmp:
            return self
        if self.checks is None or self.checks.empty:
            raise ValueError("snmp: false needs checks (ping, tcp, http or rtsp): nothing to watch")
        given = [name for name in _SNMP_ONLY_FIELDS if name in self.model_fields_set]
        if given:
            raise ValueError(f"{', '.join(given)}: only for SNMP, and this device has snmp: false")
        return self

    @property
    def has_checks(self) -> bool:
        return self.checks is not None and not self.checks.empty


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
    health_http: HealthHttpConfig = Field(default_factory=HealthHttpConfig)
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
            if device.snmp and device.credentials not in self.snmp.credentials:
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


__all__ = [
    "AgentConfig",
    "ConfigError",
    "DeviceChecks",
    "DeviceConfig",
    "HttpCheck",
    "PingCheck",
    "RtspCheck",
    "TcpCheck",
    "load_config",
]

"""The collector's configuration: one YAML file, validated strictly before any socket opens.

The commented reference is ``examples/collector.yaml``; every key is documented there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from roomwatch.agent.config import TlsConfig
from roomwatch.agent.yamlconfig import load_yaml_model
from roomwatch.collector.dispatch.readiness import ReadinessConfig
from roomwatch.collector.sla.runtime import SlaConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CollectorMqtt(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str = "collector"
    password: SecretStr | None = None
    client_id: str = Field(
        default="",
        description="Stable: it owns a session. Empty (the default): the username, which the "
        "shipped broker config uses as client id whatever is sent (use_username_as_clientid).",
    )
    tls: TlsConfig | None = None
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    receive_maximum: int = Field(default=4000, ge=1, le=65535)
    reconnect_min_s: float = Field(default=1.0, gt=0, description="First retry after a loss.")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Retries back off to this.")

    @model_validator(mode="after")
    def _client_id_defaults_to_username(self) -> CollectorMqtt:
        # The shipped broker replaces the client id with the account name, so the id the
        # session is kept under is the username; sending the same keeps logs and other
        # brokers consistent with it.
        if not self.client_id:
            self.client_id = self.username
        return self


class TsdbConfig(_Section):
    """InfluxDB 2.x write API (VictoriaMetrics accepts the same)."""

    url: str = "http://127.0.0.1:8428"
    token: SecretStr = SecretStr("")
    org: str = "roomwatch"
    bucket: str = "roomwatch"
    timeout_s: float = Field(default=10.0, gt=0)
    enabled: bool = True


class DatabaseConfig(_Section):
    url: str = Field(
        default="sqlite:///roomwatch-collector.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )


class ApiConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="Reverse proxies whose X-Forwarded-For names the client (sign-in limits); "
        "none by default: the connecting address is counted.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest request body accepted; larger ones are refused (413) unread.",
    )
    grafana_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^https?://",
        description="Grafana's address (https://grafana.example.org/): the dashboard links "
        "its pages to the roomwatch Grafana dashboards, with the reader's sites as variables.",
    )
    grafana_flavour: Literal["victoriametrics", "influxdb"] = Field(
        default="victoriametrics", description="Which flavour of dashboards/ Grafana holds."
    )


class FaultsConfig(_Section):
    agent_silence_s: float = Field(
        default=120.0, gt=0, description="No message for this long = agent offline (L1)."
    )
    rules_files: list[Path] = Field(
        default_factory=list, description="Site rule files, applied over the built-in pack."
    )
    evaluate_every_s: float = Field(default=5.0, gt=0, description="Silence check period.")
    advisories_every_s: float = Field(
        default=3600.0,
        gt=0,
        description="Vendor advisories matched again against firmware the agents report.",
    )


class IngestLimits(_Section):
    """Hard bounds every message is checked against before anything of it is stored.

    A message past one is acknowledged, counted (``roomwatch_collector_rejected_messages_total``
    by reason) and quarantined, never stored in part. See docs/operations.md.
    """

    max_message_bytes: int = Field(default=1024 * 1024, ge=1024, description="Payload size.")
    max_devices_per_message: int = Field(default=500, ge=1)
    max_metrics_per_device: int = Field(
        default=2000, ge=1, description="Metrics of a device plus those of its table rows."
    )
    max_metrics_per_message: int = Field(default=20_000, ge=1)
    max_events_per_message: int = Field(default=1000, ge=1)
    max_label_chars: int = Field(
        default=128, ge=1, description="Device model, table labels: TSDB tag values."
    )
    max_devices_per_agent: int = Field(
        default=500,
        ge=1,
        description="Devices an agent's reports may add to its room (inventory ones aside).",
    )
    max_graph_depth: int = Field(
        default=16, ge=1, description="Longest chain of parent links in a room."
    )
    future_skew_s: float = Field(
        default=300.0, ge=0, description="How far ahead of the collector's clock ts may be."
    )
    backfill_max_s: float = Field(
        default=8 * 24 * 3600.0,
        gt=0,
        description="How old samples and events may be (the agent's spool keeps 7 days).",
    )
    quarantine_excerpt_bytes: int = Field(
        default=4096, ge=0, description="How much of a quarantined payload is kept."
    )
    quarantine_max_rows: int = Field(
        default=10_000,
        ge=1,
        description="Quarantined messages kept at most; past it the oldest are deleted first.",
    )


class IngestConfig(_Section):
    batch_max: int = Field(default=2000, ge=1, le=100_000)
    batch_wait_s: float = Field(default=0.2, ge=0, le=10)
    invalid_log_every_s: float = Field(
        default=60.0, gt=0, description="Log an agent's invalid messages at most this often."
    )
    dedupe_keep_days: float = Field(default=14.0, gt=0)
    dedupe_prune_every_s: float = Field(
        default=3600.0, gt=0, description="How often (agent, seq) pairs older than that go."
    )
    limits: IngestLimits = Field(default_factory=IngestLimits)


class GroupConfig(_Section):
    """A collector group on PostgreSQL (docs/scaling.md): agents hashed into ``partitions``,
    each leased to one member and served through its own broker account and session
    (``<mqtt.username>-p000`` .. ``-pNNN``, all with ``mqtt.password``)."""

    enabled: bool = False
    partitions: int = Field(
        default=16,
        ge=1,
        le=999,
        description="Fixed for the life of the group: changing it moves agents between "
        "sessions (stop every member first).",
    )
    lease_s: float | None = Field(
        default=None,
        gt=0,
        description="How long a lease lasts unrenewed; a dead member's partitions are taken "
        "within lease_s x 4/3. Default: mqtt.keepalive_s.",
    )


class CollectorConfig(_Section):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    timezone: str = "Asia/Shanghai"
    mqtt: CollectorMqtt = Field(default_factory=CollectorMqtt)
    tsdb: TsdbConfig = Field(default_factory=TsdbConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    inventory_file: Path | None = Field(
        default=None, description="Sites, rooms, agents and devices (see examples/inventory.yaml)."
    )
    faults: FaultsConfig = Field(default_factory=FaultsConfig)
    sla: SlaConfig = Field(default_factory=SlaConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    readiness: ReadinessConfig = Field(
        default_factory=ReadinessConfig, description="The pre-class readiness check."
    )
    group: GroupConfig = Field(default_factory=GroupConfig)

    @model_validator(mode="after")
    def _group_needs_postgresql(self) -> CollectorConfig:
        # Leases are rows every member must see: one SQLite file cannot be shared that way.
        if self.group.enabled and not self.database.url.startswith("postgresql"):
            raise ValueError(
                "group.enabled needs database.url on PostgreSQL (postgresql+psycopg://)"
            )
        if self.group.lease_s is None:
            self.group.lease_s = float(self.mqtt.keepalive_s)
        return self


def load_config(path: Path) -> CollectorConfig:
    """Read and validate a collector config; raise ConfigError with file, key and reason."""
    config = load_yaml_model(path, CollectorConfig)
    base = Path(path).resolve().parent
    if config.inventory_file is not None and not config.inventory_file.is_absolute():
        config.inventory_file = base / config.inventory_file
    config.sla.files = [p if p.is_absolute() else base / p for p in config.sla.files]
    config.faults.rules_files = [
        p if p.is_absolute() else base / p for p in config.faults.rules_files
    ]
    return config

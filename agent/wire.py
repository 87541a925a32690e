"""The wire contract between room agents and collectors.

Every topic string and payload type of roomwatch's MQTT protocol lives here; the collector
imports this module and nothing else spells a topic. See ``docs/protocol.md``.

Topics are ``roomwatch/v1/<agent_id>/<kind>``. The MQTT username of an agent is its agent
id, so one broker ACL line (``pattern write roomwatch/v1/%u/#``) stops one agent from
publishing as another.

Every message carries the protocol version ``v``, the agent id, a sequence number that only
grows for that agent (across restarts) and the sample time. Delivery is at-least-once; the
collector stores each (agent, seq) once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

PROTOCOL_VERSION = 1
TOPIC_PREFIX = "roomwatch/v1"

AGENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
DEVICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
METRIC_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_AGENT_ID_RE = re.compile(AGENT_ID_PATTERN)
# The collector stores (agent, seq) in a signed 64-bit column (BIGINT on PostgreSQL, INTEGER
# on SQLite): a larger seq could never be stored, so it is not a valid message.
SEQ_MAX = 2**63 - 1

AgentId = Annotated[str, Field(pattern=AGENT_ID_PATTERN)]
DeviceId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
MetricName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]
LabelValue = Annotated[str, Field(max_length=128)]


class Kind(StrEnum):
    """The kinds of message, the last level of every topic."""

    METRICS = "metrics"
    EVENTS = "events"
    STATUS = "status"
    INVENTORY = "inventory"


QOS_BY_KIND = {Kind.METRICS: 1, Kind.EVENTS: 1, Kind.STATUS: 1, Kind.INVENTORY: 1}
RETAINED_KINDS = frozenset({Kind.STATUS, Kind.INVENTORY})


class WireError(ValueError):
    """A topic or payload does not follow the wire contract."""


def topic(agent_id: str, kind: Kind) -> str:
    """The topic an agent publishes ``kind`` messages on."""
    if not _AGENT_ID_RE.match(agent_id):
        raise WireError(f"agent id {agent_id!r} does not match {AGENT_ID_PATTERN}")
    return f"{TOPIC_PREFIX}/{agent_id}/{kind.value}"


def parse_topic(name: str) -> tuple[str, Kind]:
    """Split a topic into (agent id, kind); raise WireError for anything else."""
    parts = name.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != TOPIC_PREFIX:
        raise WireError(f"topic {name!r} is not {TOPIC_PREFIX}/<agent>/<kind>")
    agent_id, kind = parts[2], parts[3]
    if not _AGENT_ID_RE.match(agent_id):
        raise WireError(f"topic {name!r} has an invalid agent id")
    try:
        return agent_id, Kind(kind)
    except ValueError:
        raise WireError(f"topic {name!r} has an unknown kind {kind!r}") from None


def subscriptions() -> list[str]:
    """Topic filters a lone collector subscribes to: every agent's messages."""
    return [f"{TOPIC_PREFIX}/+/{kind.value}" for kind in Kind]


def agent_subscription(agent_id: str) -> str:
    """The topic filter of one agent's messages, every kind (a collector group subscribes
    each partition's session to its agents by name: a filter cannot say "hash mod N")."""
    if not _AGENT_ID_RE.match(agent_id):
        raise WireError(f"agent id {agent_id!r} does not match {AGENT_ID_PATTERN}")
    return f"{TOPIC_PREFIX}/{agent_id}/+"


# The broker ACL line that lets an agent write only under its own id (username = agent id).
AGENT_ACL_PATTERN = f"pattern write {TOPIC_PREFIX}/%u/#"
COLLECTOR_ACL_READ = f"topic read {TOPIC_PREFIX}/#"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Envelope(_Strict):
    """Fields every message carries."""

    v: Literal[1] = 1
    agent: AgentId
    seq: int = Field(
        ge=0,
        le=SEQ_MAX,
        description="Grows for every message of this agent, never reused.",
    )
    ts: AwareDatetime = Field(description="Sample time (RFC 3339 with offset).")


class TableRow(_Strict):
    """One row of a device table (an interface, a disk, a storage entry)."""

    labels: dict[MetricName, LabelValue] = Field(
        description="Index labels of the row, e.g. {'ifname': 'port3'}."
    )
    metrics: dict[MetricName, float]


class DeviceSample(_Strict):
    """What one poll cycle measured on one device (the PC itself is the device ``host``)."""

    device: DeviceId
    kind: Annotated[str, Field(pattern=METRIC_NAME_PATTERN)] = Field(
        description="camera, encoder, switch, ups, nas, audio, projector, host, agent, ..."
    )
    model: str | None = None
    reachable: bool
    rtt_ms: float | None = Field(default=None, ge=0)
    error: str | None = Field(default=None, description="Why the device was not read.")
    metrics: dict[MetricName, float] = Field(default_factory=dict)
    tables: dict[MetricName, list[TableRow]] = Field(default_factory=dict)


class MetricsMessage(Envelope):
    """One message per poll cycle: the host, every device, the agent's own counters."""

    type: Literal["metrics"] = "metrics"
    interval_s: float = Field(gt=0)
    devices: list[DeviceSample]


class Event(_Strict):
    """Something that happened: a trap, a process starting or stopping, a state change."""

    device: DeviceId
    type: Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]
    text: str = Field(default="", max_length=2000)
    attrs: dict[MetricName, str | float] = Field(default_factory=dict)
    at: AwareDatetime


class EventsMessage(Envelope):
    type: Literal["events"] = "events"
    events: list[Event]


class StatusMessage(Envelope):
    """Retained; ``online`` on connect, ``offline`` as the Last Will or on a clean stop."""

    type: Literal["status"] = "status"
    state: Literal["online", "offline"]
    agent_version: str
    reason: str = ""


class DeviceInfo(_Strict):
    device: DeviceId
    kind: Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]
    address: str | None = None
    profile: str | None = None
    model: str | None = None
    vendor: str | None = None
    firmware: str | None = None
    sys_descr: str | None = None
    parent: DeviceId | None = Field(default=None, description="The device this one hangs on.")


class InventoryMessage(Envelope):
    """Retained; what the agent knows about itself and its room's devices."""

    type: Literal["inventory"] = "inventory"
    agent_version: str
    hostname: str
    site_hint: str | None = Field(default=None, description="Informative only.")
    room_hint: str | None = Field(default=None, description="Informative only.")
    devices: list[DeviceInfo]


Message = Annotated[
    MetricsMessage | EventsMessage | StatusMessage | InventoryMessage,
    Field(discriminator="type"),
]
_MESSAGE_ADAPTER: TypeAdapter[Any] = TypeAdapter(Message)
_CLASS_BY_KIND: dict[Kind, type[Envelope]] = {
    Kind.METRICS: MetricsMessage,
    Kind.EVENTS: EventsMessage,
    Kind.STATUS: StatusMessage,
    Kind.INVENTORY: InventoryMessage,
}


def encode(message: Envelope) -> bytes:
    """Serialise a message to its JSON payload."""
    return message.model_dump_json(exclude_none=True).encode()


def decode(
    topic_name: str, payload: bytes
) -> MetricsMessage | EventsMessage | StatusMessage | InventoryMessage:
    """Parse and validate a payload received on ``topic_name``.

    Raises WireError when the topic, the JSON, the version or any field is wrong, or when the
    payload's agent id or type does not match the topic. Parsing is strict: a value of the
    wrong JSON type (``"7"`` for a number, ``"yes"`` or ``1`` for a boolean) is an error,
    never converted.
    """
    agent_id, kind = parse_topic(topic_name)
    try:
        message = _CLASS_BY_KIND[kind].model_validate_json(payload, strict=True)
    except ValidationError as exc:
        raise WireError(_summarise(exc)) from None
    if message.agent != agent_id:
        raise WireError(f"payload agent {message.agent!r} differs from topic agent {agent_id!r}")
    return message  # type: ignore[return-value]


def _summarise(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def now() -> datetime:
    """Current time in UTC; the default clock of payload timestamps."""
    return datetime.now(UTC)


def json_schema() -> dict[str, Any]:
    """JSON Schema of every payload, generated from the types above (docs/protocol.md)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"roomwatch wire protocol v{PROTOCOL_VERSION}",
        "topics": {kind.value: f"{TOPIC_PREFIX}/<agent_id>/{kind.value}" for kind in Kind},
        **_MESSAGE_ADAPTER.json_schema(ref_template="#/$defs/{model}"),
    }

"""Response schemas: what the API promises its clients (and what OpenAPI shows).

Levels travel as the int the plan numbers them with, plus labels from ``Level``. Nothing
here carries a secret: agents show id, version, host name and state only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from roomwatch.collector.levels import Level

# updated_by of a setting every site shares (auth.Principal.editor_shown decides who sees it)
EDITOR_SHOWN = "Who changed it last: shown to admins, null for other roles"


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


def _label(level: int | None, lang: str) -> str | None:
    return None if level is None else Level(level).label(lang)


class FieldProblem(BaseModel):
    loc: list[str] = Field(description="Where: body, query, path or header, then the field")
    message: str


class ErrorOut(BaseModel):
    """Every error's body (``collector.api.error_responses``)."""

    error: str = Field(description="Machine-readable code: not_found, invalid_request, ...")
    detail: str = Field(description="What went wrong, for people")
    problems: list[FieldProblem] | None = Field(
        default=None, description="422 invalid_request only: one entry per wrong field"
    )


class AgentOut(_Out):
    id: str
    online: bool
    last_seen_at: datetime | None
    status_changed_at: datetime | None
    version: str | None
    hostname: str | None


class RoomOut(_Out):
    id: str
    name: str
    building: str | None
    site_id: str
    site_name: str
    agents: list[AgentOut]
    device_count: int
    unreachable_count: int
    open_fault_count: int
    worst_open_level: int | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def online(self) -> bool | None:
        """True when every agent of the room is online; None for a room without an agent."""
        return all(a.online for a in self.agents) if self.agents else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def worst_open_level_label(self) -> str | None:
        return _label(self.worst_open_level, "en")


class DeviceStateOut(_Out):
    reachable: bool
    rtt_ms: float | None
    error: str | None
    sampled_at: datetime
    metrics: dict[str, float | None]
    tables: dict[str, Any]


class DeviceOut(_Out):
    id: str
    kind: str
    model: str | None
    vendor: str | None
    firmware: str | None
    address: str | None
    parent: str | None
    procured: bool
    source: str
    state: DeviceStateOut | None


class FaultOut(_Out):
    id: int
    rule_id: str
    target: str
    room_id: str | None
    device: str | None
    agent_id: str | None
    level: int
    status: str
    title: str
    description: str
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    fire_count: int
    source: str = "rule"
    flapping: bool = False
    assignee: str | None = None
    remote_sessions: int = 0
    on_site_visits: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def level_label(self) -> str:
        return Level(self.level).label("en")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def level_label_zh(self) -> str:
        return Level(self.level).label("zh")


class RoomDetailOut(_Out):
    room: RoomOut
    devices: list[DeviceOut]
    open_faults: list[FaultOut]


class FaultPageOut(_Out):
    total: int
    limit: int
    offset: int
    items: list[FaultOut]


class HealthOut(BaseModel):
    status: str
    database: str

"""Request and response schemas of the fault workflow, rules, maintenance windows and users.

No schema here carries a password hash or a token hash; a token's secret appears only in
``TokenIssuedOut``, the response that creates it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from roomwatch.collector.api.schemas import EDITOR_SHOWN, FaultOut
from roomwatch.collector.levels import Level
from roomwatch.collector.rules.model import Condition, Selector
from roomwatch.collector.workflow.logbook import LogEntry

MAX_TOKEN_DAYS = 3650  # ten years: longer is "never", which is what no expiry says
MAX_SESSION_MIN = 31 * 24 * 60  # a remote session longer than a month is a typo

StatusName = Literal[
    "open",
    "acknowledged",
    "on_site",
    "waiting_customer",
    "waiting_parts",
    "resolved",
    "closed",
]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- faults --------------------------------------------------------------------------------


class FaultEventOut(_Out):
    id: int
    at: datetime
    type: str
    actor: str
    detail: dict[str, Any]


class SuppressedOut(_Out):
    id: int
    rule_id: str
    target: str
    room_id: str | None
    level: int
    title: str
    reason: str
    root_fault_id: int | None
    window_id: int | None
    first_at: datetime
    last_at: datetime
    fire_count: int
    ended_at: datetime | None
    outcome: str | None
    fault_id: int | None
    evidence: dict[str, Any]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def active(self) -> bool:
        return self.ended_at is None


class MaintenanceLogOut(_Out):
    phenomenon: str
    cause: str
    solution: str
    engineer: str
    parts_replaced: list[dict[str, Any]]
    spares_used: list[dict[str, Any]]
    recorded_by: str
    recorded_at: datetime
    updated_at: datetime


class SurveyOut(_Out):
    id: int
    fault_id: int
    reason: str
    due_at: datetime
    sent_at: datetime | None
    sent_by: str | None
    channel: str | None
    answered_at: datetime | None
    score: int | None
    comment: str


class FaultDetailOut(FaultOut):
    source: str
    reporter: str | None
    assignee: str | None
    flapping: bool
    clear_since: datetime | None
    remote_sessions: int
    on_site_visits: int
    acknowledged_at: datetime | None
    closed_at: datetime | None
    evidence: dict[str, Any]
    allowed_transitions: list[str]
    events: list[FaultEventOut]
    suppressed: list[SuppressedOut] = Field(
        description="Firings of devices behind this fault, recorded instead of opened."
    )
    log: MaintenanceLogOut | None
    survey: SurveyOut | None
    sla_clocks: list[dict[str, Any]] | None = Field(
        default=None, description="The SLA clocks, when the SLA engine is installed."
    )


class ManualFaultIn(_In):
    room_id: str
    device: str | None = None
    level: Level
    title: str = Field(min_length=1, max_length=300)
    description: str = ""
    reporter: str = Field(min_length=1, max_length=200, description="Who reported it.")
    channel: str = Field(default="phone", max_length=32)


class NoteIn(_In):
    note: str = Field(default="", max_length=2000)


class TransitionIn(_In):
    to: StatusName
    note: str = Field(default="", max_length=2000)
    log: LogEntry | None = Field(
        default=None, description="The maintenance log; required to resolve or close."
    )


class LevelIn(_In):
    level: Level
    note: str = Field(min_length=1, max_length=2000, description="Why: what the diagnosis showed.")


class CloseIn(_In):
    note: str = Field(default="", max_length=2000)
    log: LogEntry | None = None


class RemoteSessionIn(_In):
    note: str = Field(default="", max_length=2000)
    duration_min: float | None = Field(default=None, ge=0, le=MAX_SESSION_MIN)


class SurveySentIn(_In):
    channel: str = Field(default="phone", max_length=32)


class SurveyAnswerIn(_In):
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=4000)


# --- rules ---------------------------------------------------------------------------------


class RuleOut(BaseModel):
    id: str
    level: int
    outside_class_level: int | None = None
    title: str
    description: str
    enabled: bool
    kind: Literal["metric", "event"]
    metric: str | None
    compute: str
    when: dict[str, Any] | None
    clear: dict[str, Any] | None
    for_s: float
    selector: dict[str, Any]
    suppresses_dependents: bool
    overridden: bool = False
    override: dict[str, Any] | None = None


class RuleOverrideIn(_In):
    """Fields of the rule to change for the site; omitted fields keep the pack's value."""

    enabled: bool | None = None
    level: Level | None = None
    outside_class_level: Level | None = None
    when: Condition | None = None
    clear: Condition | None = None
    for_s: float | None = Field(default=None, ge=0)
    selector: Selector | None = None


class RuleOverrideOut(_Out):
    rule_id: str
    site_id: str
    changes: dict[str, Any]
    updated_by: str | None = Field(description=EDITOR_SHOWN)
    updated_at: datetime


# --- maintenance windows and statistics ---------------------------------------------------


class WindowOut(_Out):
    id: int
    name: str
    reason: str
    kind: str
    site_id: str | None
    room_id: str | None
    device: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    weekdays: list[int]
    start_time: str | None
    end_time: str | None
    date_from: date | None
    date_to: date | None
    enabled: bool
    created_by: str
    created_at: datetime
    active_now: bool = False


class MaintenanceStatOut(_Out):
    key: str
    room_id: str | None
    device: str | None
    kind: str | None
    model: str | None
    faults: int
    by_level: dict[int, int]
    closed: int
    with_log: int
    parts_replaced: int
    downtime_s: float


# --- users ---------------------------------------------------------------------------------


class UserOut(_Out):
    id: int
    username: str
    display_name: str
    role: str
    active: bool
    created_at: datetime


class UserIn(_In):
    username: str
    role: Literal["viewer", "school", "engineer", "admin"]
    password: str | None = Field(default=None, min_length=8, max_length=200)
    display_name: str = Field(default="", max_length=200)


class UserPatchIn(_In):
    role: Literal["viewer", "school", "engineer", "admin"] | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=200)
    display_name: str | None = Field(default=None, max_length=200)


class TokenIn(_In):
    name: str = Field(default="", max_length=100)
    expires_days: float | None = Field(default=None, gt=0, le=MAX_TOKEN_DAYS)


class TokenOut(_Out):
    id: int
    kind: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIssuedOut(BaseModel):
    token: str = Field(description="The secret; shown this once, only its hash is stored.")
    info: TokenOut


class LoginIn(_In):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)


class MeOut(BaseModel):
    username: str
    display_name: str
    role: str
    via: str
    sites: list[str] | None = Field(default=None, description="Bound sites; null: every site")

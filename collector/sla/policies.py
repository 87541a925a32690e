"""SLA policies as data: per level, the deadlines of the respond / on-site / fix / replace
clocks, the working hours their working time counts, the escalation chain and which
transitions notify.

The same models validate the shipped ``policies.yaml``, a site's own SLA file and the
documents the admin API accepts; SQL stores them as rows (``collector.db.sla_store``).
"""

from __future__ import annotations

import itertools
from datetime import date, time
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from roomwatch.agent.errors import ConfigError
from roomwatch.agent.yamlconfig import load_yaml_model
from roomwatch.collector.levels import Level
from roomwatch.collector.sla.durations import Span, parse_span

Kind = Literal["respond", "on_site", "fix", "replace"]
KINDS: tuple[Kind, ...] = ("respond", "on_site", "fix", "replace")
LevelKey = Literal["L1", "L2", "L3", "L4"]
Start = Literal["opened", "respond_breached", "on_site_breached", "fix_breached"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Transitions a policy notifies on: "opened", a status ("acknowledged", "resolved", ...),
# any other transition name the lifecycle reports, or "*" for every one.
NotifyOn = Annotated[str, Field(pattern=r"^(\*|[a-z][a-z0-9_]{0,31})$")]

SpanField = Annotated[
    Span,
    PlainValidator(parse_span),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["30m", "2h", "4 working hours"]}),
]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]

SHIPPED_FILE = "policies.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeadlineSpec(_Strict):
    """One clock of one level: ``within`` from ``starts`` (the fault opening by default)."""

    within: SpanField
    starts: Start = "opened"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"within": data} if isinstance(data, str | Span) else data


class WorkingHoursSpec(_Strict):
    """Which hours count as working time: the same hours on every working day (a 调休
    make-up working day included). ``hours`` may hold several ranges (a lunch break)."""

    weekdays: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    hours: list[str] = Field(default_factory=lambda: ["08:30-17:30"])

    @field_validator("hours")
    @classmethod
    def _ranges(cls, value: list[str]) -> list[str]:
        ranges = [_parse_range(text) for text in value]
        if not ranges:
            raise ValueError("at least one range of working hours is needed")
        for (_, end), (start, _) in itertools.pairwise(ranges):
            if start < end:
                raise ValueError("ranges must be in order and must not overlap")
        return value

    @field_validator("weekdays")
    @classmethod
    def _some_day(cls, value: list[Weekday]) -> list[Weekday]:
        if not value:
            raise ValueError("at least one working weekday is needed")
        return value

    def ranges(self) -> list[tuple[time, time]]:
        return [_parse_range(text) for text in self.hours]

    def weekday_numbers(self) -> frozenset[int]:
        """Monday = 0, as ``date.weekday()`` counts."""
        return frozenset(WEEKDAYS.index(day) for day in self.weekdays)

    @property
    def working_day_s(self) -> float:
        """The length of one working day: what "1 working day" means in working time."""
        return float(sum(_seconds(end) - _seconds(start) for start, end in self.ranges()))


class EscalationStepSpec(_Strict):
    """Notify ``role`` ``before`` a clock's deadline (``when: warning``) or ``after`` it
    (``when: breach``; right at the breach without ``after``). Both spans are wall-clock."""

    role: RoleName
    when: Literal["warning", "breach"]
    before: SpanField | None = None
    after: SpanField | None = None
    kinds: list[Kind] | None = Field(default=None, description="Clocks it watches; all if unset.")

    @model_validator(mode="after")
    def _consistent(self) -> EscalationStepSpec:
        if self.when == "warning" and (self.before is None or self.after is not None):
            raise ValueError("a warning step needs 'before' (the lead time) and no 'after'")
        if self.when == "breach" and self.before is not None:
            raise ValueError("a breach step takes 'after', not 'before'")
        for span in (self.before, self.after):
            if span is not None and span.measure != "wall":
                raise ValueError("escalation lead times are wall-clock durations")
        return self

    def offset_s(self) -> float:
        """Seconds from the deadline to this step: negative before it."""
        if self.before is not None:
            return -self.before.seconds(0)
        return self.after.seconds(0) if self.after is not None else 0.0


def _default_steps() -> list[EscalationStepSpec]:
    return [
        EscalationStepSpec(role="engineer_on_duty", when="warning", before=parse_span("15m")),
        EscalationStepSpec(role="project_lead", when="breach"),
        EscalationStepSpec(role="senior_engineer", when="breach", after=parse_span("2h")),
        EscalationStepSpec(role="management", when="breach", after=parse_span("8h")),
    ]


class EscalationSpec(_Strict):
    """The chain of a contract. A logged complaint goes to ``complaint_from`` or, when the
    fault already reached it, to the next role up the chain (up to the last)."""

    steps: list[EscalationStepSpec] = Field(default_factory=_default_steps)
    complaint_from: RoleName = "project_lead"

    @model_validator(mode="after")
    def _known_complaint_role(self) -> EscalationSpec:
        if self.complaint_from not in self.chain():
            raise ValueError(f"complaint_from {self.complaint_from!r} is not a role of the steps")
        return self

    def chain(self) -> list[str]:
        """The roles in escalation order, each once."""
        return list(dict.fromkeys(step.role for step in self.steps))


class PolicyDoc(_Strict):
    """One SLA policy (a contract's service levels)."""

    id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    working_hours: WorkingHoursSpec = Field(default_factory=WorkingHoursSpec)
    levels: dict[LevelKey, dict[Kind, DeadlineSpec]]
    escalation: EscalationSpec = Field(default_factory=EscalationSpec)
    notify_on: list[NotifyOn] = Field(default_factory=lambda: ["*"])

    @model_validator(mode="after")
    def _starts_exist(self) -> PolicyDoc:
        for level, deadlines in self.levels.items():
            for kind, spec in deadlines.items():
                if spec.starts == "opened":
                    continue
                after = spec.starts.removesuffix("_breached")
                if after == kind or after not in deadlines:
                    raise ValueError(
                        f"levels.{level}.{kind}.starts: {spec.starts} needs a {after} "
                        f"deadline on {level}"
                    )
        return self

    def notifies(self, transition: str) -> bool:
        return "*" in self.notify_on or transition in self.notify_on

    def deadlines(self, level: int | Level) -> dict[str, DeadlineSpec]:
        """The clocks of a level (empty when the policy has none for it)."""
        return dict(self.levels.get(f"L{int(level)}", {}))  # type: ignore[call-overload]


class SitePolicyDoc(_Strict):
    site: Identifier
    policy: Identifier
    note: str = ""


class OverrideDoc(_Strict):
    """A date the calendar treats as a holiday (``working: false``) or a working day."""

    date: date
    working: bool
    note: str = ""


class ContactDoc(_Strict):
    """A person of an escalation chain; ``site`` unset = for every site."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: RoleName
    site: Identifier | None = None
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    phone: str | None = None
    channels: list[Identifier] = Field(
        default_factory=list, description="Extra channels (webhook names) that reach this person."
    )
    note: str = ""


class PolicyFile(_Strict):
    """An SLA data file: the shipped one holds policies; a site's may add the rest."""

    default_policy: Identifier | None = None
    policies: list[PolicyDoc] = Field(default_factory=list)
    sites: list[SitePolicyDoc] = Field(default_factory=list)
    calendar_overrides: list[OverrideDoc] = Field(default_factory=list)
    contacts: list[ContactDoc] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> PolicyFile:
        for what, keys in (
            ("policy id", [p.id for p in self.policies]),
            ("site", [s.site for s in self.sites]),
            ("calendar override date", [str(o.date) for o in self.calendar_overrides]),
        ):
            dupes = sorted({k for k in keys if keys.count(k) > 1})
            if dupes:
                raise ValueError(f"duplicate {what}: {', '.join(dupes)}")
        return self


def load_policy_file(path: Path) -> PolicyFile:
    """Validate an SLA data file; ConfigError names the file, the key and the reason."""
    return load_yaml_model(path, PolicyFile)


@lru_cache(maxsize=1)
def shipped_policies() -> PolicyFile:
    """The policies roomwatch ships (``collector/sla/policies.yaml``), read once."""
    with resources.as_file(resources.files("roomwatch.collector.sla") / SHIPPED_FILE) as path:
        loaded = load_policy_file(path)
    if not loaded.policies:
        raise ConfigError(f"{path}: the shipped SLA file holds no policy")
    return loaded


def _parse_range(text: str) -> tuple[time, time]:
    try:
        start_text, end_text = (part.strip() for part in text.split("-"))
        start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    except ValueError:
        raise ValueError(f"not a range of hours: {text!r} (expected e.g. 08:30-17:30)") from None
    if end <= start:
        raise ValueError(f"a range of hours must end after it starts: {text!r}")
    return start, end


def _seconds(moment: time) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second

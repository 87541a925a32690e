"""Fault rules as data: what a YAML rule says, validated strictly.

A *metric rule* watches one metric of the devices its selector picks (a scalar metric, or a
column of a device table such as ``disk.used_pct``, evaluated per row). What it compares is
the value itself or something computed from its recent history (``compute``: a rate per
hour, the number of changes in a window, a ratio to another metric, the fraction of the
highest value seen, the age of the last sample carrying it, the days until a percentage
reaches 100 on the least-squares trend of the window). It fires when its condition has
held for ``for_s`` and clears when its clear condition holds (hysteresis); ``where`` guards
must hold too, or the rule counts as clear.

An *event rule* fires on an agent event (an SNMP trap, a process stopping) that matches its
``event`` and clears on one matching its ``clear_event``. See docs/rules.md.
"""

from __future__ import annotations

import operator
import string
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roomwatch.agent.errors import ConfigError
from roomwatch.agent.wire import METRIC_NAME_PATTERN
from roomwatch.agent.yamlconfig import load_yaml_model
from roomwatch.collector.errors import RuleError
from roomwatch.collector.levels import Level

Op = Literal[">", ">=", "<", "<=", "==", "!=", "in", "not_in"]
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_NEGATION: dict[str, Op] = {
    ">": "<=",
    ">=": "<",
    "<": ">=",
    "<=": ">",
    "==": "!=",
    "!=": "==",
    "in": "not_in",
    "not_in": "in",
}
MetricRef = Annotated[str, Field(pattern=r"^([a-z][a-z0-9_]*\.)?[a-z][a-z0-9_]*$")]
ColumnName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]
Compute = Literal[
    "value", "rate_per_h", "changes", "ratio", "fraction_of_max", "age_s", "days_to_full"
]
# Computations that need the sample time and remember earlier values.
HISTORY_COMPUTES = frozenset({"rate_per_h", "changes", "fraction_of_max", "age_s", "days_to_full"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selector(_Strict):
    """Which devices a rule applies to; an empty list means any."""

    kinds: list[Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]] = Field(default_factory=list)
    exclude_kinds: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    devices: list[str] = Field(default_factory=list)
    rooms: list[str] = Field(default_factory=list)
    sites: list[str] = Field(default_factory=list)
    exclude_sites: list[str] = Field(default_factory=list)

    def matches(
        self, kind: str, model: str | None, device: str, room: str, site: str | None = None
    ) -> bool:
        return (
            (not self.kinds or kind in self.kinds)
            and kind not in self.exclude_kinds
            and (not self.models or (model or "") in self.models)
            and (not self.devices or device in self.devices)
            and (not self.rooms or room in self.rooms)
            and (not self.sites or site in self.sites)
            and (site is None or site not in self.exclude_sites)
        )


class Condition(_Strict):
    """``op`` against ``value``; ``in`` / ``not_in`` against ``values`` (enum states)."""

    op: Op
    value: float | None = None
    values: list[float] = Field(default_factory=list)

    @model_validator(mode="after")
    def _operand_given(self) -> Condition:
        if self.op in ("in", "not_in"):
            if not self.values or self.value is not None:
                raise ValueError(f"op {self.op!r} takes 'values' (a list), not 'value'")
        elif self.value is None or self.values:
            raise ValueError(f"op {self.op!r} takes 'value' (a number), not 'values'")
        return self

    def holds(self, observed: float) -> bool:
        if self.op == "in":
            return observed in self.values
        if self.op == "not_in":
            return observed not in self.values
        assert self.value is not None
        return OPERATORS[self.op](observed, self.value)

    def negated(self) -> Condition:
        return Condition(op=_NEGATION[self.op], value=self.value, values=list(self.values))

    def probes(self) -> list[float]:
        return list(self.values) if self.value is None else [self.value]


class Guard(Condition):
    """Another metric of the same row (or device) that must hold for the rule to apply."""

    metric: ColumnName


class EventMatch(_Strict):
    """An agent event of ``type`` whose attributes include every pair of ``attrs``."""

    type: Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]
    attrs: dict[str, str | float] = Field(default_factory=dict)
    text_contains: str | None = None

    def matches(self, event_type: str, text: str, attrs: dict[str, str | float]) -> bool:
        if event_type != self.type:
            return False
        if self.text_contains is not None and self.text_contains not in text:
            return False
        return all(_same(attrs.get(key), want) for key, want in self.attrs.items())


def _same(have: str | float | None, want: str | float) -> bool:
    if have is None:
        return False
    if isinstance(want, str) or isinstance(have, str):
        return str(have) == str(want)
    return float(have) == float(want)


class FlapPolicy(_Strict):
    """One incident that comes and goes stays one fault.

    A (rule, target) firing again within ``reopen_s`` of its fault's resolution reopens that
    fault (event ``reopened``, no new notification). When the fault changed state (opened,
    resolved, reopened) ``transitions`` times within ``window_s`` it is marked flapping and
    held: it resolves only after staying clear for ``hold_s``."""

    reopen_s: float = Field(default=600.0, ge=0)
    transitions: int = Field(default=4, ge=2)
    window_s: float = Field(default=1800.0, gt=0)
    hold_s: float = Field(default=600.0, ge=0)


# Consecutive firing polls a rule needs before it opens a fault, unless it says otherwise:
# a rule that can page (L1/L2) never opens on a single poll. Event rules (traps) open on
# the event itself.
DEFAULT_GUARD_POLLS = {Level.L1: 2, Level.L2: 2, Level.L3: 1, Level.L4: 1}


class Rule(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,99}$")]
    level: Level
    outside_class_level: Level | None = Field(
        default=None,
        description="Opens at this (less urgent) level while the room's timetable has no "
        "class, and is raised to 'level' once a class is scheduled (collector.timetable). "
        "A room without a timetable is always in class.",
    )
    title: str = Field(
        description="Template: {device}, {room}, {value}, {label}, row labels and evidence."
    )
    description: str = ""
    selector: Selector = Field(default_factory=Selector)
    metric: MetricRef | None = Field(
        default=None, description="'name' or 'table.column' (evaluated per row)."
    )
    compute: Compute = "value"
    window_s: float | None = Field(default=None, gt=0)
    ratio_to: ColumnName | None = None
    where: list[Guard] = Field(default_factory=list)
    when: Condition | None = None
    clear: Condition | None = Field(default=None, description="Default: the negation of when.")
    for_s: float = Field(default=0.0, ge=0, alias="for")
    for_polls: int | None = Field(
        default=None,
        ge=1,
        description="Consecutive firing polls before a fault opens (with 'for', both must "
        "hold). Default: 2 for L1/L2 rules, 1 for L3/L4 (DEFAULT_GUARD_POLLS).",
    )
    concern: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,99}$")] | None = Field(
        default=None,
        description="Rules sharing a concern form a ladder: one fault per (concern, target) "
        "whose level follows the most urgent rung firing (filling → nearly full).",
    )
    recovery_grace_s: dict[str, float] = Field(
        default_factory=dict,
        description="With suppresses_dependents: when this rule's fault on a device resolves, "
        "the devices behind it get this long (by their kind; key 'default' for any other) "
        "before their own faults may open (cameras booting after their PoE switch).",
    )
    event: EventMatch | None = None
    clear_event: EventMatch | None = None
    event_labels: list[ColumnName] = Field(
        default_factory=list, description="Event attributes that name the fault's target row."
    )
    evidence_metrics: list[ColumnName] = Field(
        default_factory=list,
        alias="evidence",
        description="Other metrics of the same row or device attached to the fault.",
    )
    inhibited_by: list[str] = Field(
        default_factory=list, description="Rule ids that, firing on the same target, mute this one."
    )
    suppresses_dependents: bool = Field(
        default=False,
        description="While a fault of this rule is active on a device, faults of the devices "
        "behind it (room graph) are recorded as suppressed instead of opened.",
    )
    flapping: FlapPolicy | None = Field(default=None, description="Default: the tracker's.")
    enabled: bool = True

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def is_event_rule(self) -> bool:
        return self.event is not None

    @property
    def table(self) -> str | None:
        if self.metric is None or "." not in self.metric:
            return None
        return self.metric.split(".", 1)[0]

    @property
    def column(self) -> str:
        return (self.metric or "").rsplit(".", 1)[-1]

    @property
    def fault_key_name(self) -> str:
        """What names this rule's faults in their key: its concern (ladder) or its id."""
        return self.concern or self.id

    @property
    def guard_polls(self) -> int:
        if self.is_event_rule:
            return 1
        return self.for_polls if self.for_polls is not None else DEFAULT_GUARD_POLLS[self.level]

    def grace_for(self, kind: str) -> float:
        """Seconds a dependent of ``kind`` waits after this rule's fault resolved."""
        return self.recovery_grace_s.get(kind, self.recovery_grace_s.get("default", 0.0))

    @property
    def when_condition(self) -> Condition:
        return self.when or Condition(op="==", value=1)

    @property
    def clear_condition(self) -> Condition:
        return self.clear or self.when_condition.negated()

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        check_title(self.id, self.title)
        if self.outside_class_level is not None and self.outside_class_level <= self.level:
            raise ValueError(
                f"rule {self.id}: 'outside_class_level' must be less urgent than 'level' "
                f"(L{int(self.level)})"
            )
        if self.event is not None:
            if self.metric is not None or self.when is not None:
                raise ValueError(f"rule {self.id}: an event rule has no 'metric' or 'when'")
            return self
        if self.metric is None or self.when is None:
            raise ValueError(f"rule {self.id}: give 'metric' and 'when' (or 'event')")
        if self.clear_event is not None or self.event_labels:
            raise ValueError(f"rule {self.id}: 'clear_event' and 'event_labels' need 'event'")
        if self.compute in ("rate_per_h", "changes", "days_to_full") and self.window_s is None:
            raise ValueError(f"rule {self.id}: compute {self.compute!r} needs 'window_s'")
        if (self.compute == "ratio") != (self.ratio_to is not None):
            raise ValueError(f"rule {self.id}: 'ratio_to' goes with compute 'ratio' only")
        clear = self.clear_condition
        probes = self.when.probes() + clear.probes()
        if any(self.when.holds(v) and clear.holds(v) for v in probes):
            raise ValueError(
                f"rule {self.id}: 'when' and 'clear' both hold at the same value; "
                "a clear condition must exclude the firing range"
            )
        return self


def check_title(rule_id: str, title: str) -> None:
    """Refuse a title template that cannot be filled: bad syntax, attribute or index access
    (``{device.name}``, ``{value[0]}``), a format spec that fits no number (``{value:d}``).

    Titles are filled inside the ingest transaction; one that raises there would get every
    message on which the rule fires quarantined."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(title) if name is not None]
    except ValueError as exc:
        raise ValueError(f"rule {rule_id}: title {title!r}: {exc}") from None
    for name in fields:
        if not name.isidentifier():
            raise ValueError(
                f"rule {rule_id}: title field {{{name}}}: only plain names are allowed "
                "(no attributes, indexes or positional fields), e.g. {device} or {value}"
            )
    try:
        title.format_map(_SampleTitleFields())
    except (ValueError, TypeError) as exc:
        raise ValueError(f"rule {rule_id}: title {title!r} cannot be filled: {exc}") from None


class _SampleTitleFields(dict[str, object]):
    """Representative values of a title's fields: names as text, values as numbers."""

    _TEXT = frozenset({"device", "room", "label"})

    def __missing__(self, key: str) -> object:
        return "text" if key in self._TEXT else 1.5


class RuleOverride(_Strict):
    """A site's change to a built-in rule, by id: disable it or change level/threshold/for."""

    id: str
    enabled: bool | None = None
    level: Level | None = None
    outside_class_level: Level | None = None
    when: Condition | None = None
    clear: Condition | None = None
    for_s: float | None = Field(default=None, ge=0, alias="for")
    for_polls: int | None = Field(default=None, ge=1)
    selector: Selector | None = None
    # Site files only: a site polling every few seconds (or the demo) wants shorter holds.
    flapping: FlapPolicy | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, exclude={"id"}, by_alias=False)


class RuleFile(_Strict):
    rules: list[Rule] = Field(default_factory=list)
    overrides: list[RuleOverride] = Field(default_factory=list)


BUILTIN_RULES = Path(__file__).with_name("builtin.yaml")


def apply_override(rule: Rule, changes: dict[str, Any]) -> Rule:
    """``rule`` with an override's fields replaced; raises ValueError if the result is invalid.

    A level set at or below the rule's ``outside_class_level`` (a site that wants the
    recorder down at L3 at all hours) drops the class distinction rather than failing."""
    merged = rule.model_dump(by_alias=False) | changes
    outside = merged.get("outside_class_level")
    if outside is not None and "outside_class_level" not in changes:
        merged["outside_class_level"] = None if merged["level"] >= outside else outside
    return Rule.model_validate(merged)


def load_rule_pack(site_files: list[Path] | None = None) -> list[Rule]:
    """The built-in pack, then each site file's new rules and overrides, in order; disabled
    rules included (``load_rules`` drops them)."""
    rules: dict[str, Rule] = {}
    for path in [BUILTIN_RULES, *(site_files or [])]:
        try:
            parsed = load_yaml_model(path, RuleFile)
        except ConfigError as exc:
            raise RuleError(str(exc)) from None
        for rule in parsed.rules:
            rules[rule.id] = rule
        for override in parsed.overrides:
            if override.id not in rules:
                raise RuleError(f"{path}: override of unknown rule {override.id!r}")
            try:
                rules[override.id] = apply_override(rules[override.id], override.changes())
            except ValueError as exc:
                raise RuleError(f"{path}: override of {override.id!r}: {exc}") from None
    return list(rules.values())


def load_rules(site_files: list[Path] | None = None) -> list[Rule]:
    """The enabled rules of the built-in pack and the site files."""
    return [rule for rule in load_rule_pack(site_files) if rule.enabled]

"""Fault rules as data: what a YAML rule says, validated strictly.

A rule watches one metric of the devices its selector picks (a scalar metric, or a column of
a device table such as ``disk.used_pct``, evaluated per row), fires when its condition has
held for ``for_s``, and clears when its clear condition holds (hysteresis). See docs/rules.md.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.errors import ConfigError
from agent.wire import METRIC_NAME_PATTERN
from agent.yamlconfig import load_yaml_model
from collector.errors import RuleError
from collector.levels import Level

Op = Literal[">", ">=", "<", "<=", "==", "!="]
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_NEGATION: dict[str, Op] = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
MetricRef = Annotated[str, Field(pattern=r"^([a-z][a-z0-9_]*\.)?[a-z][a-z0-9_]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selector(_Strict):
    """Which devices a rule applies to; an empty list means any."""

    kinds: list[Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]] = Field(default_factory=list)
    exclude_kinds: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    devices: list[str] = Field(default_factory=list)
    rooms: list[str] = Field(default_factory=list)

    def matches(self, kind: str, model: str | None, device: str, room: str) -> bool:
        return (
            (not self.kinds or kind in self.kinds)
            and kind not in self.exclude_kinds
            and (not self.models or (model or "") in self.models)
            and (not self.devices or device in self.devices)
            and (not self.rooms or room in self.rooms)
        )


class Condition(_Strict):
    op: Op
    value: float

    def holds(self, observed: float) -> bool:
        return OPERATORS[self.op](observed, self.value)


class Rule(_Strict):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,99}$")]
    level: Level
    title: str = Field(description="Template: {device}, {room}, {value}, {label} and row labels.")
    description: str = ""
    selector: Selector = Field(default_factory=Selector)
    metric: MetricRef = Field(description="'name' or 'table.column' (evaluated per row).")
    when: Condition
    clear: Condition | None = Field(default=None, description="Default: the negation of when.")
    for_s: float = Field(default=0.0, ge=0, alias="for")
    inhibited_by: list[str] = Field(
        default_factory=list, description="Rule ids that, firing on the same target, mute this one."
    )
    enabled: bool = True

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @property
    def table(self) -> str | None:
        return self.metric.split(".", 1)[0] if "." in self.metric else None

    @property
    def column(self) -> str:
        return self.metric.rsplit(".", 1)[-1]

    @property
    def clear_condition(self) -> Condition:
        return self.clear or Condition(op=_NEGATION[self.when.op], value=self.when.value)

    @model_validator(mode="after")
    def _clear_must_not_overlap(self) -> Rule:
        clear = self.clear_condition
        probes = (self.when.value, clear.value)
        if any(self.when.holds(v) and clear.holds(v) for v in probes):
            raise ValueError(
                f"rule {self.id}: 'when' and 'clear' both hold at the same value; "
                "a clear condition must exclude the firing range"
            )
        return self


class RuleOverride(_Strict):
    """A site's change to a built-in rule, by id: disable it or change level/threshold/for."""

    id: str
    enabled: bool | None = None
    level: Level | None = None
    when: Condition | None = None
    clear: Condition | None = None
    for_s: float | None = Field(default=None, ge=0, alias="for")
    selector: Selector | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RuleFile(_Strict):
    rules: list[Rule] = Field(default_factory=list)
    overrides: list[RuleOverride] = Field(default_factory=list)


BUILTIN_RULES = Path(__file__).with_name("builtin.yaml")


def load_rules(site_files: list[Path] | None = None) -> list[Rule]:
    """The built-in pack, then each site file's new rules and overrides, in order."""
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
            changes = override.model_dump(exclude_none=True, exclude={"id"}, by_alias=False)
            merged = rules[override.id].model_dump(by_alias=False) | changes
            rules[override.id] = Rule.model_validate(merged)
    return [rule for rule in rules.values() if rule.enabled]

"""Evaluating samples and events against rules: which (rule, target) pairs fire, clear or hold.

No I/O and no clock of its own: time comes with each sample (``at``). Computations over a
rule's recent history (rates, changes in a window, the highest value seen, the age of the
last value) keep that history in memory, per (rule, target); ``collector.faults`` turns
verdicts into fault rows.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from itertools import pairwise
from typing import NamedTuple

from roomwatch.agent.wire import DeviceSample, Event, TableRow
from roomwatch.collector.rules.model import HISTORY_COMPUTES, Condition, Rule

log = logging.getLogger(__name__)
_TITLE_FAILED: set[str] = set()  # rules whose title failed, logged once each
_SELECTED_MAX = 100_000  # remembered (kind, model, device, room, site) rule selections


class _Selected(NamedTuple):
    """A rule picked for a device, with what evaluating it reads (worked out once)."""

    rule: Rule
    table: str | None
    column: str
    watches_absence: bool  # compute age_s: a sample without the metric is evaluated too
    when: Condition
    clear: Condition


class State(Enum):
    FIRE = "fire"
    CLEAR = "clear"
    HOLD = "hold"  # between the thresholds: an open fault stays open, nothing new opens


@dataclass(frozen=True)
class Verdict:
    rule: Rule
    target: str
    state: State
    value: float
    room: str
    device: str
    kind: str
    labels: dict[str, str] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)
    site: str | None = None

    @property
    def open_key(self) -> str:
        """The key of the fault this verdict acts on: one per (concern or rule, target)."""
        return open_key(self.rule.fault_key_name, self.target)

    def title(self) -> str:
        label = ",".join(self.labels.values())
        extra = {k: self.extra.get(k, math.nan) for k in self.rule.evidence_metrics}
        context = {"device": self.device, "room": self.room, "value": self.value, "label": label}
        try:
            return self.rule.title.format(**{**extra, **context, **self.labels})
        except (KeyError, ValueError, IndexError):  # a row label this row lacks, ...
            return f"{self.rule.id} on {self.target}"
        except Exception as exc:  # a template the load check let through: never fail ingest
            if self.rule.id not in _TITLE_FAILED:
                _TITLE_FAILED.add(self.rule.id)
                log.warning(
                    "rule %s: title template cannot be filled (%s: %s); titles say "
                    "'<rule> on <target>' instead (logged once)",
                    self.rule.id, type(exc).__name__, exc,
                )  # fmt: skip
            return f"{self.rule.id} on {self.target}"

    def evidence(self) -> dict[str, object]:
        evidence: dict[str, object] = {
            "metric": self.rule.metric or (self.rule.event.type if self.rule.event else None),
            "value": self.value,
            "labels": self.labels,
        }
        if self.rule.compute != "value":
            evidence["compute"] = self.rule.compute
        if self.extra:
            evidence["extra"] = dict(self.extra)
        return evidence


def open_key(rule_id: str, target: str) -> str:
    """What identifies one fault (open or suppressed) of a rule on a target."""
    return f"{rule_id}|{target}"


def target_of(
    room: str, device: str, table: str | None = None, labels: dict[str, str] | None = None
) -> str:
    """The stable name of what a fault is about: ``room/device`` or ``room/device/table{k=v}``."""
    if table is None:
        return f"{room}/{device}"
    inner = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
    return f"{room}/{device}/{table}{{{inner}}}"


def device_of_target(target: str) -> str:
    """The device id in a target (``room/device[/table{...}]``)."""
    parts = target.split("/", 2)
    return parts[1] if len(parts) > 1 else ""


@dataclass(frozen=True)
class _Observation:
    value: float | None
    metrics: dict[str, float]  # the row's (or the device's) other metrics
    labels: dict[str, str]
    table: str | None


class _History:
    """Recent values per (rule, target), trimmed to each rule's window."""

    def __init__(self) -> None:
        self._points: dict[tuple[str, str], deque[tuple[datetime, float]]] = {}
        self._peak: dict[tuple[str, str], float] = {}
        self._last_seen: dict[tuple[str, str], datetime] = {}

    def compute(self, rule: Rule, target: str, value: float | None, at: datetime) -> float | None:
        key = (rule.id, target)
        if rule.compute == "age_s":
            if value is not None:
                self._last_seen[key] = at
                return 0.0
            seen = self._last_seen.get(key)
            return None if seen is None else (at - seen).total_seconds()
        if value is None:
            return None
        if rule.compute == "fraction_of_max":
            peak = max(self._peak.get(key, value), value)
            self._peak[key] = peak
            return value / peak if peak > 0 else None
        points = self._points.setdefault(key, deque())
        if points and at < points[-1][0]:
            return None  # out of order: history moves forward only
        points.append((at, value))
        window = rule.window_s or 0.0
        while len(points) > 1 and (at - points[0][0]).total_seconds() > window:
            points.popleft()
        if rule.compute == "changes":
            values = [v for _, v in points]
            return float(sum(1 for a, b in pairwise(values) if a != b))
        first_at, first = points[0]
        if rule.compute == "days_to_full":
            if (at - first_at).total_seconds() < window / 2:
                return None  # too short a span for a trend worth a fault
            return days_to_full(points, at)
        span_s = (at - first_at).total_seconds()
        if span_s < window / 2:
            return None  # too short a span for a rate worth a fault
        return (value - first) * 3600.0 / span_s


# Days to full of a percentage that does not grow: never, as a number rules can compare.
NEVER_FULL_DAYS = 10_000.0


def days_to_full(points: Iterable[tuple[datetime, float]], at: datetime) -> float:
    """Days until a percentage reaches 100 at the least-squares slope of ``points``
    (0 when it is full; ``NEVER_FULL_DAYS`` when it does not grow)."""
    xs_ys = [((t - at).total_seconds() / 86400.0, v) for t, v in points]
    n = len(xs_ys)
    mean_x = sum(x for x, _ in xs_ys) / n
    mean_y = sum(y for _, y in xs_ys) / n
    spread = sum((x - mean_x) ** 2 for x, _ in xs_ys)
    if spread == 0:
        return NEVER_FULL_DAYS
    slope = sum((x - mean_x) * (y - mean_y) for x, y in xs_ys) / spread  # % per day
    now = mean_y - slope * mean_x  # the trend's value at ``at``
    if now >= 100:
        return 0.0
    if slope <= 0:
        return NEVER_FULL_DAYS
    return min((100.0 - now) / slope, NEVER_FULL_DAYS)


class RuleEngine:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = sorted(rules, key=lambda r: (r.level, r.id))
        self._metric_rules = [r for r in self.rules if not r.is_event_rule]
        self._event_rules = [r for r in self.rules if r.is_event_rule]
        self._selected: dict[tuple[str, str | None, str, str, str | None], list[_Selected]] = {}
        self.history = _History()

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def evaluate(
        self,
        room: str,
        sample: DeviceSample,
        at: datetime | None = None,
        site: str | None = None,
        relevant: Callable[[str], bool] | None = None,
    ) -> list[Verdict]:
        """Verdicts of every matching metric rule; history rules need ``at``.

        With ``relevant`` (open key → whether anything waits on it: an open or suppressed
        fault, a pending ``for:`` timer), a clear or hold verdict nothing waits on is left
        out: it would change nothing, and building it was most of the evaluation's cost.
        """
        scalars = _scalars(sample)
        tables = sample.tables
        verdicts: list[Verdict] = []
        for selected in self._rules_for(sample, room, site):
            # A rule with nothing to look at in this sample has no verdict (unless it
            # watches for absence): skip it before building anything.
            table = selected.table
            if selected.watches_absence or (
                selected.column in scalars if table is None else table in tables
            ):
                verdicts.extend(self._observe(selected, room, sample, scalars, at, site, relevant))
        return _apply_inhibition(verdicts)

    def _rules_for(self, sample: DeviceSample, room: str, site: str | None) -> list[_Selected]:
        """The metric rules whose selector picks this device (remembered: selectors are pure
        and every message asks again for the same devices), with what each one reads."""
        key = (sample.kind, sample.model, sample.device, room, site)
        rules = self._selected.get(key)
        if rules is None:
            if len(self._selected) >= _SELECTED_MAX:
                self._selected.clear()
            rules = [
                _Selected(
                    rule,
                    rule.table,
                    rule.column,
                    rule.compute == "age_s",
                    rule.when_condition,
                    rule.clear_condition,
                )
                for rule in self._metric_rules
                if rule.selector.matches(sample.kind, sample.model, sample.device, room, site)
            ]
            self._selected[key] = rules
        return rules

    def evaluate_event(
        self, room: str, event: Event, kind: str, model: str | None, site: str | None = None
    ) -> list[Verdict]:
        """FIRE for each rule whose ``event`` matches, CLEAR for each whose ``clear_event``."""
        verdicts = []
        for rule in self._event_rules:
            if not rule.selector.matches(kind, model, event.device, room, site):
                continue
            assert rule.event is not None
            if rule.event.matches(event.type, event.text, event.attrs):
                state = State.FIRE
            elif rule.clear_event and rule.clear_event.matches(event.type, event.text, event.attrs):
                state = State.CLEAR
            else:
                continue
            labels = {k: str(event.attrs[k]) for k in rule.event_labels if k in event.attrs}
            table = "event" if rule.event_labels else None
            verdicts.append(
                Verdict(
                    rule=rule,
                    target=target_of(room, event.device, table, labels),
                    state=state,
                    value=1.0 if state is State.FIRE else 0.0,
                    room=room,
                    device=event.device,
                    kind=kind,
                    labels=labels,
                    extra={k: v for k, v in event.attrs.items() if isinstance(v, float)},
                    site=site,
                )
            )
        return verdicts

    def _observe(
        self,
        selected: _Selected,
        room: str,
        sample: DeviceSample,
        scalars: dict[str, float],
        at: datetime | None,
        site: str | None,
        relevant: Callable[[str], bool] | None = None,
    ) -> Iterator[Verdict]:
        rule = selected.rule
        if rule.compute in HISTORY_COMPUTES and at is None:
            return
        for observation in _observations(selected, sample, scalars):
            target = target_of(room, sample.device, observation.table, observation.labels)
            guarded = all(
                g.metric in observation.metrics and g.holds(observation.metrics[g.metric])
                for g in rule.where
            )
            value = self._value(rule, target, observation, at) if guarded else None
            if guarded and value is None:
                continue
            state = _state(selected, value) if value is not None else State.CLEAR
            key = open_key(rule.fault_key_name, target)
            if state is not State.FIRE and relevant and not relevant(key):
                continue
            yield Verdict(
                rule=rule,
                target=target,
                state=state,
                value=value if value is not None else math.nan,
                room=room,
                device=sample.device,
                kind=sample.kind,
                labels=dict(observation.labels),
                extra={
                    k: observation.metrics[k]
                    for k in rule.evidence_metrics
                    if k in observation.metrics
                },
                site=site,
            )

    def _value(
        self, rule: Rule, target: str, observation: _Observation, at: datetime | None
    ) -> float | None:
        raw = observation.value
        if rule.compute == "value":
            return raw
        if rule.compute == "ratio":
            assert rule.ratio_to is not None
            base = observation.metrics.get(rule.ratio_to)
            return raw / base if raw is not None and base else None
        assert at is not None
        return self.history.compute(rule, target, raw, at)


def _observations(
    selected: _Selected, sample: DeviceSample, scalars: dict[str, float]
) -> Iterator[_Observation]:
    table, column, absence = selected.table, selected.column, selected.watches_absence
    if table is None:
        value = scalars.get(column)
        if value is not None or absence:
            yield _Observation(value, scalars, {}, None)
        return
    rows: list[TableRow] = sample.tables.get(table, [])
    for row in rows:
        if column in row.metrics or absence:
            yield _Observation(row.metrics.get(column), row.metrics, row.labels, table)


def _scalars(sample: DeviceSample) -> dict[str, float]:
    metrics = dict(sample.metrics)
    metrics["reachable"] = 1.0 if sample.reachable else 0.0
    if sample.rtt_ms is not None:
        metrics["rtt_ms"] = sample.rtt_ms
    return metrics


def _state(selected: _Selected, value: float) -> State:
    if selected.when.holds(value):
        return State.FIRE
    if selected.clear.holds(value):
        return State.CLEAR
    return State.HOLD


def _apply_inhibition(verdicts: list[Verdict]) -> list[Verdict]:
    """A rule whose inhibitor fires on the same target counts as cleared (one fault, not two)."""
    firing = {(v.rule.id, v.target) for v in verdicts if v.state is State.FIRE}
    result = []
    for verdict in verdicts:
        muted = any((rid, verdict.target) in firing for rid in verdict.rule.inhibited_by)
        if muted and verdict.state is not State.CLEAR:
            verdict = replace(verdict, state=State.CLEAR)
        result.append(verdict)
    return result


__all__ = [
    "RuleEngine",
    "State",
    "Verdict",
    "days_to_full",
    "device_of_target",
    "open_key",
    "target_of",
]

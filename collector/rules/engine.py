"""Evaluating samples against rules: which (rule, target) pairs fire, clear or hold.

Pure logic with no I/O and no clock of its own; ``collector.faults`` turns verdicts into
fault rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum

from agent.wire import DeviceSample, TableRow
from collector.rules.model import Rule


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

    @property
    def open_key(self) -> str:
        return f"{self.rule.id}|{self.target}"

    def title(self) -> str:
        label = ",".join(self.labels.values())
        context = {"device": self.device, "room": self.room, "value": self.value, "label": label}
        try:
            return self.rule.title.format(**context, **self.labels)
        except (KeyError, ValueError, IndexError):
            return f"{self.rule.id} on {self.target}"

    def evidence(self) -> dict[str, object]:
        return {"metric": self.rule.metric, "value": self.value, "labels": self.labels}


def target_of(
    room: str, device: str, table: str | None = None, labels: dict[str, str] | None = None
) -> str:
    """The stable name of what a fault is about: ``room/device`` or ``room/device/table{k=v}``."""
    if table is None:
        return f"{room}/{device}"
    inner = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
    return f"{room}/{device}/{table}{{{inner}}}"


class RuleEngine:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = sorted(rules, key=lambda r: (r.level, r.id))

    def evaluate(self, room: str, sample: DeviceSample) -> list[Verdict]:
        verdicts = [
            v for rule in self._matching(room, sample) for v in self._observe(rule, room, sample)
        ]
        return _apply_inhibition(verdicts)

    def _matching(self, room: str, sample: DeviceSample) -> Iterator[Rule]:
        for rule in self.rules:
            if rule.selector.matches(sample.kind, sample.model, sample.device, room):
                yield rule

    def _observe(self, rule: Rule, room: str, sample: DeviceSample) -> Iterator[Verdict]:
        if rule.table is None:
            value = _scalar(sample, rule.column)
            if value is not None:
                yield self._verdict(rule, room, sample, value, None, {})
            return
        rows: list[TableRow] = sample.tables.get(rule.table, [])
        for row in rows:
            if rule.column in row.metrics:
                yield self._verdict(
                    rule, room, sample, row.metrics[rule.column], rule.table, row.labels
                )

    @staticmethod
    def _verdict(
        rule: Rule,
        room: str,
        sample: DeviceSample,
        value: float,
        table: str | None,
        labels: dict[str, str],
    ) -> Verdict:
        if rule.when.holds(value):
            state = State.FIRE
        elif rule.clear_condition.holds(value):
            state = State.CLEAR
        else:
            state = State.HOLD
        return Verdict(
            rule=rule,
            target=target_of(room, sample.device, table, labels),
            state=state,
            value=value,
            room=room,
            device=sample.device,
            kind=sample.kind,
            labels=dict(labels),
        )


def _scalar(sample: DeviceSample, name: str) -> float | None:
    if name == "reachable":
        return 1.0 if sample.reachable else 0.0
    if name == "rtt_ms":
        return sample.rtt_ms
    return sample.metrics.get(name)


def _apply_inhibition(verdicts: list[Verdict]) -> list[Verdict]:
    """A rule whose inhibitor fires on the same target counts as cleared (one fault, not two)."""
    firing = {(v.rule.id, v.target) for v in verdicts if v.state is State.FIRE}
    result = []
    for verdict in verdicts:
        muted = any((rid, verdict.target) in firing for rid in verdict.rule.inhibited_by)
        if muted and verdict.state is not State.CLEAR:
            verdict = Verdict(**{**verdict.__dict__, "state": State.CLEAR})
        result.append(verdict)
    return result


__all__ = ["RuleEngine", "State", "Verdict", "target_of"]

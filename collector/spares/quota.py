"""The spare quota decision: a site's stock figures and its active spare faults →
transitions (``collector.fault_changes``) for ``FaultStore.apply``. Pure: no session, no
clock, no write.

The plan keeps 15 % of the procured quantity of every model as spares, rounded up
(``quota = ceil(0.15 × procured)``). What fires, at which level and with which words is the
rule ``spare_stock_low`` of the rule pack (metric ``shortfall`` = quota − held, kind
``spare_stock``): sites override it like any other rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from roomwatch.collector.fault_changes import (
    FaultChange,
    OpenFault,
    ResolveFault,
    Subject,
    UpdateFault,
)
from roomwatch.collector.fault_room import FaultView
from roomwatch.collector.reports.spares import required_spares
from roomwatch.collector.rules.model import Rule

RULE_ID = "spare_stock_low"
KIND = "spare_stock"
DEVICE = "spares"  # the target's device part: the site's spare shelf


@dataclass(frozen=True)
class StockFigures:
    """One model's spare stock at one site against what was procured."""

    site_id: str
    model: str
    procured: int
    held: int

    @property
    def quota(self) -> int:
        return required_spares(self.procured)

    @property
    def shortfall(self) -> int:
        return self.quota - self.held

    def evidence(self) -> dict[str, Any]:
        # The engine's evidence shape: the rule texts' titles read labels and extra.
        return {
            "metric": "shortfall",
            "value": self.shortfall,
            "labels": {"site": self.site_id, "model": self.model},
            "extra": {"procured": self.procured, "quota": self.quota, "held": self.held},
        }


def stock_target(site_id: str, model: str) -> str:
    """One fault per (site, model): ``site/spares/stock{model=...}``."""
    return f"{site_id}/{DEVICE}/stock{{model={model}}}"


def stock_key(site_id: str, model: str) -> str:
    return f"{RULE_ID}|{stock_target(site_id, model)}"


def site_key_prefix(site_id: str) -> str:
    return f"{RULE_ID}|{site_id}/{DEVICE}/"


def rule_for(rules: Iterable[Rule], site_id: str, model: str) -> Rule | None:
    """The enabled version of ``spare_stock_low`` that applies to this site and model."""
    for rule in rules:
        if (
            rule.id == RULE_ID
            and rule.enabled
            and rule.when is not None
            and rule.selector.matches(KIND, model, DEVICE, "", site_id)
        ):
            return rule
    return None


def title_of(rule: Rule, figures: StockFigures) -> str:
    evidence = figures.evidence()
    context = {**evidence["extra"], **evidence["labels"], "value": figures.shortfall}
    try:
        return rule.title.format(**context)[:300]
    except (KeyError, ValueError, IndexError):
        return f"{rule.id} on {stock_target(figures.site_id, figures.model)}"[:300]


def decide_quota(
    rules: Iterable[Rule],
    figures: Iterable[StockFigures],
    active: Mapping[str, FaultView],
    rooms: Mapping[str, str | None],
    at: datetime,
) -> list[FaultChange]:
    """Open a fault for a model whose shortfall fires the rule and has none, keep an open
    one's figures current, resolve one whose stock is back at quota (or whose rule is
    disabled). ``rooms``: model → the room the fault is filed under (None: the site has no
    room, so nothing can be filed)."""
    rules = list(rules)
    changes: list[FaultChange] = []
    for figure in figures:
        key = stock_key(figure.site_id, figure.model)
        rule = rule_for(rules, figure.site_id, figure.model)
        fault = active.get(key)
        firing = rule is not None and _fires(rule, figure.shortfall, fault is not None)
        if rule is not None and firing:
            title = title_of(rule, figure)
            if fault is not None:
                changes.append(UpdateFault(fault, at, title, figure.evidence()))
                continue
            room = rooms.get(figure.model)
            if room is None:
                continue
            view = FaultView(
                key, rule.id, stock_target(figure.site_id, figure.model), int(rule.level)
            )
            subject = Subject(room_id=room, agent_id="", site_id=figure.site_id)
            changes.append(OpenFault(view, at, subject, rule, title, figure.evidence(), 1))
        elif fault is not None:
            reason = "spare stock back at quota" if rule is not None else "rule disabled"
            changes.append(ResolveFault(fault, at, reason, figure.evidence()))
    return changes


def _fires(rule: Rule, shortfall: int, active: bool) -> bool:
    """Firing opens; an active fault stays until its clear condition holds (hysteresis)."""
    assert rule.when is not None
    if not active:
        return rule.when.holds(shortfall)
    clear = rule.clear if rule.clear is not None else rule.when.negated()
    return not clear.holds(shortfall)

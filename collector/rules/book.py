"""The rules in force: the pack (built-in YAML plus site files) with the overrides admins
keep in SQL, per site or for every site (``PUT /api/rules/{id}/overrides/{site}``).

An override for one site becomes a copy of the rule restricted to that site (the same id,
so its faults keep their identity) while the original excludes the site. ``refresh`` looks
at the overrides' signature at most every ``refresh_every_s`` and rebuilds the engine when
they changed, keeping the engine's history; several collectors converge the same way.
Rules decided outside the engine (the spare quota, ``collector.spares``) read the same book
through ``in_force``, so a site file or an override changes them exactly as it changes the
engine's rules.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

from roomwatch.collector.db import workflow_store
from roomwatch.collector.db.workflow_models import ALL_SITES, RuleOverrideRow
from roomwatch.collector.rules.engine import RuleEngine
from roomwatch.collector.rules.model import Rule, apply_override, load_rule_pack

log = logging.getLogger(__name__)


class RuleBook:
    """The collector's rules: ``pack`` (the built-in pack and the site files, as loaded at
    start) and the SQL overrides over it."""

    def __init__(
        self,
        pack: Iterable[Rule],
        refresh_every_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.pack = list(pack)
        self.refresh_every_s = refresh_every_s
        self._monotonic = monotonic
        self._next_check = 0.0
        self._signature: tuple[int, Any] | None = None
        self.engine = RuleEngine(r for r in self.pack if r.enabled)

    @classmethod
    def fixed(cls, engine: RuleEngine) -> RuleBook:
        """A book that never reads SQL overrides (tests, tools)."""
        book = cls(engine.rules, refresh_every_s=float("inf"))
        book.engine = engine
        book._next_check = float("inf")
        return book

    @classmethod
    def builtin(cls) -> RuleBook:
        """A book of the built-in pack alone, without site files (tools and tests)."""
        return cls(_builtin_pack())

    def in_force(self, session: Session) -> list[Rule]:
        """The pack with the SQL overrides as this session reads them, disabled rules
        included. Reads only: the engine (and its history) is ``refresh``'s."""
        return effective_rules(self.pack, workflow_store.list_rule_overrides(session))

    def refresh(self, session: Session, force: bool = False) -> bool:
        """Rebuild the engine if the SQL overrides changed; True when it did."""
        now = self._monotonic()
        if not force and now < self._next_check:
            return False
        self._next_check = now + self.refresh_every_s
        signature = workflow_store.rule_overrides_signature(session)
        if signature == self._signature:
            return False
        self._signature = signature
        rules = self.in_force(session)
        history = self.engine.history
        self.engine = RuleEngine(r for r in rules if r.enabled)
        self.engine.history = history
        log.info(
            "rules reloaded: %d enabled, %d SQL overrides", len(self.engine.rules), signature[0]
        )
        return True


def effective_rules(pack: Iterable[Rule], overrides: Iterable[RuleOverrideRow]) -> list[Rule]:
    """The pack with SQL overrides applied; disabled rules included. An override that no
    longer validates against its rule (the pack changed) is skipped with a warning."""
    by_rule: dict[str, dict[str, dict[str, Any]]] = {}
    for row in overrides:
        by_rule.setdefault(row.rule_id, {})[row.site_id] = row.changes
    result: list[Rule] = []
    for rule in pack:
        changes = by_rule.get(rule.id, {})
        base = _applied(rule, changes.get(ALL_SITES, {}), ALL_SITES)
        sites = sorted(s for s in changes if s != ALL_SITES)
        for site in sites:
            derived = _applied(base, changes[site], site)
            selector = derived.selector.model_copy(update={"sites": [site], "exclude_sites": []})
            result.append(derived.model_copy(update={"selector": selector}))
        if sites:
            excluded = [*base.selector.exclude_sites, *sites]
            base = base.model_copy(
                update={"selector": base.selector.model_copy(update={"exclude_sites": excluded})}
            )
        result.append(base)
    return result


def rules_for_site(rules: Iterable[Rule], site_id: str | None) -> list[Rule]:
    """The version of each rule that applies to ``site_id`` (None: the all-sites version)."""
    chosen: dict[str, Rule] = {}
    for rule in rules:
        sites = rule.selector.sites
        if (site_id is not None and site_id in sites) or (not sites and rule.id not in chosen):
            chosen[rule.id] = rule
    return list(chosen.values())


@cache
def _builtin_pack() -> tuple[Rule, ...]:
    return tuple(load_rule_pack())


def _applied(rule: Rule, changes: dict[str, Any], site: str) -> Rule:
    if not changes:
        return rule
    try:
        return apply_override(rule, changes)
    except ValueError as exc:
        log.warning("override of rule %s for site %s no longer applies: %s", rule.id, site, exc)
        return rule


__all__ = ["RuleBook", "effective_rules", "rules_for_site"]

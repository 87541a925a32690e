"""The spare stock follows the maintenance logs: spares used in a fault's log are taken from
the stock of that model at the fault's site; editing the log takes or gives back only the
difference, deleting it gives everything back; restocking and counts add movements too.
After every change the site's quota is decided (``collector.spares.quota``) and the
transitions applied through the fault store, so the L4 fault opens and resolves like any
rule fault; an opened one is also told to the project lead. The rule is read from the
workflow's rule book (``Workflow.rules``, the fault tracker's): the built-in pack, the site
rule files and the SQL overrides.

Stock never goes negative: a log using more spares than held is accepted (the spare is in
the room already) but takes only what is held, and the fault gets a ``spares_short`` event
with the models and quantities that were not in stock. Restocking later does not take them
retroactively; saving the log again does.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from roomwatch.collector.db import faults_store, report_store, spares_store, workflow_store
from roomwatch.collector.db.fault_apply import FaultStore, Transition
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.report_models import SpareStock
from roomwatch.collector.db.scope import site_of_fault
from roomwatch.collector.fault_room import FaultView
from roomwatch.collector.rules.book import RuleBook
from roomwatch.collector.rules.model import Rule
from roomwatch.collector.spares.quota import RULE_ID, StockFigures, decide_quota, site_key_prefix
from roomwatch.collector.workflow import Workflow

log = logging.getLogger(__name__)
LEAD_ROLE = "project_lead"


@dataclass(frozen=True)
class StockChange:
    """What one log save, restock or count did to the stock."""

    site_id: str | None
    taken: dict[str, int] = field(default_factory=dict)
    returned: dict[str, int] = field(default_factory=dict)
    short: dict[str, int] = field(default_factory=dict)  # used but not in stock
    transitions: list[Transition] = field(default_factory=list)


def spares_of(parts: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """model → quantity of a log's ``spares_used`` (the model, or the name without one)."""
    wanted: dict[str, int] = defaultdict(int)
    for part in parts:
        model = str(part.get("model") or part.get("name") or "").strip()
        if model:
            wanted[model] += int(part.get("quantity", 1) or 1)
    return dict(wanted)


def follow_log(
    session: Session, workflow: Workflow, fault: Fault, actor: str, at: datetime
) -> StockChange:
    """Bring the stock in line with the fault's saved log (or its absence: deleted)."""
    entry = workflow_store.get_log(session, fault.id)
    site_id = site_of_fault(session, fault.id)
    wanted = spares_of(entry.spares_used) if entry is not None else {}
    already = spares_store.taken_by_fault(session, fault.id)
    taken: dict[str, int] = {}
    returned: dict[str, int] = {}
    short: dict[str, int] = {}
    touched: dict[str, set[str]] = defaultdict(set)
    keys = set(already) | {(site_id, model) for model in wanted if site_id is not None}
    for key in sorted(keys, key=lambda k: (str(k[0]), k[1])):
        site, model = key
        if site is None:
            continue
        target = wanted.get(model, 0) if site == site_id else 0
        diff = target - already.get((site, model), 0)
        if diff > 0:
            row = spares_store.stock_row(session, site, model, lock=True)
            take = min(diff, row.held if row is not None else 0)
            if row is not None and take > 0:
                row.held -= take
                row.used += take
                row.updated_at = at
                spares_store.add_movement(
                    session, site_id=site, model=model, delta=-take, reason="taken",
                    actor=actor, at=at, fault_id=fault.id,
                )  # fmt: skip
                taken[model] = take
            if diff > take:
                short[model] = diff - take
        elif diff < 0:
            row = _row(session, site, model, at)
            row.held -= diff
            row.used = max(0, row.used + diff)
            row.updated_at = at
            spares_store.add_movement(
                session, site_id=site, model=model, delta=-diff, reason="returned",
                actor=actor, at=at, fault_id=fault.id,
            )  # fmt: skip
            returned[model] = -diff
        touched[site].add(model)
    if wanted and site_id is None:
        short = dict(wanted)  # a fault of no site: nothing to take from
    if short:
        faults_store.add_event(
            session, fault, at, "spares_short", {"site": site_id, "missing": short}, actor
        )
    transitions: list[Transition] = []
    for site, models in touched.items():
        transitions += check_quota(session, workflow, site, at, models)
    return StockChange(site_id, taken, returned, short, transitions)


def restock(
    session: Session,
    workflow: Workflow,
    site_id: str,
    model: str,
    quantity: int,
    actor: str,
    at: datetime,
    note: str = "",
) -> tuple[SpareStock, list[Transition]]:
    """Spares of ``model`` delivered to the site: held grows; a shortage may resolve."""
    report_store.require_site(session, site_id)
    row = _row(session, site_id, model, at)
    row.held += quantity
    row.updated_at = at
    spares_store.add_movement(
        session, site_id=site_id, model=model, delta=quantity, reason="restock",
        actor=actor, at=at, note=note,
    )  # fmt: skip
    return row, check_quota(session, workflow, site_id, at, {model})


def counted(
    session: Session,
    workflow: Workflow,
    row: SpareStock,
    held_before: int,
    actor: str,
    at: datetime,
) -> list[Transition]:
    """A stock count set ``held`` directly: recorded as a movement, the quota decided."""
    if row.held != held_before:
        spares_store.add_movement(
            session, site_id=row.site_id, model=row.model, delta=row.held - held_before,
            reason="count", actor=actor, at=at,
        )  # fmt: skip
    return check_quota(session, workflow, row.site_id, at, {row.model})


def check_quota(
    session: Session,
    workflow: Workflow,
    site_id: str,
    at: datetime,
    models: Iterable[str] | None = None,
) -> list[Transition]:
    """Decide the spare faults of ``site_id`` (of ``models``, else every stocked model) and
    apply them. A model is watched once the site stocks it (it has a stock row)."""
    stock = report_store.spare_stock(session, site_id)
    procured = spares_store.procured_by_model(session, site_id)
    active = _active_views(session, site_id)
    names = set(models) if models is not None else set(stock)
    figures = [
        StockFigures(site_id, m, procured.get(m, 0), stock[m].held if m in stock else 0)
        for m in sorted(names)
        if m in stock
    ]
    rooms = {f.model: spares_store.room_for_model(session, site_id, f.model) for f in figures}
    changes = decide_quota(quota_rules(session, workflow.rules), figures, active, rooms, at)
    done = FaultStore(workflow).apply(session, changes)
    for transition in done:
        if transition.kind == "opened":
            _tell_lead(session, workflow, transition.fault_id, at)
    return done


def check_every_site(session: Session, workflow: Workflow, at: datetime) -> list[Transition]:
    """Every stocking site's quota (a procured device added, a rule changed)."""
    done: list[Transition] = []
    for site_id in sorted(spares_store.sites_of_models(session)):
        done += check_quota(session, workflow, site_id, at)
    return done


def quota_rules(session: Session, book: RuleBook) -> list[Rule]:
    """The versions of the spare rule in force: the book's pack (built-in and site files)
    with the SQL overrides as they are now."""
    return [rule for rule in book.in_force(session) if rule.id == RULE_ID]


def _row(session: Session, site_id: str, model: str, at: datetime) -> SpareStock:
    row = spares_store.stock_row(session, site_id, model, lock=True)
    if row is None:
        row = report_store.put_spare_stock(session, site_id, model, at, held=0, used=0)
    return row


def _active_views(session: Session, site_id: str) -> dict[str, FaultView]:
    views: dict[str, FaultView] = {}
    for key in faults_store.active_keys(session, site_key_prefix(site_id)):
        fault = faults_store.find_active(session, key)
        if fault is not None:
            views[key] = FaultView(key, fault.rule_id, fault.target, fault.level, id=fault.id)
    return views


def _tell_lead(session: Session, workflow: Workflow, fault_id: int, at: datetime) -> None:
    sla = getattr(workflow.hooks, "sla", None)
    notify_role = getattr(sla, "notify_role", None)
    if notify_role is None:
        return  # no SLA service wired: nobody to tell
    fault = faults_store.get_fault(session, fault_id)
    notify_role(session, fault, LEAD_ROLE, "opened", at)

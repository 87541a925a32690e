"""Writing a fault decision's transitions: one call, in the caller's transaction.

``FaultStore.apply`` takes the list ``collector.fault_plan.FaultPlanner.decide`` returned
and writes it in order: fault rows and their events, SLA clocks and notifications (the
outbox) through the workflow's hooks, suppressed firings and guard counts. A fault opened
by the list gets its id here, on its view, for the transitions after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from roomwatch.collector.db import faults_store, workflow_store
from roomwatch.collector.db.faults_store import SYSTEM_ACTOR
from roomwatch.collector.db.guard_models import FaultGuard
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.workflow_models import OUTCOME_CLEARED, OUTCOME_OPENED, SuppressedFiring
from roomwatch.collector.fault_changes import (
    ChangeLevel,
    DropGuard,
    EndSuppressed,
    FaultChange,
    HoldFault,
    MarkFlapping,
    MoveRung,
    OpenFault,
    ReopenFault,
    ResolveFault,
    SetGuard,
    SuppressFiring,
    UpdateFault,
)
from roomwatch.collector.fault_room import FaultView, FiringView
from roomwatch.collector.levels import Level
from roomwatch.collector.workflow import Workflow


@dataclass(frozen=True)
class Transition:
    """A fault opened, resolved or started flapping, for counters and logs."""

    # "opened" | "reopened" | "resolved" | "flapping" | "raised" (a class began, a ladder
    # rose) | "lowered" (a ladder stepped down)
    kind: str
    fault_id: int
    level: Level
    title: str
    room_id: str | None


class FaultStore:
    """Applies fault transitions through the workflow (events, SLA hooks, notifications)."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow

    def apply(self, session: Session, changes: list[FaultChange]) -> list[Transition]:
        """Write ``changes`` in order; what happened to faults, for counters and logs."""
        done: list[Transition] = []
        for change in changes:
            kind = self._apply_one(session, change)
            if kind is not None:
                fault = self._row(session, change.fault)  # type: ignore[union-attr]
                done.append(
                    Transition(kind, fault.id, Level(fault.level), fault.title, fault.room_id)
                )
        return done

    def _apply_one(self, session: Session, change: FaultChange) -> str | None:
        match change:
            case OpenFault():
                self._open(session, change)
                return "opened"
            case ReopenFault(fault=view, at=at):
                fault = self._row(session, view)
                self.workflow.auto_reopen(session, fault, at, evidence=change.evidence)
                faults_store.touch_fault(fault, at, change.evidence, change.title)
                if change.promoted is not None:
                    self._promote(session, change.promoted, fault, at)
                return "reopened"
            case UpdateFault(fault=view, at=at):
                fault = self._row(session, view)
                faults_store.touch_fault(fault, at, change.evidence, change.title)
                fault.clear_since = None
            case MoveRung(fault=view, rule=rule):
                fault = self._row(session, view)
                fault.rule_id, fault.description = rule.id, rule.description
                fault.title, fault.evidence = change.title[:300], change.evidence
            case ChangeLevel(fault=view):
                self.workflow.change_level(
                    session,
                    self._row(session, view),
                    Level(change.level),
                    SYSTEM_ACTOR,
                    change.at,
                    change.note,
                    clocks_from_now=change.clocks_from_now,
                    notify=change.notify,
                )
                return change.kind
            case MarkFlapping(fault=view):
                fault = self._row(session, view)
                self.workflow.mark_flapping(session, fault, change.at, change.transitions)
                return "flapping"
            case HoldFault(fault=view):
                self._row(session, view).clear_since = change.clear_since
            case ResolveFault(fault=view):
                fault = self._row(session, view)
                self.workflow.auto_resolve(
                    session, fault, change.at, change.reason, **change.detail
                )
                return "resolved"
            case SuppressFiring():
                self._suppress(session, change)
            case EndSuppressed(firing=firing):
                row = self._firing(session, firing)
                if row is not None and row.open_key is not None:
                    workflow_store.end_suppressed(row, change.at, OUTCOME_CLEARED)
                    session.flush()  # its key may be taken by a new firing in this list
            case SetGuard():
                self._set_guard(session, change)
            case DropGuard():
                guard = session.get(FaultGuard, (change.key, change.rule_id))
                if guard is not None:
                    session.delete(guard)
        return None

    # --- faults ---------------------------------------------------------------------------
    @staticmethod
    def _row(session: Session, view: FaultView) -> Fault:
        if view.id is None:
            raise LookupError(f"fault {view.key} was not opened before a change to it")
        return faults_store.get_fault(session, view.id)

    def _open(self, session: Session, change: OpenFault) -> None:
        view, subject, rule = change.fault, change.subject, change.rule
        fault = self.workflow.open_rule_fault(
            session,
            open_key=view.key,
            at=change.at,
            rule_id=rule.id,
            target=view.target,
            room_id=subject.room_id,
            device_id=subject.device_pk,
            agent_id=subject.agent_id or None,  # a site's fault (spare stock) has no agent
            level=view.level,
            title=change.title,
            description=rule.description,
            evidence=change.evidence,
        )
        fault.fire_count = max(fault.fire_count, change.fire_count)
        view.id = fault.id
        if change.promoted is not None:
            self._promote(session, change.promoted, fault, change.at)

    @staticmethod
    def _promote(session: Session, firing: FiringView, fault: Fault, at: datetime) -> None:
        """A suppressed firing outlived its cause: it is now ``fault``."""
        row = FaultStore._firing(session, firing)
        if row is None:
            return
        workflow_store.end_suppressed(row, at, OUTCOME_OPENED, fault.id)
        detail = {"reason": row.reason, "since": row.first_at.isoformat(), "firing": row.id}
        faults_store.add_event(session, fault, at, "was_suppressed", detail)

    # --- suppressed firings and guards ----------------------------------------------------
    @staticmethod
    def _firing(session: Session, firing: FiringView) -> SuppressedFiring | None:
        if firing.id is not None:
            return session.get(SuppressedFiring, firing.id)
        return workflow_store.find_suppressed(session, firing.key)

    def _suppress(self, session: Session, change: SuppressFiring) -> None:
        view = change.firing
        if view.id is not None:  # one more poll of a firing already recorded
            row = session.get(SuppressedFiring, view.id)
            if row is not None:
                row.last_at = max(row.last_at, change.at)
                row.fire_count += 1
                row.evidence = change.evidence
            return
        root = change.root
        if root is not None:
            view.root_id = root.id  # a root opened earlier in this list has its id now
        subject = change.subject
        added = workflow_store.add_suppressed(
            session,
            open_key=view.key,
            rule_id=change.rule.id,
            target=change.target,
            room_id=subject.room_id,
            device_id=subject.device_pk,
            agent_id=subject.agent_id,
            level=change.level,
            title=change.title,
            reason=view.reason,
            root_fault_id=view.root_id,
            window_id=view.window_id,
            first_at=change.at,
            last_at=change.at,
            evidence=change.evidence,
        )
        added.fire_count = max(added.fire_count, change.fire_count)
        view.id = added.id
        if root is not None:
            detail = {
                "rule": change.rule.id,
                "target": change.target,
                "level": int(change.rule.level),
            }
            faults_store.add_event(
                session, self._row(session, root), change.at, "dependent_suppressed", detail
            )

    @staticmethod
    def _set_guard(session: Session, change: SetGuard) -> None:
        count = change.count
        row = session.get(FaultGuard, (change.key, change.rule_id))
        if row is None:
            row = FaultGuard(open_key=change.key, rule_id=change.rule_id, room_id=change.room_id)
            session.add(row)
        row.since, row.polls, row.history = count.since, count.polls, count.history


__all__ = ["FaultStore", "Transition"]

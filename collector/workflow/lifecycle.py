"""The fault life cycle: statuses, the allowed transitions, and every change recorded.

    open ─▶ acknowledged ─▶ on_site ─▶ resolved ─▶ closed
      │          ▲  │          ▲          │
      └─▶ waiting_customer / waiting_parts ┘   (resolved ─▶ open: reopened)

Every change is a ``FaultEvent`` with actor and time, calls the SLA hooks
(``status_changed``; ``level_changed`` when an engineer reclassifies) and sends one
notification (``notify``; not inside a maintenance
window). The collector itself resolves rule faults when their condition clears (actor
``roomwatch``); a person resolving or closing a fault gives the maintenance log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from roomwatch.collector.db import faults_store, workflow_store
from roomwatch.collector.db.faults_store import ACTIVE_STATUSES, SYSTEM_ACTOR
from roomwatch.collector.db.models import Fault
from roomwatch.collector.dispatch.assign import assign_from_roster
from roomwatch.collector.levels import Level
from roomwatch.collector.maintenance import MaintenanceCalendar
from roomwatch.collector.rules.book import RuleBook
from roomwatch.collector.rules.engine import device_of_target
from roomwatch.collector.sla.providers import DEFAULT_TIMEZONE
from roomwatch.collector.workflow import logbook
from roomwatch.collector.workflow.errors import LogRequired, TransitionNotAllowed, WorkflowConflict
from roomwatch.collector.workflow.hooks import FaultHooks, NoHooks
from roomwatch.collector.workflow.surveys import SurveyPolicy, ensure_survey

STATUSES = (*ACTIVE_STATUSES, "resolved", "closed")
ALLOWED: dict[str, frozenset[str]] = {
    "open": frozenset({"acknowledged", "on_site", "waiting_customer", "waiting_parts", "resolved"}),
    "acknowledged": frozenset({"on_site", "waiting_customer", "waiting_parts", "resolved"}),
    "on_site": frozenset({"acknowledged", "waiting_customer", "waiting_parts", "resolved"}),
    "waiting_customer": frozenset({"acknowledged", "on_site", "waiting_parts", "resolved"}),
    "waiting_parts": frozenset({"acknowledged", "on_site", "waiting_customer", "resolved"}),
    "resolved": frozenset({"closed", "open"}),
    "closed": frozenset(),
}
MANUAL_RULE = "manual"


class ManualFault(BaseModel):
    """A fault reported by a person (a phone call): room, optional device, level, title."""

    model_config = ConfigDict(extra="forbid")

    room_id: str
    device: str | None = None
    level: Level
    title: str = Field(min_length=1, max_length=300)
    description: str = ""
    reporter: str = Field(min_length=1, max_length=200, description="Who reported it.")
    channel: str = Field(default="phone", max_length=32)


@dataclass
class Workflow:
    """Applies status changes; shared by the fault tracker (automatic) and the API (people).
    ``rules`` is the collector's rule book (the fault tracker's): the spare quota that a
    maintenance log's spares move is decided by it."""

    hooks: FaultHooks = field(default_factory=NoHooks)
    calendar: MaintenanceCalendar | None = None
    surveys: SurveyPolicy = field(default_factory=SurveyPolicy)
    rules: RuleBook = field(default_factory=RuleBook.builtin)

    # --- automatic ------------------------------------------------------------------------
    def open_rule_fault(
        self, session: Session, *, open_key: str, at: datetime, **fields: Any
    ) -> Fault:
        """Open a rule's fault (or return the one another writer just opened)."""
        fault = faults_store.open_fault(session, open_key=open_key, at=at, source="rule", **fields)
        if fault.opened_at == at and not fault.events:
            self._opened(session, fault, at, SYSTEM_ACTOR, {"evidence": fault.evidence})
        return fault

    def auto_resolve(
        self, session: Session, fault: Fault, at: datetime, reason: str, **detail: Any
    ) -> None:
        """The condition cleared: resolved with the recovery time, by the collector."""
        old = fault.status
        faults_store.mark_resolved(fault, at)
        self._changed(
            session, fault, old, "resolved", at, SYSTEM_ACTOR, {"reason": reason, **detail}
        )

    def auto_reopen(self, session: Session, fault: Fault, at: datetime, **detail: Any) -> None:
        """The incident of a fault resolved moments ago is back: the same fault reopens
        (event ``reopened``, SLA hooks told) without a new notification: one incident
        pages once."""
        faults_store.reopen(fault, at)
        faults_store.add_event(
            session, fault, at, "reopened", {"from": "resolved", "to": "open", **detail}
        )
        self.hooks.status_changed(session, fault, "resolved", "open", at)

    def mark_flapping(self, session: Session, fault: Fault, at: datetime, transitions: int) -> None:
        """Shown on the dashboard and in the fault's events; not announced again (the fault
        was announced when it opened)."""
        fault.flapping = True
        faults_store.add_event(session, fault, at, "flapping", {"transitions": transitions})

    # --- people ---------------------------------------------------------------------------
    def create_manual(self, session: Session, spec: ManualFault, actor: str, at: datetime) -> Fault:
        device_pk = (
            faults_store.device_pk(session, spec.room_id, spec.device) if spec.device else None
        )
        fault = faults_store.open_fault(
            session,
            open_key=None,
            at=at,
            source="manual",
            rule_id=MANUAL_RULE,
            target=f"{spec.room_id}/{spec.device or 'room'}",
            room_id=spec.room_id,
            device_id=device_pk,
            agent_id=None,
            level=int(spec.level),
            title=spec.title,
            description=spec.description,
            evidence={"reported_via": spec.channel},
            reporter=spec.reporter,
        )
        self._opened(
            session, fault, at, actor, {"reporter": spec.reporter, "channel": spec.channel}
        )
        return fault

    def transition(
        self,
        session: Session,
        fault: Fault,
        to: str,
        actor: str,
        at: datetime,
        note: str = "",
        log: logbook.LogEntry | None = None,
    ) -> Fault:
        """Change the status by hand, as the allowed-transition table permits."""
        old = fault.status
        if to not in ALLOWED.get(old, frozenset()):
            allowed = ", ".join(sorted(ALLOWED.get(old, frozenset()))) or "nothing"
            raise TransitionNotAllowed(f"fault {fault.id} is {old}: it can go to {allowed}")
        if to in ("resolved", "closed"):
            self._require_log(session, fault, log, actor, at)
        detail: dict[str, Any] = {"note": note} if note else {}
        if to == "acknowledged" and fault.acknowledged_at is None:
            fault.acknowledged_at = at
        if to == "on_site":
            fault.on_site_visits += 1
            fault.acknowledged_at = fault.acknowledged_at or at
        if fault.assignee is None and to in ("acknowledged", "on_site"):
            fault.assignee = actor
        if to == "resolved":
            faults_store.mark_resolved(fault, at)
            detail["recovered_at"] = at.isoformat()
        elif to == "closed":
            fault.status = "closed"
            fault.closed_at = at
            fault.open_key = None
        elif to == "open":
            self._reopen(session, fault)
        else:
            fault.status = to
        self._changed(session, fault, old, to, at, actor, detail)
        if to in ("resolved", "closed"):
            ensure_survey(session, fault, self.surveys, at)
        return fault

    def add_remote_session(
        self,
        session: Session,
        fault: Fault,
        actor: str,
        at: datetime,
        note: str = "",
        duration_min: float | None = None,
    ) -> Fault:
        """An engineer worked on the fault remotely (phone, remote desktop)."""
        if fault.status == "closed":
            raise TransitionNotAllowed(f"fault {fault.id} is closed")
        fault.remote_sessions += 1
        detail: dict[str, Any] = {"count": fault.remote_sessions}
        if note:
            detail["note"] = note
        if duration_min is not None:
            detail["duration_min"] = duration_min
        faults_store.add_event(session, fault, at, "remote_session", detail, actor)
        return fault

    def change_level(
        self,
        session: Session,
        fault: Fault,
        level: Level,
        actor: str,
        at: datetime,
        note: str,
        clocks_from_now: bool = False,
        notify: bool = True,
    ) -> Fault:
        """Reclassify an active fault (the diagnosis showed it graver or milder than it
        looked). Its SLA clocks take the new level's budgets from their start (or from now,
        when the fault only now became graver: a class begins with the recorder down); the
        change is an event (``level_changed``, from, to, why) and one notification."""
        if fault.status not in ACTIVE_STATUSES:
            raise TransitionNotAllowed(f"fault {fault.id} is {fault.status}: its level is final")
        old = fault.level
        if old == int(level):
            return fault
        fault.level = int(level)
        detail = {"from": old, "to": int(level), "note": note}
        faults_store.add_event(session, fault, at, "level_changed", detail, actor)
        self.hooks.level_changed(session, fault, old, int(level), at, clocks_from_now)
        if notify:
            self._notify(session, fault, "level_changed", at)
        return fault

    def save_log(
        self, session: Session, fault: Fault, entry: logbook.LogEntry, actor: str, at: datetime
    ) -> None:
        self._save_log(session, fault, entry, actor, at)

    def delete_log(self, session: Session, fault: Fault, actor: str, at: datetime) -> None:
        """Remove the fault's maintenance log; the spares it took go back to stock. A closed
        fault keeps its log (closing required it)."""
        if fault.status == "closed":
            raise WorkflowConflict(f"fault {fault.id} is closed: its maintenance log stays")
        if not workflow_store.delete_log(session, fault.id):
            return
        faults_store.add_event(session, fault, at, "log_deleted", {}, actor)
        self._follow_spares(session, fault, actor, at)

    # --- internals ------------------------------------------------------------------------
    def _save_log(
        self, session: Session, fault: Fault, entry: logbook.LogEntry, actor: str, at: datetime
    ) -> None:
        logbook.save(session, fault, entry, actor, at)
        self._follow_spares(session, fault, actor, at)

    def _follow_spares(self, session: Session, fault: Fault, actor: str, at: datetime) -> None:
        # Imported here: the spare service applies faults through the fault store, which
        # itself imports this package.
        from roomwatch.collector.spares.stock import follow_log

        follow_log(session, self, fault, actor, at)

    def _require_log(
        self,
        session: Session,
        fault: Fault,
        log: logbook.LogEntry | None,
        actor: str,
        at: datetime,
    ) -> None:
        if log is not None:
            self._save_log(session, fault, log, actor, at)
        elif workflow_store.get_log(session, fault.id) is None:
            raise LogRequired(
                f"fault {fault.id}: give the maintenance log (phenomenon, cause, solution, "
                "engineer, parts replaced, spares used) to resolve or close it"
            )

    def _reopen(self, session: Session, fault: Fault) -> None:
        key = (
            None
            if fault.source == "manual"
            else fault.fault_key or f"{fault.rule_id}|{fault.target}"
        )
        if key is not None and faults_store.find_active(session, key) is not None:
            raise WorkflowConflict(
                f"fault {fault.id} cannot reopen: an active fault for {fault.target} exists"
            )
        fault.status = "open"
        fault.open_key = key
        fault.resolved_at = None

    def _opened(
        self, session: Session, fault: Fault, at: datetime, actor: str, detail: dict[str, Any]
    ) -> None:
        faults_store.add_event(
            session, fault, at, "opened", {"level": fault.level, **detail}, actor
        )
        # Before the hooks: the opened notification goes to the assignee first.
        timezone = self.calendar.default_timezone if self.calendar else DEFAULT_TIMEZONE
        assign_from_roster(session, fault, at, timezone)
        self.hooks.fault_opened(session, fault, at)
        self._notify(session, fault, "opened", at)

    def _changed(
        self,
        session: Session,
        fault: Fault,
        old: str,
        new: str,
        at: datetime,
        actor: str,
        detail: dict[str, Any],
    ) -> None:
        kind = "reopened" if new == "open" else new
        faults_store.add_event(session, fault, at, kind, {"from": old, "to": new, **detail}, actor)
        self.hooks.status_changed(session, fault, old, new, at)
        self._notify(session, fault, kind, at)

    def _notify(self, session: Session, fault: Fault, transition: str, at: datetime) -> None:
        if fault.source != "manual" and self.muted(session, fault, at):
            return  # a maintenance window: recorded, not announced
        self.hooks.notify(session, fault, transition, at)

    def muted(self, session: Session, fault: Fault, at: datetime) -> bool:
        """Whether a maintenance window covers the fault's device now (no notifications)."""
        if self.calendar is None or fault.room_id is None:
            return False
        device = device_of_target(fault.target)
        return self.calendar.active_window(session, fault.room_id, device, at) is not None


__all__ = ["ALLOWED", "MANUAL_RULE", "STATUSES", "ManualFault", "Workflow"]

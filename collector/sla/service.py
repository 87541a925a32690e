"""The SLA service the fault lifecycle calls: clocks start when a fault opens, stop at the
matching transition, pause while waiting for the customer or parts; a periodic sweep
records breaches and fires the escalation chain; complaints escalate at once. Every step
and transition that concerns people is enqueued in the notification outbox in the caller's
transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from roomwatch.collector.db import faults_store, sla_store
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.sla_models import SlaClock
from roomwatch.collector.dispatch.assign import first_contacts
from roomwatch.collector.notify.outbox import Message, tell_contacts
from roomwatch.collector.sla import clocks as clock_math
from roomwatch.collector.sla import corrections, escalation, messages
from roomwatch.collector.sla.calendar import BusinessCalendar
from roomwatch.collector.sla.clocks import ClockView
from roomwatch.collector.sla.errors import PolicyError
from roomwatch.collector.sla.escalation import EscalationStep
from roomwatch.collector.sla.policies import KINDS, PolicyDoc, WorkingHoursSpec
from roomwatch.collector.sla.providers import CalendarProvider, PolicyProvider, SqlPolicies

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
WAITING = frozenset({"waiting_customer", "waiting_parts"})
# Which clocks a status stops (a later stop also stops the earlier clocks still running).
STOPS: dict[str, tuple[str, ...]] = {
    "acknowledged": ("respond",),
    "on_site": ("respond", "on_site"),
    "resolved": KINDS,
    "closed": KINDS,
}
SLA_ACTOR = "roomwatch-sla"


def system_clock() -> datetime:
    return datetime.now(UTC)


class SlaService:
    """Policies and calendars come from the providers (SQL by default); time from
    ``clock``. With ``notify`` off nothing is enqueued (the steps are still recorded).

    The lifecycle calls ``start_clocks`` when a fault opens, ``on_status_change`` on every
    status change and ``notify_transition`` for the transitions people hear about; the
    collector's tick calls ``due_escalations``."""

    def __init__(
        self,
        calendar_provider: CalendarProvider | None = None,
        policies: PolicyProvider | None = None,
        clock: Clock = system_clock,
        *,
        notify: bool = True,
        public_url: str | None = None,
    ) -> None:
        self.calendars = calendar_provider if calendar_provider is not None else CalendarProvider()
        self.policies: PolicyProvider = policies if policies is not None else SqlPolicies()
        self.clock = clock
        self.notify = notify
        self.public_url = public_url  # links in notifications; None: no link
        self._warned_roles: set[tuple[str, str | None]] = set()

    # ------------------------------------------------------------ lifecycle hooks

    def start_clocks(self, session: Session, fault: Fault, at: datetime) -> None:
        """Start the clocks of the fault's level under its site's policy (idempotent)."""
        if fault.id is None:
            session.flush()
        site_id, timezone = sla_store.fault_site(session, fault)
        policy = self.policies.policy_for_site(session, site_id)
        if policy is None:
            log.warning("fault %s: no SLA policy for site %s, no clocks started", fault.id, site_id)
            return
        calendar = self.calendars.calendar(session, policy.working_hours, timezone)
        existing = {clock.kind for clock in sla_store.clocks_of(session, fault.id)}
        for kind, spec in policy.deadlines(fault.level).items():
            if spec.starts == "opened" and kind not in existing:
                self._add_clock(session, fault, policy, calendar, kind, at)

    def on_status_change(
        self, session: Session, fault: Fault, old: str, new: str, at: datetime
    ) -> None:
        """Apply a transition: waiting states pause every running clock and leaving them
        resumes; acknowledged / on_site / resolved / closed stop their clocks."""
        if old == new:
            return
        site_id, timezone = sla_store.fault_site(session, fault)
        policy = self._policy_of_fault(session, fault, site_id)
        if policy is None:
            return
        calendar = self.calendars.calendar(session, policy.working_hours, timezone)
        if new in WAITING and old not in WAITING:
            self._note_breaches(session, fault, policy, calendar, at)
            for clock in sla_store.clocks_of(session, fault.id):
                clock_math.pause(clock, at)
        elif old in WAITING and new not in WAITING:
            for clock in sla_store.clocks_of(session, fault.id):
                clock_math.resume(clock, at, self._clock_calendar(session, clock, calendar))
        if new == "open" and old in corrections.STOPPED_BY_RESOLUTION:
            corrections.resume_after_reopen(
                session, fault.id, at, lambda c: self._clock_calendar(session, c, calendar)
            )
        for clock in sla_store.clocks_of(session, fault.id):
            if clock.kind in STOPS.get(new, ()):
                clock_math.stop(clock, at, new, self._clock_calendar(session, clock, calendar))

    def notify_transition(
        self, session: Session, fault: Fault, transition: str, at: datetime
    ) -> None:
        """Enqueue the message of one fault transition ("opened", "resolved", ...) to the
        first role of the chain (the engineer on duty), when the policy's ``notify_on``
        lists it (or "*"). The same transition at the same instant is one message."""
        site_id, timezone = sla_store.fault_site(session, fault)
        policy = self._policy_of_fault(session, fault, site_id)
        if policy is None or not policy.notifies(transition):
            return
        calendar = self.calendars.calendar(session, policy.working_hours, timezone)
        self._notify_transition(session, fault, transition, at, site_id, calendar, policy)

    def notify_role(
        self, session: Session, fault: Fault, role: str, transition: str, at: datetime
    ) -> tuple[str, ...]:
        """Tell the contacts of ``role`` (e.g. ``project_lead``) about one transition of the
        fault, whatever the policy's chain: a spare shortage is the lead's to order. Returns
        who was told; the same transition at the same instant is one message."""
        site_id, timezone = sla_store.fault_site(session, fault)
        zone = timezone or self.calendars.default_timezone
        running = [
            (clock.kind, clock.deadline_at)
            for clock in sla_store.clocks_of(session, fault.id)
            if clock.stopped_at is None
        ]
        subject, body = messages.transition(
            fault, transition, at, zone, running, self._reader(session, fault)
        )
        key = f"fault|{fault.id}|{transition}|{role}|{at.isoformat()}"
        return self._notify_role(session, fault, site_id, role, subject, body, key, at)

    def on_level_change(
        self,
        session: Session,
        fault: Fault,
        old: int,
        new: int,
        at: datetime,
        from_now: bool = False,
    ) -> None:
        """A fault's level changed: running clocks take the new level's budgets (from their
        start; with ``from_now``, from ``at``: the fault became graver now, as when a class
        begins), clocks the new level lacks stop as met, clocks it adds start now."""
        if old == new:
            return
        site_id, timezone = sla_store.fault_site(session, fault)
        policy = self._policy_of_fault(session, fault, site_id)
        if policy is None:
            return
        calendar = self.calendars.calendar(session, policy.working_hours, timezone)
        deadlines = policy.deadlines(new)
        existing = {}
        for clock in sla_store.clocks_of(session, fault.id):
            existing[clock.kind] = clock
            if clock.stopped_by == "level_changed" and clock.kind in deadlines:
                # stopped when the level had no such clock; it has again: running again
                clock.stopped_at, clock.stopped_by, clock.met = None, None, None
            if clock.stopped_at is not None:
                continue
            spec = deadlines.get(clock.kind)
            if spec is None:
                clock_math.stop(clock, at, "level_changed", calendar)
                continue
            if from_now:  # a new clock in all but its row: no breach, no escalation yet
                clock.started_at, clock.paused_total_s = at, 0.0
                clock.restarted_at, clock.breached_at = at, None
                if clock.paused_at is not None:
                    clock.paused_at = at
            clock.level = new
            clock.measure = spec.within.measure
            clock.budget_s = spec.within.seconds(calendar.working_day_s)
            clock.deadline_at = calendar.advance(
                clock.started_at, clock.budget_s + clock.paused_total_s, spec.within.measure
            )
        for kind, spec in deadlines.items():
            if spec.starts == "opened" and kind not in existing:
                self._add_clock(session, fault, policy, calendar, kind, at)

    def stop_clock(
        self, session: Session, fault_id: int, kind: str, at: datetime, by: str = "manual"
    ) -> SlaClock | None:
        """Stop one clock by hand (e.g. the replacement unit was delivered); the clock, or
        None when the fault has no such clock."""
        for clock in sla_store.clocks_of(session, fault_id):
            if clock.kind == kind:
                clock_math.stop(clock, at, by, self._clock_calendar(session, clock, None))
                return clock
        return None

    def substitute_delivered(
        self, session: Session, fault: Fault, at: datetime, by: str, note: str = ""
    ) -> SlaClock:
        """A substitute (replacement) unit reached the site: the running ``replace`` clock
        stops (met when in time) and the delivery is an event of the fault. PolicyError
        when no substitute unit is due (no running replace clock)."""
        running = [c for c in sla_store.clocks_of(session, fault.id) if c.kind == "replace"]
        if not running or running[0].stopped_at is not None:
            raise PolicyError(
                f"fault {fault.id}: no substitute unit is due (no running replace clock)"
            )
        clock = running[0]
        clock_math.stop(
            clock, at, "substitute_delivered", self._clock_calendar(session, clock, None)
        )
        detail = {"clock": "replace", "met": bool(clock.met), **({"note": note} if note else {})}
        faults_store.add_event(session, fault, at, "substitute_delivered", detail, by)
        return clock

    def recompute_deadlines(self, session: Session) -> int:
        """The calendar or a policy's working hours changed: every clock that has not
        stopped gets its deadline again in today's calendar; returns how many moved."""
        return corrections.recompute_deadlines(
            sla_store.unstopped_clocks(session),
            lambda clock: self._clock_calendar(session, clock, None),
        )

    # ------------------------------------------------------------ reading

    def clocks(self, session: Session, fault_id: int) -> list[ClockView]:
        """The fault's clocks as of the injected clock's now."""
        now = self.clock()
        return [
            clock_math.view(clock, now, self._clock_calendar(session, clock, None))
            for clock in sla_store.clocks_of(session, fault_id)
        ]

    def escalations(self, session: Session, fault_id: int) -> list[EscalationStep]:
        return [escalation.step_view(row) for row in sla_store.escalations_of(session, fault_id)]

    # ------------------------------------------------------------ the sweep

    def due_escalations(self, session: Session, now: datetime) -> list[EscalationStep]:
        """Record breaches (starting clocks that run from a breach, e.g. the replacement),
        then record and notify every escalation step that became due; each step is returned
        once, ever (even with several collectors sweeping)."""
        fired: list[EscalationStep] = []
        policies: dict[str, PolicyDoc | None] = {}
        for clock, fault in sla_store.running_clocks(session):
            if clock.policy_id not in policies:
                policies[clock.policy_id] = self.policies.policy(session, clock.policy_id)
            policy = policies[clock.policy_id]
            if fault.status in ("resolved", "closed"):
                # The transition did not reach the SLA hooks: stop where the fault ended.
                ended = fault.resolved_at or now
                clock_math.stop(
                    clock, ended, fault.status, self._clock_calendar(session, clock, None)
                )
                continue
            if policy is None:
                continue
            site_id, _ = sla_store.fault_site(session, fault)
            if clock_math.note_breach(clock, now):
                self._breached(session, fault, clock, policy, now)
            for index, step in escalation.due_steps(policy.escalation, clock, now):
                row = sla_store.record_escalation(
                    session,
                    fault_id=fault.id,
                    step_key=escalation.step_key(fault.id, clock.kind, index, clock.restarted_at),
                    trigger=step.when,
                    clock_kind=clock.kind,
                    rank=policy.escalation.chain().index(step.role),
                    role=step.role,
                    at=now,
                    actor=SLA_ACTOR,
                    text="",
                )
                if row is None:
                    continue
                subject, body = messages.escalation(
                    fault,
                    step.when,
                    step.role,
                    clock.kind,
                    clock.deadline_at,
                    clock.timezone,
                    reader=self._reader(session, fault),
                )
                recipients = self._notify_role(
                    session,
                    fault,
                    site_id,
                    step.role,
                    subject,
                    body,
                    f"esc|{row.id}",
                    now,
                    first=row.rank == 0,
                )
                row.notified = len(recipients)
                faults_store.add_event(
                    session,
                    fault,
                    now,
                    "sla_escalated",
                    {"clock": clock.kind, "trigger": step.when, "role": step.role},
                    SLA_ACTOR,
                )
                fired.append(escalation.step_view(row, recipients))
        return fired

    def complaint(
        self, session: Session, fault: Fault, at: datetime, by: str, text: str
    ) -> EscalationStep:
        """Log a customer complaint: it escalates to the chain's complaint role, or one role
        above the highest the fault reached, and is notified at once."""
        site_id, timezone = sla_store.fault_site(session, fault)
        policy = self._policy_of_fault(session, fault, site_id)
        if policy is None:
            raise PolicyError(f"fault {fault.id}: no SLA policy to escalate a complaint with")
        chain = policy.escalation.chain()
        rank = escalation.complaint_rank(
            policy.escalation, sla_store.highest_rank(session, fault.id)
        )
        row = sla_store.record_escalation(
            session,
            fault_id=fault.id,
            step_key=None,
            trigger="complaint",
            clock_kind=None,
            rank=rank,
            role=chain[rank],
            at=at,
            actor=by,
            text=text,
        )
        assert row is not None  # no step_key, nothing to collide with
        subject, body = messages.escalation(
            fault,
            "complaint",
            chain[rank],
            None,
            None,
            timezone or self.calendars.default_timezone,
            text,
            reader=self._reader(session, fault),
        )
        recipients = self._notify_role(
            session,
            fault,
            site_id,
            chain[rank],
            subject,
            body,
            f"esc|{row.id}",
            at,
            first=rank == 0,
        )
        row.notified = len(recipients)
        faults_store.add_event(
            session, fault, at, "complaint", {"text": text, "escalated_to": chain[rank]}, by
        )
        return escalation.step_view(row, recipients)

    # ------------------------------------------------------------ internals

    def _add_clock(
        self,
        session: Session,
        fault: Fault,
        policy: PolicyDoc,
        calendar: BusinessCalendar,
        kind: str,
        start: datetime,
    ) -> SlaClock | None:
        spec = policy.deadlines(fault.level)[kind]
        budget_s = spec.within.seconds(calendar.working_day_s)
        return sla_store.add_clock(
            session,
            fault_id=fault.id,
            kind=kind,
            policy_id=policy.id,
            level=fault.level,
            measure=spec.within.measure,
            budget_s=budget_s,
            timezone=calendar.tz.key,
            started_at=start,
            deadline_at=calendar.advance(start, budget_s, spec.within.measure),
        )

    def _breached(
        self, session: Session, fault: Fault, clock: SlaClock, policy: PolicyDoc, at: datetime
    ) -> None:
        """A clock breached: start the clocks that run from its breach (replacement)."""
        faults_store.add_event(
            session,
            fault,
            at,
            "sla_breached",
            {"clock": clock.kind, "deadline": clock.deadline_at.isoformat()},
            SLA_ACTOR,
        )
        trigger = f"{clock.kind}_breached"
        calendar = self._clock_calendar(session, clock, None)
        existing = {c.kind for c in sla_store.clocks_of(session, fault.id)}
        for kind, spec in policy.deadlines(clock.level).items():
            if spec.starts == trigger and kind not in existing:
                assert clock.breached_at is not None
                self._add_clock(session, fault, policy, calendar, kind, clock.breached_at)

    def _note_breaches(
        self,
        session: Session,
        fault: Fault,
        policy: PolicyDoc,
        calendar: BusinessCalendar,
        at: datetime,
    ) -> None:
        for clock in sla_store.clocks_of(session, fault.id):
            running = clock.stopped_at is None and clock.paused_at is None
            if running and clock_math.note_breach(clock, at):
                self._breached(session, fault, clock, policy, at)

    def _policy_of_fault(
        self, session: Session, fault: Fault, site_id: str | None
    ) -> PolicyDoc | None:
        for clock in sla_store.clocks_of(session, fault.id):
            found = self.policies.policy(session, clock.policy_id)
            if found is not None:
                return found
        return self.policies.policy_for_site(session, site_id)

    def _clock_calendar(
        self, session: Session, clock: SlaClock, fallback: BusinessCalendar | None
    ) -> BusinessCalendar:
        """The calendar a clock counts in: its policy's hours in the zone it started in."""
        policy = self.policies.policy(session, clock.policy_id)
        if policy is None and fallback is not None:
            return fallback
        hours = policy.working_hours if policy is not None else WorkingHoursSpec()
        return self.calendars.calendar(session, hours, clock.timezone)

    def _notify_transition(
        self,
        session: Session,
        fault: Fault,
        status: str,
        at: datetime,
        site_id: str | None,
        calendar: BusinessCalendar,
        policy: PolicyDoc,
    ) -> None:
        chain = policy.escalation.chain()
        if not chain:
            return
        running = [
            (clock.kind, clock.deadline_at)
            for clock in sla_store.clocks_of(session, fault.id)
            if clock.stopped_at is None
        ]
        subject, body = messages.transition(
            fault, status, at, calendar.tz.key, running, self._reader(session, fault)
        )
        key = f"fault|{fault.id}|{status}|{at.isoformat()}"
        self._notify_role(session, fault, site_id, chain[0], subject, body, key, at, first=True)

    def _reader(self, session: Session, fault: Fault) -> messages.Reader:
        """The site's language and where the fault is, for its messages."""
        return messages.Reader(sla_store.fault_place(session, fault), self.public_url)

    def _notify_role(
        self,
        session: Session,
        fault: Fault,
        site_id: str | None,
        role: str,
        subject: str,
        body: str,
        key: str,
        at: datetime,
        *,
        first: bool = False,
    ) -> tuple[str, ...]:
        """Enqueue one message per contact and channel of ``role``; returns who. For the
        chain's first role (``first``) the fault's assignee, else the engineer the site's
        roster has on duty, comes before the role's contacts (``collector.dispatch``)."""
        contacts = sla_store.contacts_for(session, role, site_id)
        if first:
            lead = first_contacts(session, fault, site_id, at, self.calendars.default_timezone)
            lead_ids = {contact.id for contact in lead}
            contacts = lead + [c for c in contacts if c.id not in lead_ids]
        if not contacts and (role, site_id) not in self._warned_roles:
            self._warned_roles.add((role, site_id))
            log.warning("no SLA contact with role %s for site %s: nobody notified", role, site_id)
        reader = self._reader(session, fault)
        # Machine fields beside the text, for receivers that route or file tickets.
        data = {
            "fault_id": fault.id,
            "level": fault.level,
            "role": role,
            "rule": fault.rule_id,
            "site": reader.place.site_id,
            "site_name": reader.place.site_name,
            "room": fault.room_id,
            "room_name": reader.place.room_name,
            "device": reader.place.device,
            "model": reader.place.device_model,
            "language": reader.place.language,
            "url": reader.link(fault.id),
        }
        message = Message(subject, body, at, key, data, fault_id=fault.id)
        return tell_contacts(session, contacts, message, send=self.notify)

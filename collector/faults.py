"""From verdicts to fault rows: evaluate → guard → inhibit → ladder → suppress → apply.

The decisions are the pure stages of ``collector.fault_decide``; this module loads what
they need once per batch (``collector.fault_room``) and applies what they return.

- Guards: a (rule, target) opens only after firing on ``guard_polls`` consecutive polls
  (2 for L1/L2 rules by default) and for ``for:``; counts live in memory and start over
  after a restart (a restart can delay an opening by one guard, never cause one).
- Ladders: one active fault per (concern or rule, target); its level follows the most
  urgent rung (``level_changed``, one notification per raise; never over a person's level).
- Live text: a firing updates the fault's title and evidence.
- Reopen: firing again within ``reopen_s`` of resolution reopens the same fault; a fault
  that changed state ``transitions`` times within ``window_s`` is marked flapping and held
  until clear for ``hold_s`` (``FlapPolicy``; per rule in YAML, default from the tracker).
- Root cause: a device's firing is recorded as *suppressed* (not opened, not announced) while
  one of its ancestors in the room graph has an active fault of a rule that
  ``suppresses_dependents``, and for the ancestor's recovery grace after it resolved (a
  camera booting after its PoE switch); a device still failing after that opens then.
- Maintenance windows: a firing inside a window is recorded as *muted*; it opens if it is
  still firing after the window.

Devices of one message are evaluated parents first, so a failed switch's fault exists before
its cameras' verdicts arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent.wire import DeviceSample, Event
from collector.db import faults_store, workflow_store
from collector.db.faults_store import SYSTEM_ACTOR
from collector.db.models import Device, Fault
from collector.db.workflow_models import (
    OUTCOME_CLEARED,
    OUTCOME_OPENED,
    REASON_MAINTENANCE,
    REASON_ROOT_CAUSE,
    SuppressedFiring,
)
from collector.fault_decide import (
    ClearStep,
    GuardCount,
    flapping_on_reopen,
    group_by_key,
    guard,
    inhibit,
    ladder,
    may_reopen,
    on_clear,
)
from collector.fault_room import RoomState
from collector.graph import RoomGraph
from collector.levels import Level
from collector.maintenance import MaintenanceCalendar
from collector.rules.book import RuleBook
from collector.rules.engine import RuleEngine, State, Verdict
from collector.rules.model import FlapPolicy, Rule
from collector.workflow import Workflow

log = logging.getLogger(__name__)

AGENT_DEVICE = "agent"
_ROOMS_PER_STATEMENT = 500  # rooms per IN (...) list when loading a batch's rooms


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


@dataclass(frozen=True)
class Subject:
    """What a sample is about, in the collector's inventory."""

    room_id: str
    agent_id: str
    device_pk: int | None = None
    site_id: str | None = None


class FaultTracker:
    """Applies rule verdicts to SQL. Pending ``for:`` timers live in memory."""

    def __init__(
        self,
        rules: RuleEngine | RuleBook,
        workflow: Workflow | None = None,
        calendar: MaintenanceCalendar | None = None,
        flapping: FlapPolicy | None = None,
    ) -> None:
        self.book = rules if isinstance(rules, RuleBook) else RuleBook.fixed(rules)
        self.calendar = calendar if calendar is not None else MaintenanceCalendar()
        self.workflow = workflow if workflow is not None else Workflow(calendar=self.calendar)
        self.flapping = flapping or FlapPolicy()
        # open key → rule id → guard count of the rungs firing and not yet opened
        self._guards: dict[str, dict[str, GuardCount]] = {}
        self._rooms_session: Session | None = None
        self._rooms: dict[str, RoomState] = {}

    @property
    def engine(self) -> RuleEngine:
        return self.book.engine

    # --- entry points ---------------------------------------------------------------------
    def observe(
        self, session: Session, subject: Subject, sample: DeviceSample, at: datetime
    ) -> list[Transition]:
        return self.observe_devices(session, subject, [(sample, subject.device_pk)], at)

    def observe_message(
        self,
        session: Session,
        subject: Subject,
        samples: Sequence[tuple[DeviceSample, int | None]],
        at: datetime,
    ) -> list[Transition]:
        """One metrics message: the agent is present, then every device it reported."""
        return self.observe_devices(session, subject, [(_presence(True), None), *samples], at)

    def observe_devices(
        self,
        session: Session,
        subject: Subject,
        samples: Sequence[tuple[DeviceSample, int | None]],
        at: datetime,
    ) -> list[Transition]:
        """Evaluate every device of one message, parents before children."""
        self.book.refresh(session)
        subject = _with_site(session, subject)
        room = self._room(session, subject.room_id)
        ordered = room.graph.parents_first(samples, lambda item: item[0].device)
        transitions: list[Transition] = []
        guards = self._guards

        def waited_on(key: str) -> bool:  # a clear or hold verdict on any other key is a no-op
            return key in room.active or key in room.suppressed or key in guards

        for sample, device_pk in ordered:
            device_subject = Subject(subject.room_id, subject.agent_id, device_pk, subject.site_id)
            verdicts = self.engine.evaluate(
                subject.room_id, sample, at, subject.site_id, relevant=waited_on
            )
            if verdicts:
                transitions.extend(self._decide(room, device_subject, verdicts, at))
        return transitions

    def observe_events(
        self, session: Session, subject: Subject, events: list[Event]
    ) -> list[Transition]:
        """Agent events (traps, process start/stop) against the event rules."""
        self.book.refresh(session)
        subject = _with_site(session, subject)
        room = self._room(session, subject.room_id)
        transitions: list[Transition] = []
        for event in sorted(events, key=lambda e: e.at):
            known = faults_store.device_kind(session, subject.room_id, event.device)
            kind, model = known if known is not None else ("unknown", None)
            device_subject = Subject(
                subject.room_id,
                subject.agent_id,
                faults_store.device_pk(session, subject.room_id, event.device),
                subject.site_id,
            )
            verdicts = self.engine.evaluate_event(
                subject.room_id, event, kind, model, subject.site_id
            )
            transitions.extend(self._decide(room, device_subject, verdicts, event.at))
        return transitions

    def agent_presence(
        self,
        session: Session,
        room_id: str,
        agent_id: str,
        online: bool,
        at: datetime,
        site_id: str | None = None,
    ) -> list[Transition]:
        """The agent came (back) or went: evaluated like a device with metric ``online``."""
        subject = Subject(room_id=room_id, agent_id=agent_id, site_id=site_id)
        return self.observe(session, subject, _presence(online), at)

    # --- one verdict ----------------------------------------------------------------------
    def load_rooms(self, session: Session, room_ids: Iterable[str]) -> None:
        """Load the state of every room a batch touches in three statements (instead of
        three per room when ``_room`` meets them one by one)."""
        if self._rooms_session is not session:
            self._rooms_session, self._rooms = session, {}
        missing = sorted(set(room_ids) - self._rooms.keys())
        for start in range(0, len(missing), _ROOMS_PER_STATEMENT):
            self._rooms.update(
                self._load_rooms(session, missing[start : start + _ROOMS_PER_STATEMENT])
            )

    def _room(self, session: Session, room_id: str) -> RoomState:
        """The room's state for this session (one batch): loaded once, then kept current."""
        if self._rooms_session is not session or room_id not in self._rooms:
            self.load_rooms(session, [room_id])
        return self._rooms[room_id]

    def _load_rooms(self, session: Session, room_ids: list[str]) -> dict[str, RoomState]:
        """Active fault keys, active suppressed firings and the graph of each room."""
        active = _open_keys(session, Fault, room_ids)
        suppressed = _open_keys(session, SuppressedFiring, room_ids)
        links: dict[str, list[tuple[str, str | None]]] = {room_id: [] for room_id in room_ids}
        for room_id, device, parent in session.execute(
            select(Device.room_id, Device.device, Device.parent).where(Device.room_id.in_(room_ids))
        ):
            links[room_id].append((device, parent))
        suppressing = frozenset(r.id for r in self.engine.rules if r.suppresses_dependents)
        grace_s = max(
            (
                s
                for r in self.engine.rules
                if r.suppresses_dependents
                for s in r.recovery_grace_s.values()
            ),
            default=0.0,
        )
        return {
            room_id: RoomState(
                session,
                room_id,
                active[room_id],
                suppressed[room_id],
                _graph=RoomGraph.from_links(links[room_id]),
                suppressing_rules=suppressing,
                grace_s=grace_s,
            )
            for room_id in room_ids
        }

    def _decide(
        self, room: RoomState, subject: Subject, verdicts: list[Verdict], at: datetime
    ) -> list[Transition]:
        """One device's verdicts through guard, inhibition and ladder, then applied."""
        transitions: list[Transition] = []
        verdicts = inhibit(verdicts, room.active, self._key_name)
        for key, rungs in group_by_key(verdicts).items():
            fault = room.fault(key)
            polls, passed = self._guard(key, rungs, at, bypass=key in room.suppressed)
            verdict = ladder(rungs, self._rung_of(fault, rungs), passed)
            if fault is not None:
                if verdict.state is State.CLEAR:
                    transitions.extend(self._clear(room, verdict, fault, at))
                else:
                    transitions.extend(self._follow(room, verdict, fault, at))
            elif verdict.state is State.FIRE:
                # Counts stay: a more urgent rung still counting may raise the fault later.
                transitions.extend(self._fire(room, subject, verdict, at, polls))
            elif verdict.state is State.CLEAR and key in room.suppressed:
                self._end_suppressed(room, key, at)
        return transitions

    def _key_name(self, rule_id: str) -> str:
        rule = self.engine.rule(rule_id)
        return rule.fault_key_name if rule is not None else rule_id

    def _guard(
        self, key: str, rungs: list[Verdict], at: datetime, bypass: bool
    ) -> tuple[int, set[str]]:
        """Count each rung's consecutive firing polls; the rungs whose guard passed (all
        firing ones for a firing already recorded as suppressed) and the most polls seen."""
        counts = self._guards.get(key, {})
        passed: set[str] = set()
        polls = 1
        for rung in rungs:
            ok, count = guard(counts, rung, at)
            if count is None:
                counts.pop(rung.rule.id, None)
                continue
            counts[rung.rule.id] = count
            polls = max(polls, count.polls)
            if ok or bypass:
                passed.add(rung.rule.id)
        if counts:
            self._guards[key] = counts
        else:
            self._guards.pop(key, None)
        return polls, passed

    def _rung_of(self, fault: Fault | None, rungs: list[Verdict]) -> Rule | None:
        if fault is None:
            return None
        rule = next((v.rule for v in rungs if v.rule.id == fault.rule_id), None)
        return rule or self.engine.rule(fault.rule_id) or rungs[0].rule

    def _follow(
        self, room: RoomState, verdict: Verdict, fault: Fault, at: datetime
    ) -> list[Transition]:
        """An open fault's condition still holds: live title and evidence, its ladder rung,
        and its level when a class begins."""
        if verdict.state is State.FIRE:
            faults_store.touch_fault(fault, at, verdict.evidence(), verdict.title())
            fault.clear_since = None
        if verdict.rule.id != fault.rule_id:
            stepped = self._step(room, verdict, fault, at)
            return [] if stepped is None else [stepped]
        if verdict.state is State.FIRE:
            raised = self._raise_for_class(room, verdict, fault, at)
            return [] if raised is None else [raised]
        return []

    def _step(
        self, room: RoomState, verdict: Verdict, fault: Fault, at: datetime
    ) -> Transition | None:
        """The ladder moved to another rung: the fault takes its rule, text and level (one
        notification when it rose; none when a person set the level)."""
        if self._level_set_by_person(room, fault):
            return None
        rule = verdict.rule
        fault.rule_id = rule.id
        fault.description = rule.description
        fault.title = verdict.title()[:300]
        fault.evidence = verdict.evidence()
        level = self._level_now(room, rule, at)
        if int(level) == fault.level:
            return None
        rose = int(level) < fault.level
        self.workflow.change_level(
            room.session,
            fault,
            level,
            SYSTEM_ACTOR,
            at,
            f"{rule.id}: {verdict.title()}"[:300],
            clocks_from_now=rose,
            notify=rose,
        )
        return _transition("raised" if rose else "lowered", fault)

    @staticmethod
    def _level_set_by_person(room: RoomState, fault: Fault) -> bool:
        return any(
            e.type == "level_changed" and e.actor != SYSTEM_ACTOR
            for e in faults_store.events_of(room.session, fault.id)
        )

    def _fire(
        self, room: RoomState, subject: Subject, verdict: Verdict, at: datetime, polls: int
    ) -> list[Transition]:
        key = verdict.open_key
        root = room.root_cause(verdict.device) or room.recovering_parent(
            verdict.device, verdict.kind, at, self._rules_by_id()
        )
        window = None
        if root is None:
            window = self.calendar.active_window(
                room.session, room.room_id, verdict.device, at, room.graph
            )
        firing = (
            workflow_store.find_suppressed(room.session, key) if key in room.suppressed else None
        )
        if root is not None or window is not None:
            self._record_suppressed(room, subject, verdict, at, firing, root, window, polls)
            return []
        policy = verdict.rule.flapping or self.flapping
        since = at - timedelta(seconds=policy.reopen_s)
        previous = faults_store.last_resolved(room.session, key, since)
        if previous is not None and may_reopen(previous.resolved_at, policy, at):
            return self._reopen(room, verdict, previous, firing, at, policy)
        fault = self.workflow.open_rule_fault(
            room.session,
            open_key=key,
            at=at,
            rule_id=verdict.rule.id,
            target=verdict.target,
            room_id=subject.room_id,
            device_id=subject.device_pk,
            agent_id=subject.agent_id,
            level=int(self._level_now(room, verdict.rule, at)),
            title=verdict.title()[:300],
            description=verdict.rule.description,
            evidence=verdict.evidence(),
        )
        fault.fire_count = max(fault.fire_count, polls)  # the guarded polls saw it too
        self._became_active(room, verdict, fault, firing, at)
        return [_transition("opened", fault)]

    def _reopen(
        self,
        room: RoomState,
        verdict: Verdict,
        fault: Fault,
        firing: SuppressedFiring | None,
        at: datetime,
        policy: FlapPolicy,
    ) -> list[Transition]:
        """The incident of a recently resolved fault is back: the same fault, reopened."""
        self.workflow.auto_reopen(room.session, fault, at, evidence=verdict.evidence())
        faults_store.touch_fault(fault, at, verdict.evidence(), verdict.title())
        self._became_active(room, verdict, fault, firing, at)
        transitions = [_transition("reopened", fault)]
        if verdict.rule.id != fault.rule_id:
            stepped = self._step(room, verdict, fault, at)
            transitions += [] if stepped is None else [stepped]
        since = at - timedelta(seconds=policy.window_s)
        changes = faults_store.changes_since(room.session, fault.id, since)
        if not fault.flapping and flapping_on_reopen(changes, policy):
            self.workflow.mark_flapping(room.session, fault, at, changes)
            transitions.append(_transition("flapping", fault))
        return transitions

    def _became_active(
        self,
        room: RoomState,
        verdict: Verdict,
        fault: Fault,
        firing: SuppressedFiring | None,
        at: datetime,
    ) -> None:
        room.remember(verdict.open_key, fault)
        if firing is not None:
            self._promote(room, firing, fault, at)
        if verdict.rule.suppresses_dependents and verdict.target.count("/") == 1:
            room.roots[verdict.device] = fault

    def _rules_by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.engine.rules}

    def _level_now(self, room: RoomState, rule: Rule, at: datetime) -> Level:
        """The rule's level, or its ``outside_class_level`` while the room has no class."""
        if rule.outside_class_level is None:
            return rule.level
        in_class = room.in_class(at, self.calendar.default_timezone)
        return rule.level if in_class else rule.outside_class_level

    def _raise_for_class(
        self, room: RoomState, verdict: Verdict, fault: Fault, at: datetime
    ) -> Transition | None:
        """A fault opened outside class hours becomes the rule's level once a class is
        scheduled, with its SLA clocks from now; never if a person set its level."""
        rule = verdict.rule
        if rule.outside_class_level is None or fault.level != int(rule.outside_class_level):
            return None
        if self._level_now(room, rule, at) == rule.outside_class_level:
            return None
        if any(
            e.type == "level_changed" and e.actor != SYSTEM_ACTOR
            for e in faults_store.events_of(room.session, fault.id)
        ):
            return None
        self.workflow.change_level(
            room.session,
            fault,
            rule.level,
            SYSTEM_ACTOR,
            at,
            "a class is scheduled: the lesson is not being recorded",
            clocks_from_now=True,
        )
        return _transition("raised", fault)

    def _end_suppressed(self, room: RoomState, key: str, at: datetime) -> None:
        firing = workflow_store.find_suppressed(room.session, key)
        if firing is not None:
            workflow_store.end_suppressed(firing, at, OUTCOME_CLEARED)
        room.suppressed.discard(key)

    def _clear(
        self, room: RoomState, verdict: Verdict, fault: Fault, at: datetime
    ) -> list[Transition]:
        key = verdict.open_key
        if key in room.suppressed:
            self._end_suppressed(room, key, at)
        rule = self.engine.rule(fault.rule_id) or verdict.rule
        policy = rule.flapping or self.flapping
        changes = 0
        if not fault.flapping:
            since = at - timedelta(seconds=policy.window_s)
            changes = faults_store.changes_since(room.session, fault.id, since)
        step = on_clear(
            flapping=fault.flapping,
            clear_since=fault.clear_since,
            changes_in_window=changes,
            policy=policy,
            at=at,
        )
        if step is ClearStep.MARK_FLAPPING:
            self.workflow.mark_flapping(room.session, fault, at, changes + 1)
            fault.clear_since = at
            return [_transition("flapping", fault)]
        if step is ClearStep.HOLD:
            fault.clear_since = fault.clear_since or at
            return []
        reason = f"{verdict.rule.metric or verdict.rule.id}={verdict.value:g}"
        detail = {"clear_since": fault.clear_since.isoformat()} if fault.clear_since else {}
        self.workflow.auto_resolve(room.session, fault, at, reason, **detail)
        room.forget(key)
        if room._roots is not None:
            room.roots.pop(verdict.device, None)
        if rule.suppresses_dependents:
            room.recovered(fault)
        return [_transition("resolved", fault)]

    def _record_suppressed(
        self,
        room: RoomState,
        subject: Subject,
        verdict: Verdict,
        at: datetime,
        firing: SuppressedFiring | None,
        root: Fault | None,
        window: object | None,
        polls: int = 1,
    ) -> None:
        reason = REASON_ROOT_CAUSE if root is not None else REASON_MAINTENANCE
        window_id = getattr(window, "id", None)
        root_id = root.id if root is not None else None
        if firing is not None and (firing.reason, firing.root_fault_id, firing.window_id) == (
            reason,
            root_id,
            window_id,
        ):
            firing.last_at = max(firing.last_at, at)
            firing.fire_count += 1
            firing.evidence = verdict.evidence()
            return
        if firing is not None:  # the cause changed (another root, another window)
            workflow_store.end_suppressed(firing, at, OUTCOME_CLEARED)
            room.session.flush()
        added = workflow_store.add_suppressed(
            room.session,
            open_key=verdict.open_key,
            rule_id=verdict.rule.id,
            target=verdict.target,
            room_id=subject.room_id,
            device_id=subject.device_pk,
            agent_id=subject.agent_id,
            level=int(self._level_now(room, verdict.rule, at)),
            title=verdict.title()[:300],
            reason=reason,
            root_fault_id=root_id,
            window_id=window_id,
            first_at=at,
            last_at=at,
            evidence=verdict.evidence(),
        )
        added.fire_count = max(added.fire_count, polls)  # the guarded polls saw it too
        room.suppressed.add(verdict.open_key)
        if root is not None:
            faults_store.add_event(
                room.session,
                root,
                at,
                "dependent_suppressed",
                {
                    "rule": verdict.rule.id,
                    "target": verdict.target,
                    "level": int(verdict.rule.level),
                },
            )

    def _promote(
        self, room: RoomState, firing: SuppressedFiring, fault: Fault, at: datetime
    ) -> None:
        """A suppressed firing outlived its cause: it is now ``fault``."""
        workflow_store.end_suppressed(firing, at, OUTCOME_OPENED, fault.id)
        room.suppressed.discard(fault.open_key or "")
        faults_store.add_event(
            room.session,
            fault,
            at,
            "was_suppressed",
            {"reason": firing.reason, "since": firing.first_at.isoformat(), "firing": firing.id},
        )


def _open_keys(
    session: Session, model: type[Fault] | type[SuppressedFiring], room_ids: list[str]
) -> dict[str, set[str]]:
    """room → the open keys of its active rows of ``model`` (faults or suppressed firings)."""
    keys: dict[str, set[str]] = {room_id: set() for room_id in room_ids}
    for room_id, key in session.execute(
        select(model.room_id, model.open_key).where(
            model.room_id.in_(room_ids), model.open_key.is_not(None)
        )
    ):
        if room_id is not None and key is not None:
            keys[room_id].add(key)
    return keys


def _presence(online: bool) -> DeviceSample:
    return _PRESENCE[online]


# The agent as a device (metric ``online``); samples are frozen, so two serve every message.
_PRESENCE = {
    online: DeviceSample(
        device=AGENT_DEVICE,
        kind="agent",
        reachable=online,
        metrics={"online": 1.0 if online else 0.0},
    )
    for online in (True, False)
}


def _with_site(session: Session, subject: Subject) -> Subject:
    if subject.site_id is not None:
        return subject
    site_id, _ = workflow_store.room_site(session, subject.room_id)
    return Subject(subject.room_id, subject.agent_id, subject.device_pk, site_id)


def _transition(kind: str, fault: Fault) -> Transition:
    return Transition(kind, fault.id, Level(fault.level), fault.title, fault.room_id)

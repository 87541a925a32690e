"""From verdicts to fault rows.

- ``for:`` durations: a condition must hold that long before a fault opens (timers in memory).
- One active fault per (rule, target); repeat firing updates it; clearing resolves it with the
  recovery time recorded.
- Flapping: when a (rule, target) opened and resolved ``transitions`` times within
  ``window_s``, its fault is marked flapping and held: it resolves only after staying clear
  for ``hold_s`` (``FlapPolicy``; per rule in YAML, default from the tracker).
- Root cause: a device's firing is recorded as *suppressed* (not opened, not announced) while
  one of its ancestors in the room graph has an active fault of a rule that
  ``suppresses_dependents``; when the ancestor recovers, a device still failing opens then.
- Maintenance windows: a firing inside a window is recorded as *muted*; it opens if it is
  still firing after the window.

Devices of one message are evaluated parents first, so a failed switch's fault exists before
its cameras' verdicts arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
from collector.graph import RoomGraph
from collector.levels import Level
from collector.maintenance import MaintenanceCalendar
from collector.rules.book import RuleBook
from collector.rules.engine import RuleEngine, State, Verdict, device_of_target
from collector.rules.model import FlapPolicy, Rule
from collector.timetable import Timetable
from collector.workflow import Workflow

log = logging.getLogger(__name__)

AGENT_DEVICE = "agent"
_ROOMS_PER_STATEMENT = 500  # rooms per IN (...) list when loading a batch's rooms


@dataclass(frozen=True)
class Transition:
    """A fault opened, resolved or started flapping, for counters and logs."""

    kind: str  # "opened" | "resolved" | "flapping" | "raised" (a class began)
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


@dataclass
class _Room:
    """What one message's evaluation knows about its room, loaded once per message."""

    session: Session
    room_id: str
    active: set[str]
    suppressed: set[str]
    _graph: RoomGraph | None = None
    _roots: dict[str, Fault] | None = None
    suppressing_rules: frozenset[str] = field(default_factory=frozenset)
    _timetable: tuple[Timetable | None, str] | None = None

    def in_class(self, at: datetime, default_timezone: str) -> bool:
        """Whether the room's timetable has a class at ``at``; always, without one."""
        if self._timetable is None:
            stored, zone = faults_store.room_timetable(self.session, self.room_id)
            timetable = None if stored is None else Timetable.model_validate(stored)
            self._timetable = (timetable, zone or default_timezone)
        timetable, zone = self._timetable
        return timetable is None or timetable.in_class(at, zone)

    @property
    def graph(self) -> RoomGraph:
        if self._graph is None:
            self._graph = RoomGraph.from_links(
                faults_store.room_devices(self.session, self.room_id)
            )
        return self._graph

    @property
    def roots(self) -> dict[str, Fault]:
        """device → its active fault of a rule that suppresses dependents."""
        if self._roots is None:
            faults = faults_store.active_by_rules(
                self.session, self.room_id, self.suppressing_rules
            )
            self._roots = {
                device_of_target(f.target): f for f in faults if f.target.count("/") == 1
            }
        return self._roots

    def root_cause(self, device: str) -> Fault | None:
        if not self.suppressing_rules:
            return None
        failed = self.graph.first_failed_ancestor(device, self.roots)
        return None if failed is None else self.roots[failed]


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
        self._pending_since: dict[str, datetime] = {}
        self._rooms_session: Session | None = None
        self._rooms: dict[str, _Room] = {}

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
        pending = self._pending_since

        def waited_on(key: str) -> bool:  # a clear or hold verdict on any other key is a no-op
            return key in room.active or key in room.suppressed or key in pending

        for sample, device_pk in ordered:
            device_subject = Subject(subject.room_id, subject.agent_id, device_pk, subject.site_id)
            verdicts = self.engine.evaluate(
                subject.room_id, sample, at, subject.site_id, relevant=waited_on
            )
            for verdict in verdicts:
                transition = self._apply(room, device_subject, verdict, at)
                if transition is not None:
                    transitions.append(transition)
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
            for verdict in self.engine.evaluate_event(
                subject.room_id, event, kind, model, subject.site_id
            ):
                transition = self._apply(room, device_subject, verdict, event.at)
                if transition is not None:
                    transitions.append(transition)
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

    def _room(self, session: Session, room_id: str) -> _Room:
        """The room's state for this session (one batch): loaded once, then kept current."""
        if self._rooms_session is not session or room_id not in self._rooms:
            self.load_rooms(session, [room_id])
        return self._rooms[room_id]

    def _load_rooms(self, session: Session, room_ids: list[str]) -> dict[str, _Room]:
        """Active fault keys, active suppressed firings and the graph of each room."""
        active = _open_keys(session, Fault, room_ids)
        suppressed = _open_keys(session, SuppressedFiring, room_ids)
        links: dict[str, list[tuple[str, str | None]]] = {room_id: [] for room_id in room_ids}
        for room_id, device, parent in session.execute(
            select(Device.room_id, Device.device, Device.parent).where(Device.room_id.in_(room_ids))
        ):
            links[room_id].append((device, parent))
        suppressing = frozenset(r.id for r in self.engine.rules if r.suppresses_dependents)
        return {
            room_id: _Room(
                session,
                room_id,
                active[room_id],
                suppressed[room_id],
                _graph=RoomGraph.from_links(links[room_id]),
                suppressing_rules=suppressing,
            )
            for room_id in room_ids
        }

    def _apply(
        self, room: _Room, subject: Subject, verdict: Verdict, at: datetime
    ) -> Transition | None:
        key = verdict.open_key
        if verdict.state is State.HOLD:
            self._pending_since.pop(key, None)
            return None
        if verdict.state is State.CLEAR:
            self._pending_since.pop(key, None)
            return self._clear(room, verdict, at)
        if key in room.active:
            fault = faults_store.find_active(room.session, key)
            if fault is not None:
                faults_store.touch_fault(fault, at, verdict.evidence())
                fault.clear_since = None
                return self._raise_for_class(room, verdict, fault, at)
        if key not in room.suppressed:
            since = self._pending_since.setdefault(key, at)
            if at - since < timedelta(seconds=verdict.rule.for_s):
                return None
            self._pending_since.pop(key, None)
        return self._fire(room, subject, verdict, at)

    def _fire(
        self, room: _Room, subject: Subject, verdict: Verdict, at: datetime
    ) -> Transition | None:
        key = verdict.open_key
        root = room.root_cause(verdict.device)
        window = None
        if root is None:
            window = self.calendar.active_window(
                room.session, room.room_id, verdict.device, at, room.graph
            )
        firing = (
            workflow_store.find_suppressed(room.session, key) if key in room.suppressed else None
        )
        if root is not None or window is not None:
            self._record_suppressed(room, subject, verdict, at, firing, root, window)
            return None
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
        room.active.add(key)
        if firing is not None:
            self._promote(room, firing, fault, at)
        if verdict.rule.suppresses_dependents and verdict.target.count("/") == 1:
            room.roots[verdict.device] = fault
        policy = verdict.rule.flapping or self.flapping
        since = at - timedelta(seconds=policy.window_s)
        count = faults_store.transitions_since(room.session, verdict.rule.id, verdict.target, since)
        if count >= policy.transitions and not fault.flapping:
            self.workflow.mark_flapping(room.session, fault, at, count)
        return _transition("opened", fault)

    def _level_now(self, room: _Room, rule: Rule, at: datetime) -> Level:
        """The rule's level, or its ``outside_class_level`` while the room has no class."""
        if rule.outside_class_level is None:
            return rule.level
        in_class = room.in_class(at, self.calendar.default_timezone)
        return rule.level if in_class else rule.outside_class_level

    def _raise_for_class(
        self, room: _Room, verdict: Verdict, fault: Fault, at: datetime
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

    def _clear(self, room: _Room, verdict: Verdict, at: datetime) -> Transition | None:
        key = verdict.open_key
        if key in room.suppressed:
            firing = workflow_store.find_suppressed(room.session, key)
            if firing is not None:
                workflow_store.end_suppressed(firing, at, OUTCOME_CLEARED)
            room.suppressed.discard(key)
        if key not in room.active:
            return None
        fault = faults_store.find_active(room.session, key)
        if fault is None:
            room.active.discard(key)
            return None
        reason = f"{verdict.rule.metric or verdict.rule.id}={verdict.value:g}"
        policy = verdict.rule.flapping or self.flapping
        if not fault.flapping:
            since = at - timedelta(seconds=policy.window_s)
            count = faults_store.transitions_since(room.session, fault.rule_id, fault.target, since)
            if count + 1 >= policy.transitions:
                self.workflow.mark_flapping(room.session, fault, at, count + 1)
                fault.clear_since = at
                return _transition("flapping", fault)
        elif fault.clear_since is None or at - fault.clear_since < timedelta(seconds=policy.hold_s):
            fault.clear_since = fault.clear_since or at
            return None
        detail = {"clear_since": fault.clear_since.isoformat()} if fault.clear_since else {}
        self.workflow.auto_resolve(room.session, fault, at, reason, **detail)
        room.active.discard(key)
        if room._roots is not None:
            room.roots.pop(verdict.device, None)
        return _transition("resolved", fault)

    def _record_suppressed(
        self,
        room: _Room,
        subject: Subject,
        verdict: Verdict,
        at: datetime,
        firing: SuppressedFiring | None,
        root: Fault | None,
        window: object | None,
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
        workflow_store.add_suppressed(
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

    def _promote(self, room: _Room, firing: SuppressedFiring, fault: Fault, at: datetime) -> None:
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

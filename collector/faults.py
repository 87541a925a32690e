"""From samples to fault rows: load → evaluate → decide → apply.

For each message the tracker loads the room's state once per batch
(``collector.db.fault_state_store``), evaluates the rules (``collector.rules.engine``), lets
the pure decision (``collector.fault_plan``: guard → inhibit → ladder → suppress) turn the
verdicts into transitions, and hands the list to ``FaultStore.apply`` (``collector.db``),
which writes faults, events, SLA clocks, notifications, suppressed firings and guard counts
in the batch's transaction. Nothing in the decision writes.

- Guards: a (rule, target) opens only after firing on ``guard_polls`` consecutive polls
  (2 for L1/L2 rules by default) and for ``for:``, or when its last polls show it coming and
  going (per-poll flapping: it opens marked flapping). Counts live in SQL: a restart or
  another collector taking the room over continues them.
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

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from roomwatch.agent.wire import DeviceSample, Event
from roomwatch.collector.db.fault_apply import FaultStore, Transition
from roomwatch.collector.db.fault_state_store import load_rooms
from roomwatch.collector.fault_changes import FaultChange, Subject
from roomwatch.collector.fault_plan import FaultPlanner
from roomwatch.collector.fault_room import RoomState
from roomwatch.collector.maintenance import MaintenanceCalendar
from roomwatch.collector.rules.book import RuleBook
from roomwatch.collector.rules.engine import RuleEngine
from roomwatch.collector.rules.model import FlapPolicy
from roomwatch.collector.workflow import Workflow

AGENT_DEVICE = "agent"
_ROOMS_PER_STATEMENT = 500  # rooms per IN (...) list when loading a batch's rooms
# Beyond the longest reopen, flapping and grace window: a batch's messages span some time.
_HORIZON_SLACK_S = 3600.0


class FaultTracker:
    """Turns samples and events into fault transitions and applies them."""

    def __init__(
        self,
        rules: RuleEngine | RuleBook,
        workflow: Workflow | None = None,
        calendar: MaintenanceCalendar | None = None,
        flapping: FlapPolicy | None = None,
    ) -> None:
        self.book = rules if isinstance(rules, RuleBook) else RuleBook.fixed(rules)
        self.calendar = calendar if calendar is not None else MaintenanceCalendar()
        self.workflow = (
            workflow if workflow is not None else Workflow(calendar=self.calendar, rules=self.book)
        )
        self.flapping = flapping or FlapPolicy()
        self._planner: tuple[RuleEngine, FaultPlanner] | None = None
        self._rooms_session: Session | None = None
        self._rooms: dict[str, RoomState] = {}
        self._pending: set[str] = set()

    @property
    def engine(self) -> RuleEngine:
        return self.book.engine

    @property
    def planner(self) -> FaultPlanner:
        """The decision for the current rules (rebuilt when the rule book reloads)."""
        engine = self.book.engine
        if self._planner is None or self._planner[0] is not engine:
            planner = FaultPlanner(engine.rules, self.flapping, self.calendar.default_timezone)
            self._planner = (engine, planner)
        return self._planner[1]

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
        """Evaluate every device of one message, parents before children; one apply."""
        self.book.refresh(session)
        room = self._room(session, subject.room_id, at)
        subject = _with_site(subject, room)
        planner = self.planner
        ordered = room.graph.parents_first(samples, lambda item: item[0].device)
        changes: list[FaultChange] = []
        for sample, device_pk in ordered:
            verdicts = self.engine.evaluate(
                subject.room_id, sample, at, subject.site_id, relevant=room.waited_on
            )
            if verdicts:
                device_subject = Subject(
                    subject.room_id, subject.agent_id, device_pk, subject.site_id
                )
                changes += planner.decide(room, device_subject, verdicts, at)
        return FaultStore(self.workflow).apply(session, changes)

    def observe_events(
        self, session: Session, subject: Subject, events: list[Event]
    ) -> list[Transition]:
        """Agent events (traps, process start/stop) against the event rules; one apply."""
        self.book.refresh(session)
        if not events:
            return []
        first = min(event.at for event in events)
        room = self._room(session, subject.room_id, first)
        subject = _with_site(subject, room)
        planner = self.planner
        changes: list[FaultChange] = []
        for event in sorted(events, key=lambda e: e.at):
            known = room.devices.get(event.device)
            kind, model = (known.kind, known.model) if known is not None else ("unknown", None)
            device_subject = Subject(
                subject.room_id,
                subject.agent_id,
                known.pk if known is not None else None,
                subject.site_id,
            )
            verdicts = self.engine.evaluate_event(
                subject.room_id, event, kind, model, subject.site_id
            )
            changes += planner.decide(room, device_subject, verdicts, event.at)
        return FaultStore(self.workflow).apply(session, changes)

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

    # --- the rooms' state, once per batch -------------------------------------------------
    def load_rooms(self, session: Session, room_ids: Iterable[str]) -> None:
        """Announce the rooms a batch touches: they are loaded together, in a fixed number
        of statements, when the first of them is needed."""
        if self._rooms_session is not session:
            self._rooms_session, self._rooms, self._pending = session, {}, set()
        self._pending |= set(room_ids) - self._rooms.keys()

    def _room(self, session: Session, room_id: str, at: datetime) -> RoomState:
        """The room's state for this session (one batch): loaded once, then kept current
        by the decisions and the store."""
        if self._rooms_session is not session:
            self.load_rooms(session, [])
        if room_id not in self._rooms:
            missing = sorted((self._pending | {room_id}) - self._rooms.keys())
            self._pending.clear()
            for start in range(0, len(missing), _ROOMS_PER_STATEMENT):
                chunk = missing[start : start + _ROOMS_PER_STATEMENT]
                self._rooms.update(load_rooms(session, chunk, at, self._horizon_s()))
        return self._rooms[room_id]

    def _horizon_s(self) -> float:
        """How far back the decisions look: the longest reopen, flapping or grace window."""
        spans = [self.flapping.reopen_s, self.flapping.window_s]
        for rule in self.engine.rules:
            if rule.flapping is not None:
                spans += [rule.flapping.reopen_s, rule.flapping.window_s]
            spans += list(rule.recovery_grace_s.values())
        return max(spans) + _HORIZON_SLACK_S


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


def _with_site(subject: Subject, room: RoomState) -> Subject:
    if subject.site_id is not None:
        return subject
    return Subject(subject.room_id, subject.agent_id, subject.device_pk, room.site_id)


__all__ = ["AGENT_DEVICE", "FaultTracker", "Subject", "Transition"]

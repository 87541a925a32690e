"""The fault decision: a room's loaded state and one device's verdicts → transitions.

guard → inhibit → ladder → suppress (root cause, recovery grace, window) → transitions
(``collector.fault_changes``). ``FaultPlanner.decide`` reads a ``RoomState`` and nothing
else: no session, no clock, no write. It keeps the room state current in memory as it
decides (a switch's fault decided now is the root cause of its cameras decided next);
``collector.db.fault_apply.FaultStore.apply`` writes the list in one call.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from roomwatch.collector.db.workflow_models import REASON_MAINTENANCE, REASON_ROOT_CAUSE
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
    Subject,
    SuppressFiring,
    UpdateFault,
)
from roomwatch.collector.fault_decide import (
    ClearStep,
    flapping_on_reopen,
    group_by_key,
    guard,
    inhibit,
    ladder,
    may_reopen,
    on_clear,
)
from roomwatch.collector.fault_room import FaultView, FiringView, RoomState
from roomwatch.collector.rules.engine import State, Verdict
from roomwatch.collector.rules.model import FlapPolicy, Rule


class FaultPlanner:
    """Decides what one device's verdicts change, given the room's state."""

    def __init__(
        self,
        rules: Iterable[Rule],
        flapping: FlapPolicy | None = None,
        default_timezone: str = "Asia/Shanghai",
    ) -> None:
        self.rules = {rule.id: rule for rule in rules}
        self.flapping = flapping or FlapPolicy()
        self.default_timezone = default_timezone
        self.suppressing = frozenset(r.id for r in self.rules.values() if r.suppresses_dependents)
        self.grace_s = max(
            (s for r in self.rules.values() if r.suppresses_dependents
             for s in r.recovery_grace_s.values()),
            default=0.0,
        )  # fmt: skip

    def policy(self, rule: Rule) -> FlapPolicy:
        return rule.flapping or self.flapping

    def decide(
        self, room: RoomState, subject: Subject, verdicts: list[Verdict], at: datetime
    ) -> list[FaultChange]:
        """The transitions one device's verdicts cause (``room`` follows them in memory)."""
        changes: list[FaultChange] = []
        verdicts = inhibit(verdicts, room.active.keys(), self._key_name)
        for key, rungs in group_by_key(verdicts).items():
            fault = room.active.get(key)
            polls, passed, flappy = self._guard(room, key, rungs, fault, at, changes)
            verdict = ladder(rungs, self._rung_of(fault, rungs), passed)
            if fault is not None:
                if verdict.state is State.CLEAR:
                    changes += self._clear(room, verdict, fault, at)
                else:
                    changes += self._follow(room, verdict, fault, at)
            elif verdict.state is State.FIRE:
                # Counts stay: a more urgent rung still counting may raise the fault later.
                changes += self._fire(room, subject, verdict, at, polls, flappy)
            elif verdict.state is State.CLEAR and key in room.suppressed:
                changes.append(EndSuppressed(room.suppressed.pop(key), at))
        return changes

    # --- guard ----------------------------------------------------------------------------
    def _guard(
        self,
        room: RoomState,
        key: str,
        rungs: list[Verdict],
        fault: FaultView | None,
        at: datetime,
        changes: list[FaultChange],
    ) -> tuple[int, set[str], int]:
        """Count each rung's polls (kept in ``room.guards``, persisted by the transitions
        added to ``changes``); the rungs that passed (all firing ones for a firing already
        recorded as suppressed), the most consecutive polls seen, and the verdict changes
        of a rung that passed by flapping poll by poll (0: none did)."""
        counts = room.guards.setdefault(key, {})
        bypass = key in room.suppressed
        passed: set[str] = set()
        polls, flappy = 1, 0
        for rung in rungs:
            rule = rung.rule
            before = counts.get(rule.id)
            if fault is not None and (rule.id == fault.rule_id or rule.level >= fault.level):
                count = None  # an open fault: only a more urgent rung's count matters
                ok = rung.state is State.FIRE
            else:
                ok, count = guard(counts, rung, at, self.policy(rule).transitions)
            if count is None:
                if counts.pop(rule.id, None) is not None:
                    changes.append(DropGuard(key, rule.id))
            else:
                counts[rule.id] = count
                if count != before:
                    changes.append(SetGuard(room.room_id, key, rule.id, count))
                polls = max(polls, count.polls)
            if ok or (bypass and rung.state is State.FIRE):
                passed.add(rule.id)
                if count is not None and count.polls < rule.guard_polls:
                    flappy = max(flappy, count.changes)
        if not counts:
            room.guards.pop(key, None)
        return polls, passed, flappy

    def _key_name(self, rule_id: str) -> str:
        rule = self.rules.get(rule_id)
        return rule.fault_key_name if rule is not None else rule_id

    def _rung_of(self, fault: FaultView | None, rungs: list[Verdict]) -> Rule | None:
        if fault is None:
            return None
        rule = next((v.rule for v in rungs if v.rule.id == fault.rule_id), None)
        return rule or self.rules.get(fault.rule_id) or rungs[0].rule

    def _level_now(self, room: RoomState, rule: Rule, at: datetime) -> int:
        """The rule's level, or its ``outside_class_level`` while the room has no class."""
        if rule.outside_class_level is None or room.in_class(at, self.default_timezone):
            return int(rule.level)
        return int(rule.outside_class_level)

    # --- opening --------------------------------------------------------------------------
    def _fire(
        self,
        room: RoomState,
        subject: Subject,
        verdict: Verdict,
        at: datetime,
        polls: int,
        flappy: int,
    ) -> list[FaultChange]:
        key = verdict.open_key
        root = room.root_cause(verdict.device, self.suppressing) or room.recovering_parent(
            verdict.device, verdict.kind, at, self.rules, self.grace_s
        )
        window = None
        if root is None:
            window = room.window_for(verdict.device, at, self.default_timezone)
        if root is not None or window is not None:
            return self._suppress(room, subject, verdict, at, root, window, polls)
        firing = room.suppressed.pop(key, None)
        policy = self.policy(verdict.rule)
        previous = room.recent.get(key)
        if previous is not None and may_reopen(previous.resolved_at, policy, at):
            return self._reopen(room, verdict, previous, firing, at, policy, flappy)
        fault = FaultView(
            key=key,
            rule_id=verdict.rule.id,
            target=verdict.target,
            level=self._level_now(room, verdict.rule, at),
            changes=[at],
        )
        room.active[key] = fault
        room.recent.pop(key, None)
        changes: list[FaultChange] = [
            OpenFault(
                fault,
                at,
                subject,
                verdict.rule,
                verdict.title()[:300],
                verdict.evidence(),
                polls,
                promoted=firing,
            )
        ]
        if flappy:  # opened by its per-poll flapping: say so at once
            fault.flapping = True
            changes.append(MarkFlapping(fault, at, flappy))
        return changes

    def _reopen(
        self,
        room: RoomState,
        verdict: Verdict,
        fault: FaultView,
        firing: FiringView | None,
        at: datetime,
        policy: FlapPolicy,
        flappy: int,
    ) -> list[FaultChange]:
        """The incident of a recently resolved fault is back: the same fault, reopened."""
        key = verdict.open_key
        fault.active, fault.resolved_at, fault.clear_since = True, None, None
        fault.changes.append(at)
        room.recent.pop(key, None)
        room.active[key] = fault
        changes: list[FaultChange] = [
            ReopenFault(fault, at, verdict.title()[:300], verdict.evidence(), promoted=firing)
        ]
        if verdict.rule.id != fault.rule_id:
            changes += self._step(room, verdict, fault, at)
        in_window = fault.changes_since(at - timedelta(seconds=policy.window_s))
        if not fault.flapping and (flapping_on_reopen(in_window, policy) or flappy):
            fault.flapping = True
            changes.append(MarkFlapping(fault, at, max(in_window, flappy)))
        return changes

    def _suppress(
        self,
        room: RoomState,
        subject: Subject,
        verdict: Verdict,
        at: datetime,
        root: FaultView | None,
        window: object | None,
        polls: int,
    ) -> list[FaultChange]:
        key = verdict.open_key
        reason = REASON_ROOT_CAUSE if root is not None else REASON_MAINTENANCE
        window_id = getattr(window, "id", None)
        root_id = root.id if root is not None else None
        firing = room.suppressed.get(key)
        common = {
            "at": at,
            "subject": subject,
            "rule": verdict.rule,
            "target": verdict.target,
            "level": self._level_now(room, verdict.rule, at),
            "title": verdict.title()[:300],
            "evidence": verdict.evidence(),
        }
        same = (reason, root_id, window_id)
        if firing is not None and (firing.reason, firing.root_id, firing.window_id) == same:
            return [SuppressFiring(firing, **common)]  # type: ignore[arg-type]
        changes: list[FaultChange] = []
        if firing is not None:  # the cause changed (another root, another window)
            changes.append(EndSuppressed(firing, at))
        added = FiringView(key, reason, root_id, window_id)
        room.suppressed[key] = added
        changes.append(SuppressFiring(added, fire_count=polls, root=root, **common))  # type: ignore[arg-type]
        return changes

    # --- an open fault --------------------------------------------------------------------
    def _follow(
        self, room: RoomState, verdict: Verdict, fault: FaultView, at: datetime
    ) -> list[FaultChange]:
        """An open fault's condition still holds: live title and evidence, its ladder rung,
        and its level when a class begins."""
        changes: list[FaultChange] = []
        if verdict.state is State.FIRE:
            changes.append(UpdateFault(fault, at, verdict.title()[:300], verdict.evidence()))
            fault.clear_since = None
        if verdict.rule.id != fault.rule_id:
            return changes + self._step(room, verdict, fault, at)
        if verdict.state is State.FIRE:
            changes += self._raise_for_class(room, verdict.rule, fault, at)
        return changes

    def _step(
        self, room: RoomState, verdict: Verdict, fault: FaultView, at: datetime
    ) -> list[FaultChange]:
        """The ladder moved to another rung: the fault takes its rule, text and level (one
        notification when it rose; nothing when a person set the level)."""
        if fault.level_by_person:
            return []
        rule = verdict.rule
        title = verdict.title()[:300]
        changes: list[FaultChange] = [MoveRung(fault, rule, title, verdict.evidence())]
        fault.rule_id = rule.id
        level = self._level_now(room, rule, at)
        if level == fault.level:
            return changes
        rose = level < fault.level
        fault.level = level
        note = f"{rule.id}: {title}"[:300]
        kind = "raised" if rose else "lowered"
        return [*changes, ChangeLevel(fault, at, level, note, rose, rose, kind)]

    def _raise_for_class(
        self, room: RoomState, rule: Rule, fault: FaultView, at: datetime
    ) -> list[FaultChange]:
        """A fault opened outside class hours becomes the rule's level once a class is
        scheduled, with its SLA clocks from now; never if a person set its level."""
        outside = rule.outside_class_level
        if outside is None or fault.level != int(outside) or fault.level_by_person:
            return []
        if self._level_now(room, rule, at) == int(outside):
            return []
        fault.level = int(rule.level)
        note = "a class is scheduled: the lesson is not being recorded"
        return [ChangeLevel(fault, at, int(rule.level), note, True, True, "raised")]

    def _clear(
        self, room: RoomState, verdict: Verdict, fault: FaultView, at: datetime
    ) -> list[FaultChange]:
        key = verdict.open_key
        changes: list[FaultChange] = []
        if key in room.suppressed:
            changes.append(EndSuppressed(room.suppressed.pop(key), at))
        rule = self.rules.get(fault.rule_id) or verdict.rule
        policy = self.policy(rule)
        in_window = 0
        if not fault.flapping:
            in_window = fault.changes_since(at - timedelta(seconds=policy.window_s))
        step = on_clear(
            flapping=fault.flapping,
            clear_since=fault.clear_since,
            changes_in_window=in_window,
            policy=policy,
            at=at,
        )
        if step is ClearStep.MARK_FLAPPING:
            fault.flapping, fault.clear_since = True, at
            return [*changes, MarkFlapping(fault, at, in_window + 1), HoldFault(fault, at)]
        if step is ClearStep.HOLD:
            if fault.clear_since is None:
                fault.clear_since = at
                changes.append(HoldFault(fault, at))
            return changes
        reason = f"{verdict.rule.metric or verdict.rule.id}={verdict.value:g}"
        detail = {"clear_since": fault.clear_since.isoformat()} if fault.clear_since else {}
        changes.append(ResolveFault(fault, at, reason, detail))
        fault.active, fault.resolved_at, fault.clear_since = False, at, None
        fault.changes.append(at)
        room.active.pop(key, None)
        room.recent[key] = fault
        return changes


__all__ = ["FaultPlanner"]

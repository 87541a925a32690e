"""The fault engine's decisions, as pure functions of loaded state and verdicts.

Evaluate (``collector.rules.engine``) → **guard** → **inhibit** → **ladder** → suppress
(root cause, recovery grace, window: ``collector.faults``) → transitions. Nothing here
reads SQL, a clock or a global: what a stage needs comes in as arguments, what it decides
comes back, so a day of polls is checked in milliseconds (tests/collector/test_fault_decide.py).

- Guard: a (rule, target) must fire on ``rule.guard_polls`` consecutive polls, and for
  ``rule.for_s``, before it may open; anything but a firing poll starts the count over,
  unless the last polls show it coming and going (per-poll flapping: it opens, flapping).
- Inhibit: a rule is muted on a target while one of its ``inhibited_by`` rules fires there
  in the same evaluation *or has an open fault there*.
- Ladder: the rungs of one concern on one target (verdicts sharing an open key) become one
  verdict: the most urgent rung that may act, so one fault moves up and down a ladder.
- Flapping: whether a clear resolves or holds the fault, and whether a fault reopened or
  cleared has become flapping.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from itertools import pairwise

from roomwatch.collector.rules.engine import State, Verdict, open_key
from roomwatch.collector.rules.model import FlapPolicy, Rule

# Polls a guard remembers per (rule, target): enough to see a target that is down on every
# other poll (per-poll flapping), few enough to store as a short string.
GUARD_HISTORY_POLLS = 10


@dataclass(frozen=True)
class GuardCount:
    """A (rule, target) that fired on a recent poll and has not opened: since when it
    fires without a break, on how many polls (0: the last poll was clear), and the last
    polls oldest first ("1" fired, "0" did not)."""

    since: datetime
    polls: int
    history: str = "1"

    @property
    def changes(self) -> int:
        """How often the verdict changed within the remembered polls."""
        return sum(1 for a, b in pairwise(self.history) if a != b)


def guard(
    counts: Mapping[str, GuardCount], verdict: Verdict, at: datetime, flap_changes: int = 4
) -> tuple[bool, GuardCount | None]:
    """Whether a verdict may open its fault now, and the rung's count afterwards (None:
    nothing fired within the remembered polls). ``counts``: the counts of the verdict's open
    key by rule id (every rung of a ladder counts its own polls).

    It passes after ``rule.guard_polls`` consecutive firing polls lasting ``rule.for_s``, or
    when the verdict changed ``flap_changes`` times within the last polls and fired on at
    least ``guard_polls`` of them: a target down on every other poll is one (flapping)
    incident, not silence."""
    before = counts.get(verdict.rule.id)
    fired = verdict.state is State.FIRE
    history = ((before.history if before else "") + ("1" if fired else "0"))[-GUARD_HISTORY_POLLS:]
    if "1" not in history:
        return False, None
    if not fired:
        assert before is not None  # a "1" in the history came from an earlier poll
        return False, GuardCount(before.since, 0, history)
    running = before is not None and before.polls > 0
    count = (
        GuardCount(before.since, before.polls + 1, history)
        if running and before is not None
        else GuardCount(at, 1, history)
    )
    rule = verdict.rule
    steady = count.polls >= rule.guard_polls and at - count.since >= timedelta(seconds=rule.for_s)
    return steady or flapping_by_poll(count, rule, flap_changes), count


def flapping_by_poll(count: GuardCount, rule: Rule, flap_changes: int) -> bool:
    """The guard's polls show a target coming and going poll by poll."""
    return count.changes >= flap_changes and count.history.count("1") >= rule.guard_polls


def inhibit(
    verdicts: Sequence[Verdict], open_keys: Collection[str], key_name: Callable[[str], str]
) -> list[Verdict]:
    """Verdicts whose rule is inhibited on the target by an open fault of an inhibitor
    become clear (``key_name``: rule id → the name in its faults' keys)."""
    result = []
    for verdict in verdicts:
        inhibitors = verdict.rule.inhibited_by
        if verdict.state is not State.CLEAR and any(
            open_key(key_name(rule_id), verdict.target) in open_keys for rule_id in inhibitors
        ):
            verdict = replace(verdict, state=State.CLEAR)
        result.append(verdict)
    return result


def group_by_key(verdicts: Iterable[Verdict]) -> dict[str, list[Verdict]]:
    """Verdicts per open key (one key per ladder and target), in evaluation order."""
    groups: dict[str, list[Verdict]] = {}
    for verdict in verdicts:
        groups.setdefault(verdict.open_key, []).append(verdict)
    return groups


def ladder(rungs: Sequence[Verdict], current: Rule | None, passed: Collection[str]) -> Verdict:
    """One verdict for the rungs of one (concern, target).

    ``current``: the rung the open fault stands on (None: no open fault); ``passed``: the
    rule ids whose guard let them open. Without an open fault the most urgent rung that
    passed its guard fires; with one, a more urgent rung raises it (once past its guard),
    while rungs at its level or below that still fire or hold keep it open at the most
    urgent of them (the fault steps down when its rung clears). Otherwise it clears.
    A lone rule is a ladder of one rung."""
    firing = [v for v in rungs if v.state is State.FIRE and v.rule.id in passed]
    if current is None:
        if firing:
            return _most_urgent(firing)
        waiting = [v for v in rungs if v.state is not State.CLEAR]
        return replace(_most_urgent(waiting or rungs), state=State.HOLD if waiting else State.CLEAR)
    raising = [v for v in firing if v.rule.level < current.level]
    if raising:
        return replace(_most_urgent(raising), state=State.FIRE)
    keeping = [v for v in rungs if v.rule.level >= current.level and v.state is not State.CLEAR]
    if keeping:
        on_current = [v for v in keeping if v.rule.id == current.id]
        return (on_current or [_most_urgent(keeping)])[0]
    same = [v for v in rungs if v.rule.id == current.id]
    return replace((same or list(rungs))[0], state=State.CLEAR)


def _most_urgent(verdicts: Sequence[Verdict]) -> Verdict:
    return min(verdicts, key=lambda v: int(v.rule.level))


class ClearStep(Enum):
    RESOLVE = "resolve"
    HOLD = "hold"  # flapping: wait for the hold time before resolving
    MARK_FLAPPING = "mark_flapping"  # this clear made it flapping: mark it and hold


def on_clear(
    *,
    flapping: bool,
    clear_since: datetime | None,
    changes_in_window: int,
    policy: FlapPolicy,
    at: datetime,
) -> ClearStep:
    """An open fault's condition cleared: resolve it, or hold it as flapping.

    ``changes_in_window``: the fault's openings, resolutions and reopenings within
    ``policy.window_s`` before ``at``; this clear would be one more."""
    if not flapping:
        if changes_in_window + 1 >= policy.transitions:
            return ClearStep.MARK_FLAPPING
        return ClearStep.RESOLVE
    since = clear_since or at
    if at - since >= timedelta(seconds=policy.hold_s):
        return ClearStep.RESOLVE
    return ClearStep.HOLD


def may_reopen(resolved_at: datetime | None, policy: FlapPolicy, at: datetime) -> bool:
    """Whether a fault resolved at ``resolved_at`` is the same incident firing again."""
    if resolved_at is None:
        return False
    return timedelta(0) <= at - resolved_at <= timedelta(seconds=policy.reopen_s)


def flapping_on_reopen(changes_in_window: int, policy: FlapPolicy) -> bool:
    """A reopened fault (this reopening counted in ``changes_in_window``) is flapping."""
    return changes_in_window >= policy.transitions


def in_recovery_grace(
    recovered_at: datetime | None, root_rule: Rule | None, kind: str, at: datetime
) -> bool:
    """Whether a dependent of ``kind`` still boots after its parent's fault (of
    ``root_rule``) resolved at ``recovered_at``."""
    if recovered_at is None or root_rule is None:
        return False
    return at - recovered_at < timedelta(seconds=root_rule.grace_for(kind))


__all__ = [
    "GUARD_HISTORY_POLLS",
    "ClearStep",
    "GuardCount",
    "flapping_by_poll",
    "flapping_on_reopen",
    "group_by_key",
    "guard",
    "in_recovery_grace",
    "inhibit",
    "ladder",
    "may_reopen",
    "on_clear",
]

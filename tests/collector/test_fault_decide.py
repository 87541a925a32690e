"""The fault engine's pure stages (guard, inhibit, ladder, flapping) without a database:
a day of polls decided in milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roomwatch.agent.wire import DeviceSample, TableRow
from roomwatch.collector.fault_decide import (
    ClearStep,
    GuardCount,
    group_by_key,
    guard,
    inhibit,
    ladder,
    on_clear,
)
from roomwatch.collector.rules.engine import RuleEngine, State, Verdict
from roomwatch.collector.rules.model import FlapPolicy, load_rules

T = datetime(2026, 9, 7, 1, 0, tzinfo=UTC)
ENGINE = RuleEngine(load_rules())


def disk(used_pct: float) -> list[Verdict]:
    sample = DeviceSample(
        device="host",
        kind="host",
        reachable=True,
        tables={"disk": [TableRow(labels={"mount": "D:"}, metrics={"used_pct": used_pct})]},
    )
    verdicts = ENGINE.evaluate("r1", sample, T, relevant=lambda _key: True)
    return [v for v in verdicts if v.rule.concern == "host_disk_space"]


def unreachable() -> Verdict:
    sample = DeviceSample(device="cam-1", kind="camera", reachable=False)
    [verdict] = [v for v in ENGINE.evaluate("r1", sample, T) if v.rule.id == "device_unreachable"]
    return verdict


def test_an_l1_rule_opens_on_the_second_consecutive_poll():
    verdict = unreachable()
    ok, count = guard({}, verdict, T)
    assert not ok and count == GuardCount(T, 1)
    ok, count = guard({"device_unreachable": count}, verdict, T + timedelta(seconds=30))
    assert ok and count is not None and count.polls == 2


def test_the_ladder_picks_the_most_urgent_passed_rung_and_steps_down():
    rules = {r.id: r for r in ENGINE.rules}
    everything = {"disk_filling", "disk_nearly_full"}
    assert ladder(disk(93), None, everything).rule.id == "disk_nearly_full"
    assert ladder(disk(93), None, {"disk_filling"}).rule.id == "disk_filling"  # L2 guarded
    held = ladder(disk(87), rules["disk_nearly_full"], everything)
    assert (held.rule.id, held.state) == ("disk_nearly_full", State.HOLD)
    lower = ladder(disk(82), rules["disk_nearly_full"], everything)
    assert (lower.rule.id, lower.state) == ("disk_filling", State.FIRE)
    assert ladder(disk(70), rules["disk_filling"], everything).state is State.CLEAR
    # Rising between the L2 thresholds from L3 does not raise it.
    assert ladder(disk(87), rules["disk_filling"], everything).rule.id == "disk_filling"


def test_an_open_fault_of_an_inhibitor_mutes_the_rule():
    verdict = next(v for v in disk(83) if v.rule.id == "disk_filling")
    rule = verdict.rule.model_copy(update={"inhibited_by": ["raid_degraded"]})
    muted = Verdict(rule, verdict.target, State.FIRE, 83, "r1", "host", "host", verdict.labels)
    [kept] = inhibit([muted], set(), lambda rid: rid)
    assert kept.state is State.FIRE
    [cleared] = inhibit([muted], {f"raid_degraded|{verdict.target}"}, lambda rid: rid)
    assert cleared.state is State.CLEAR


def test_a_clear_resolves_marks_flapping_or_holds():
    policy = FlapPolicy(transitions=4, hold_s=600)
    assert on_clear(flapping=False, clear_since=None, changes_in_window=1, policy=policy, at=T) is (
        ClearStep.RESOLVE
    )
    assert on_clear(flapping=False, clear_since=None, changes_in_window=3, policy=policy, at=T) is (
        ClearStep.MARK_FLAPPING
    )
    held = T - timedelta(seconds=599)
    assert on_clear(flapping=True, clear_since=held, changes_in_window=0, policy=policy, at=T) is (
        ClearStep.HOLD
    )
    done = T - timedelta(seconds=600)
    assert on_clear(flapping=True, clear_since=done, changes_in_window=0, policy=policy, at=T) is (
        ClearStep.RESOLVE
    )


def test_a_day_of_polls_moves_one_fault_up_and_down_its_ladder():
    """2880 polls of a disk filling and emptying: guard and ladder on plain data, no
    database (a day in milliseconds; speed itself is measured in bench/)."""
    rules = {r.id: r for r in ENGINE.rules}
    counts: dict[str, GuardCount] = {}
    current = None
    levels = []
    for poll in range(2880):
        used = 70 + 25 * ((poll % 480) / 480)  # 70 % → 95 % every four hours
        at = T + timedelta(seconds=30 * poll)
        passed = set()
        [(key, rungs)] = group_by_key(disk(used)).items()
        for rung in rungs:
            ok, count = guard(counts, rung, at)
            if count is None:
                counts.pop(rung.rule.id, None)
            else:
                counts[rung.rule.id] = count
            if ok:
                passed.add(rung.rule.id)
        verdict = ladder(rungs, current, passed)
        if verdict.state is State.CLEAR:
            current = None
        elif verdict.state is State.FIRE or current is not None:
            current = rules[verdict.rule.id]
        levels.append(None if current is None else int(current.level))
    assert key.startswith("host_disk_space|")
    assert {2, 3, None} == set(levels)

"""The fault decision as a pure function, without a database: a room state built by hand,
the built-in rules, and a day of polls decided in milliseconds. The transitions it returns
are the whole story: nothing else changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from roomwatch.agent.wire import DeviceSample, TableRow
from roomwatch.collector.fault_changes import (
    ChangeLevel,
    DropGuard,
    FaultChange,
    MarkFlapping,
    OpenFault,
    ResolveFault,
    SetGuard,
    Subject,
    SuppressFiring,
)
from roomwatch.collector.fault_plan import FaultPlanner
from roomwatch.collector.fault_room import RoomState
from roomwatch.collector.graph import RoomGraph
from roomwatch.collector.rules.engine import NEVER_FULL_DAYS, RuleEngine, days_to_full
from roomwatch.collector.rules.model import load_rules

T = datetime(2026, 9, 7, 0, 0, tzinfo=UTC)
POLL_S = 30
SUBJECT = Subject("r1", "agent-1")


class Room:
    """One room decided poll by poll; opened faults get ids as a store would give them."""

    def __init__(self) -> None:
        rules = load_rules()
        self.engine = RuleEngine(rules)
        self.planner = FaultPlanner(rules)
        graph = RoomGraph.from_links([("sw-1", None), ("cam-1", "sw-1"), ("ups-1", None)])
        self.state = RoomState("r1", "s1", graph)
        self.ids = count(1)

    def poll(self, at: datetime, *samples: DeviceSample) -> list[FaultChange]:
        changes: list[FaultChange] = []
        for sample in self.state.graph.parents_first(samples, lambda s: s.device):
            verdicts = self.engine.evaluate("r1", sample, at, relevant=self.state.waited_on)
            if verdicts:
                changes += self.planner.decide(self.state, SUBJECT, verdicts, at)
        for change in changes:
            if isinstance(change, OpenFault):
                change.fault.id = next(self.ids)
            if isinstance(change, SuppressFiring) and change.firing.id is None:
                change.firing.id = next(self.ids)
        return changes


def camera(up: bool) -> DeviceSample:
    return DeviceSample(device="cam-1", kind="camera", reachable=up)


def ups(on_battery: bool, minutes: float) -> DeviceSample:
    metrics = {"on_battery": float(on_battery), "battery_minutes_remaining": minutes}
    return DeviceSample(device="ups-1", kind="ups", reachable=True, metrics=metrics)


def of(kind: type, changes: list[FaultChange]) -> list[FaultChange]:
    return [c for c in changes if isinstance(c, kind)]


def test_a_day_of_polls_with_single_missed_polls_opens_nothing():
    room = Room()
    everything: list[FaultChange] = []
    for poll in range(24 * 3600 // POLL_S):  # a day, one missed poll every 10 minutes
        at = T + timedelta(seconds=poll * POLL_S)
        everything += room.poll(at, camera(up=poll % 20 != 7))
    assert of(OpenFault, everything) == []
    # Each miss is counted (and persisted), then forgotten once ten polls were clear.
    assert len(of(SetGuard, everything)) == 24 * 6 * 10
    assert len(of(DropGuard, everything)) == 24 * 6
    assert room.state.guards == {}


def test_the_guard_state_is_a_transition_and_two_polls_open():
    room = Room()
    [first] = room.poll(T, camera(up=False))
    assert isinstance(first, SetGuard) and first.count.polls == 1
    changes = room.poll(T + timedelta(seconds=POLL_S), camera(up=False))
    [opened] = of(OpenFault, changes)
    assert (opened.rule.id, opened.fault.level, opened.fire_count) == ("device_unreachable", 1, 2)
    # The count also went into the store, so a restart between the polls keeps it.
    assert of(SetGuard, changes)[0].count.polls == 2


def test_a_camera_down_on_every_other_poll_is_one_flapping_fault():
    room = Room()
    everything: list[FaultChange] = []
    at = T
    for poll in range(2 * 60):  # an hour, down on every other poll
        everything += room.poll(at, camera(up=poll % 2 == 1))
        at += timedelta(seconds=POLL_S)
    [opened] = of(OpenFault, everything)
    assert opened.rule.id == "device_unreachable"
    assert len(of(MarkFlapping, everything)) == 1
    assert of(ResolveFault, everything) == []
    assert opened.fault.flapping and opened.fault.active
    for _ in range(21):  # up for the hold time (10 minutes) and a little more
        everything += room.poll(at, camera(up=True))
        at += timedelta(seconds=POLL_S)
    assert len(of(ResolveFault, everything)) == 1 and not opened.fault.active


def test_the_ups_ladder_rises_to_l1_with_minutes_left():
    room = Room()
    changes = room.poll(T, ups(True, 30)) + room.poll(T + timedelta(seconds=30), ups(True, 30))
    [opened] = of(OpenFault, changes)
    assert (opened.rule.id, opened.fault.level) == ("ups_on_battery", 2)
    changes = room.poll(T + timedelta(seconds=60), ups(True, 9))
    assert of(ChangeLevel, changes) == []  # the L1 rung has its own guard
    changes = room.poll(T + timedelta(seconds=90), ups(True, 8))
    [raised] = of(ChangeLevel, changes)
    assert (raised.level, raised.kind, raised.notify) == (1, "raised", True)
    assert raised.fault is opened.fault  # one fault, one rung up
    changes = room.poll(T + timedelta(seconds=120), ups(False, 8))
    assert len(of(ResolveFault, changes)) == 1


def test_a_camera_behind_a_failed_switch_is_suppressed_not_opened():
    room = Room()
    switch_down = DeviceSample(device="sw-1", kind="switch", reachable=False)
    changes: list[FaultChange] = []
    for poll in range(3):
        changes += room.poll(T + timedelta(seconds=POLL_S * poll), switch_down, camera(up=False))
    [opened] = of(OpenFault, changes)
    assert opened.fault.target == "r1/sw-1"
    suppressed = of(SuppressFiring, changes)
    assert suppressed and all(s.target == "r1/cam-1" for s in suppressed)


def test_a_disk_that_fills_within_days_opens_the_filling_rung_below_80_percent():
    room = Room()
    everything: list[FaultChange] = []
    for poll in range(6 * 120):  # six hours at 30 s, 55 % rising 1 % an hour: ~45 h to full
        at = T + timedelta(seconds=poll * POLL_S)
        used_pct = 55 + poll * POLL_S / 3600
        host = DeviceSample(
            device="host",
            kind="host",
            reachable=True,
            tables={"disk": [TableRow(labels={"mount": "D:"}, metrics={"used_pct": used_pct})]},
        )
        everything += room.poll(at, host)
    [opened] = of(OpenFault, everything)
    assert opened.rule.id == "disk_full_soon" and opened.fault.level == 3
    days = opened.evidence["value"]
    assert isinstance(days, float) and 1.5 < days < 2.0  # 3 h of trend at 58 %: ~1.75 days
    assert opened.title == f"Disk D: on host in r1 full in {days:.1f} days at this rate"
    assert opened.evidence["compute"] == "days_to_full"


def test_days_to_full_is_the_least_squares_trend():
    points = [(T + timedelta(hours=h), 50.0 + 2 * h) for h in range(5)]  # 48 %/day
    assert days_to_full(points, T + timedelta(hours=4)) == pytest.approx(42 / 48)
    flat = [(T + timedelta(hours=h), 60.0) for h in range(5)]
    assert days_to_full(flat, T + timedelta(hours=4)) == NEVER_FULL_DAYS

"""One incident is one fault, at the right level, through the real ingest pipeline (wire
messages → VictoriaMetrics + SQL, built-in rule pack, injected clock): guards before paging,
a flapping camera as one fault, ladders that move one fault's level, live titles, and the
boot grace of devices behind a recovered switch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from roomwatch.collector.db.models import FaultEvent
from roomwatch.collector.db.session import Database
from roomwatch.collector.faults import FaultTracker
from roomwatch.collector.workflow import Workflow
from tests.collector.scenario_support import (
    T0,
    RecordingHooks,
    Scenario,
    down,
    host,
    rules_of,
    ups,
)


@pytest.fixture
def scenario(database: Database, victoria) -> Scenario:
    return Scenario(database, victoria.url)


@pytest.fixture
def hooks(scenario: Scenario) -> RecordingHooks:
    recording = RecordingHooks()
    scenario.workflow.hooks = recording
    return recording


def event_types(scenario: Scenario, fault_id: int) -> list[str]:
    return [e.type for e in scenario.events_of(fault_id)]


# --- 1. guards ----------------------------------------------------------------------------


def test_a_single_missed_poll_opens_nothing_but_is_stored(
    scenario: Scenario, hooks: RecordingHooks, victoria
):
    scenario.clock.now = T0 + timedelta(days=3)  # series of its own in the shared TSDB
    scenario.run(minutes=1)
    scenario.send_room(cam_1=down("cam-1", "camera"))
    scenario.advance(30)
    scenario.run(minutes=2)
    assert scenario.faults() == [] and scenario.suppressed() == []
    assert hooks.calls == []
    series = victoria.export('camera_reachable{room="r1",device="cam-1"}')
    assert 0.0 in [v for s in series for v in s["values"]]  # still on the device's chart


def test_two_missed_polls_open_the_l1_counting_both(scenario: Scenario, hooks: RecordingHooks):
    scenario.run(minutes=1)
    scenario.send_room(cam_1=down("cam-1", "camera"))
    scenario.advance(30)
    scenario.send_room(cam_1=down("cam-1", "camera"))
    [fault] = scenario.faults()
    assert (fault.rule_id, fault.level, fault.fire_count) == ("device_unreachable", 1, 2)
    assert fault.opened_at == scenario.clock.now  # one poll interval after the first miss
    assert [c[2] for c in hooks.of("notify")] == ["opened"]


def test_a_site_file_overrides_a_rules_guard(database: Database, victoria, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("overrides:\n  - id: device_unreachable\n    for_polls: 1\n")
    from roomwatch.collector.rules.book import RuleBook
    from roomwatch.collector.rules.model import load_rule_pack

    scenario = Scenario(database, victoria.url)
    scenario.tracker = FaultTracker(
        RuleBook(load_rule_pack([site]), refresh_every_s=0),
        Workflow(calendar=scenario.calendar),
        scenario.calendar,
    )
    scenario.pipeline.faults = scenario.tracker
    scenario.send_room(cam_1=down("cam-1", "camera"))
    assert rules_of(scenario.active()) == [("device_unreachable", 1)]


# --- 2. flapping --------------------------------------------------------------------------


def test_a_flapping_camera_is_one_fault_announced_once(scenario: Scenario, hooks: RecordingHooks):
    for _ in range(20):  # down for a minute, up for a minute, twenty times
        scenario.run(minutes=1, cam_1=down("cam-1", "camera"))
        scenario.run(minutes=1)
    [fault] = scenario.faults()
    assert (fault.rule_id, fault.status, fault.flapping) == ("device_unreachable", "open", True)
    kinds = event_types(scenario, fault.id)
    assert kinds.count("opened") == 1 and "reopened" in kinds and kinds.count("flapping") == 1
    notified = [c[2] for c in hooks.of("notify")]
    assert notified.count("opened") == 1
    assert not {"reopened", "flapping"} & set(notified)
    # Held while it keeps flapping; resolved once clear for the hold time (10 min default).
    scenario.run(minutes=9)
    assert scenario.faults()[0].status == "open"
    scenario.run(minutes=2)
    [fault] = scenario.faults()
    assert fault.status == "resolved"


def test_a_fault_back_after_the_reopen_window_is_a_new_one(scenario: Scenario):
    scenario.run(minutes=1, cam_1=down("cam-1", "camera"))
    scenario.run(minutes=15)
    scenario.run(minutes=1, cam_1=down("cam-1", "camera"))
    assert [f.status for f in scenario.faults()] == ["resolved", "open"]


# --- 3. ladders ---------------------------------------------------------------------------


def test_a_disk_climbs_and_descends_one_ladder(scenario: Scenario, hooks: RecordingHooks):
    scenario.run(minutes=1, host=host(disk=83))
    scenario.run(minutes=1, host=host(disk=93))
    scenario.run(minutes=1, host=host(disk=87))  # between the L2 thresholds: still L2
    [fault] = scenario.faults()
    assert (fault.rule_id, fault.level, fault.status) == ("disk_nearly_full", 2, "open")
    scenario.run(minutes=1, host=host(disk=82))  # the L2 rung cleared: back to L3
    [fault] = scenario.faults()
    assert (fault.rule_id, fault.level, fault.status) == ("disk_filling", 3, "open")
    assert fault.title == "Disk D: filling on host in r1 (82 %)"
    changes = [e.detail for e in scenario.events_of(fault.id) if e.type == "level_changed"]
    assert [(c["from"], c["to"]) for c in changes] == [(3, 2), (2, 3)]
    assert [c[2] for c in hooks.of("notify")] == ["opened", "level_changed"]  # the raise
    scenario.run(minutes=1, host=host(disk=60))
    assert [f.status for f in scenario.faults()] == ["resolved"]


def test_a_fast_filling_disk_is_one_fault(scenario: Scenario):
    for step in range(13):  # 70 % → 88 % in an hour: filling and filling fast at once
        scenario.send_room(host=host(disk=70 + 1.5 * step))
        scenario.advance(300)
    [fault] = scenario.faults()
    assert fault.level == 3 and fault.rule_id in ("disk_filling", "disk_filling_fast")


def test_a_level_set_by_a_person_is_never_moved_by_the_ladder(scenario: Scenario):
    scenario.run(minutes=1, host=host(disk=83))
    [fault] = scenario.faults()
    with scenario.db.session(write=True) as session:
        from roomwatch.collector.db import faults_store
        from roomwatch.collector.levels import Level

        row = faults_store.get_fault(session, fault.id)
        scenario.workflow.change_level(session, row, Level.L1, "eng", scenario.clock.now, "RAID")
    scenario.run(minutes=1, host=host(disk=93))
    [fault] = scenario.faults()
    assert fault.level == 1


# --- 5. live text -------------------------------------------------------------------------


def test_the_title_follows_the_latest_value_and_the_opening_value_stays(scenario: Scenario):
    scenario.run(minutes=1, ups_1=ups(on_battery=True, minutes=30))
    scenario.run(minutes=1, ups_1=ups(on_battery=True, minutes=5))
    [fault] = scenario.faults()
    assert fault.title == "UPS ups-1 on battery in r1 (5 min left)"
    assert fault.evidence["extra"]["battery_minutes_remaining"] == 5
    with scenario.db.session() as session:
        opened = session.scalar(
            select(FaultEvent).where(FaultEvent.fault_id == fault.id, FaultEvent.type == "opened")
        )
        assert opened is not None
        assert opened.detail["evidence"]["extra"]["battery_minutes_remaining"] == 30


# --- 6. recovery grace --------------------------------------------------------------------


def test_cameras_booting_after_their_switch_open_nothing(scenario: Scenario, hooks):
    dead = {
        "sw_1": down("sw-1", "switch"),
        "cam_1": down("cam-1", "camera"),
        "cam_2": down("cam-2", "camera"),
    }
    scenario.run(minutes=2, **dead)
    scenario.send_room(cam_1=down("cam-1", "camera"), cam_2=down("cam-2", "camera"))
    scenario.advance(30)
    scenario.run(minutes=1.5, cam_1=down("cam-1", "camera"))  # cam-2 booted, cam-1 slower
    scenario.run(minutes=2)
    assert rules_of(scenario.faults()) == [("device_unreachable", 1)]  # the switch's only
    assert [c[2] for c in hooks.of("notify")] == ["opened", "resolved"]


# --- guard state in SQL, per-poll flapping --------------------------------------------------


def test_a_restart_between_two_missed_polls_keeps_the_guard_count(scenario: Scenario, hooks):
    scenario.run(minutes=1)
    scenario.send_room(cam_1=down("cam-1", "camera"))
    scenario.advance(30)
    # A new collector process (or another collector taking the room over): nothing in memory.
    scenario.tracker = FaultTracker(scenario.tracker.book, scenario.workflow, scenario.calendar)
    scenario.pipeline.faults = scenario.tracker
    scenario.send_room(cam_1=down("cam-1", "camera"))
    [fault] = scenario.faults()
    assert (fault.rule_id, fault.level, fault.fire_count) == ("device_unreachable", 1, 2)
    assert [c[2] for c in hooks.of("notify")] == ["opened"]


def test_a_camera_down_on_every_other_poll_is_one_flapping_fault(scenario: Scenario, hooks):
    for _ in range(10):  # ten minutes: down, up, down, up ... poll by poll
        scenario.send_room(cam_1=down("cam-1", "camera"))
        scenario.advance(30)
        scenario.send_room()
        scenario.advance(30)
    [fault] = scenario.faults()
    assert (fault.rule_id, fault.status, fault.flapping) == ("device_unreachable", "open", True)
    assert [c[2] for c in hooks.of("notify")] == ["opened"]
    scenario.run(minutes=11)  # clear for the hold time: resolved, still one fault
    assert [(f.id, f.status) for f in scenario.faults()] == [(fault.id, "resolved")]

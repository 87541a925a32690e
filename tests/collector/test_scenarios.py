"""Every example row of the service plan's level table, replayed through the real ingest
pipeline (wire messages → VictoriaMetrics + SQL) with an injected clock: the level opened,
exactly one fault per incident, the recovery recorded; suppression behind a failed switch,
UPS or agent; nothing opened inside a maintenance window while samples are stored.
Flapping, guards and ladders: test_one_incident.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from roomwatch.agent.wire import Event
from roomwatch.collector.db import workflow_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.maintenance import WindowSpec
from tests.collector.scenario_support import (
    T0,
    RecordingHooks,
    Scenario,
    camera,
    down,
    encoder,
    host,
    projector,
    rules_of,
    switch,
    ups,
)


@pytest.fixture
def scenario(database: Database, victoria) -> Scenario:
    return Scenario(database, victoria.url)


def only_fault(scenario: Scenario, rule: str):
    faults = scenario.faults(rule)
    assert len(faults) == 1, [(f.rule_id, f.target, f.status) for f in scenario.faults()]
    return faults[0]


# --- L1 -----------------------------------------------------------------------------------


def test_agent_offline_is_one_l1_for_the_room_and_recovers(scenario: Scenario):
    scenario.run(minutes=2)
    scenario.status("offline")
    scenario.advance(600)  # ten minutes without a sample: nothing else opens
    assert scenario.pipeline.check_silence(120) == []
    fault = only_fault(scenario, "agent_offline")
    assert (fault.level, fault.status, fault.target) == (1, "open", "r1/agent")
    assert rules_of(scenario.active()) == [("agent_offline", 1)]
    scenario.send_room()
    fault = only_fault(scenario, "agent_offline")
    assert fault.status == "resolved" and fault.resolved_at == scenario.clock.now
    assert scenario.active() == []


def test_agent_silent_is_the_l1_fault_and_its_devices_open_nothing(scenario: Scenario):
    scenario.run(minutes=1)
    scenario.advance(200)
    [opened] = scenario.pipeline.check_silence(120)
    assert (opened.kind, opened.level) == ("opened", 1)
    assert rules_of(scenario.active()) == [("agent_offline", 1)]


def test_recording_software_down_is_l1_and_recovery_is_recorded(scenario: Scenario):
    scenario.run(minutes=3, host=host(recorder=False))
    fault = only_fault(scenario, "recording_process_down")
    assert (fault.level, fault.fire_count) == (1, 6)
    assert fault.title == "Recording software recorder not running in r1"
    scenario.send_room()
    fault = only_fault(scenario, "recording_process_down")
    assert fault.status == "resolved" and fault.resolved_at == scenario.clock.now
    resolved = [e for e in scenario.events_of(fault.id) if e.type == "resolved"]
    assert resolved and resolved[0].detail["reason"] == "process.running=1"


def test_unreachable_camera_is_one_l1_fault(scenario: Scenario):
    scenario.run(minutes=5, cam_2=down("cam-2", "camera"))
    fault = only_fault(scenario, "device_unreachable")
    assert (fault.level, fault.target, fault.fire_count) == (1, "r1/cam-2", 10)
    assert scenario.suppressed() == []


def test_ups_on_battery_is_l2_and_rises_to_l1_with_minutes_left(scenario: Scenario):
    scenario.run(minutes=2, ups_1=ups(on_battery=True, minutes=12))
    fault = only_fault(scenario, "ups_on_battery")
    assert fault.level == 2
    assert fault.title == "UPS ups-1 on battery in r1 (12 min left)"
    assert fault.evidence["extra"]["battery_minutes_remaining"] == 12
    scenario.run(minutes=1, ups_1=ups(on_battery=True, minutes=8))
    [fault] = scenario.faults()  # the same fault, one rung up
    assert (fault.rule_id, fault.level) == ("ups_battery_low", 1)
    assert fault.title == "UPS ups-1 on battery in r1 (8 min left)"
    scenario.run(minutes=1)  # mains back
    assert [f.status for f in scenario.faults()] == ["resolved"]


def test_camera_without_video_is_l1_after_a_minute(scenario: Scenario):
    scenario.run(minutes=0.5, cam_1=camera(stream=3))
    assert scenario.faults("camera_no_video") == []
    scenario.run(minutes=1.5, cam_1=camera(stream=3))
    assert only_fault(scenario, "camera_no_video").level == 1


# --- root cause ---------------------------------------------------------------------------


def test_failed_switch_is_one_l1_and_its_devices_are_suppressed(scenario: Scenario):
    hooks = RecordingHooks()
    scenario.workflow.hooks = hooks
    scenario.run(minutes=1)
    behind = {
        "sw_1": down("sw-1", "switch"),
        "cam_1": down("cam-1", "camera"),
        "cam_2": down("cam-2", "camera"),
        "enc_1": down("enc-1", "encoder"),
    }
    scenario.run(minutes=3, **behind)
    [root] = scenario.active()
    assert (root.rule_id, root.target, root.level) == ("device_unreachable", "r1/sw-1", 1)
    suppressed = scenario.suppressed()
    assert sorted(s.target for s in suppressed) == ["r1/cam-1", "r1/cam-2", "r1/enc-1"]
    assert {(s.reason, s.root_fault_id, s.ended_at) for s in suppressed} == {
        ("root_cause", root.id, None)
    }
    assert all(s.fire_count == 6 for s in suppressed)
    assert [c[2] for c in hooks.of("notify")] == ["opened"]  # one notification, the root's
    # The switch comes back; cam-2 does not. The cameras boot for up to two minutes after
    # their PoE switch (recovery grace): cam-2 opens as its own fault only after that.
    scenario.send_room(cam_2=down("cam-2", "camera"))
    assert scenario.active() == []
    scenario.advance(90)
    scenario.send_room(cam_2=down("cam-2", "camera"))
    assert scenario.active() == []
    scenario.advance(30)
    scenario.send_room(cam_2=down("cam-2", "camera"))
    assert rules_of(scenario.active()) == [("device_unreachable", 1)]
    [cam2] = scenario.active()
    assert cam2.target == "r1/cam-2"
    outcomes = {s.target: s.outcome for s in scenario.suppressed()}
    assert outcomes == {"r1/cam-1": "cleared", "r1/cam-2": "opened", "r1/enc-1": "cleared"}
    assert any(e.type == "was_suppressed" for e in scenario.events_of(cam2.id))
    assert scenario.faults("device_unreachable")[0].status == "resolved"


def test_failed_ups_suppresses_everything_behind_it_transitively(scenario: Scenario):
    scenario.run(minutes=1)
    dead = {
        name.replace("-", "_"): down(name, kind)
        for name, kind in [
            ("ups-1", "ups"),
            ("sw-1", "switch"),
            ("cam-1", "camera"),
            ("cam-2", "camera"),
            ("enc-1", "encoder"),
        ]
    }
    scenario.run(minutes=2, **dead)
    [root] = scenario.active()
    assert root.target == "r1/ups-1"
    assert sorted(s.target for s in scenario.suppressed()) == [
        "r1/cam-1",
        "r1/cam-2",
        "r1/enc-1",
        "r1/sw-1",
    ]
    kinds = [e.type for e in scenario.events_of(root.id)]
    assert kinds.count("dependent_suppressed") == 4


# --- L2 -----------------------------------------------------------------------------------


def test_disk_nearly_full_is_l2_and_filling_is_l3_never_both(scenario: Scenario):
    scenario.run(minutes=1, host=host(disk=83))
    assert rules_of(scenario.active()) == [("disk_filling", 3)]
    scenario.run(minutes=1, host=host(disk=93))
    # One fault for the disk: it climbed the ladder (filling → nearly full) instead of
    # resolving and opening a sibling.
    [fault] = scenario.faults()
    assert (fault.rule_id, fault.level, fault.status) == ("disk_nearly_full", 2, "open")


def test_cpu_saturated_for_five_minutes_is_l2_not_before(scenario: Scenario):
    scenario.run(minutes=4.5, host=host(cpu=99))
    assert scenario.faults("cpu_saturated") == []
    scenario.run(minutes=1, host=host(cpu=99))
    assert only_fault(scenario, "cpu_saturated").level == 2


def test_a_cpu_dip_between_the_thresholds_restarts_the_five_minutes(scenario: Scenario):
    scenario.run(minutes=4, host=host(cpu=99))
    scenario.run(minutes=1, host=host(cpu=88))  # neither firing nor clear: the wait starts over
    scenario.run(minutes=4.5, host=host(cpu=99))
    assert scenario.faults("cpu_saturated") == []
    scenario.run(minutes=1, host=host(cpu=99))
    assert only_fault(scenario, "cpu_saturated").level == 2


def test_memory_saturated_is_l2(scenario: Scenario):
    scenario.run(minutes=6, host=host(mem=97))
    assert rules_of(scenario.active()) == [("memory_saturated", 2)]


def test_interface_errors_and_packet_loss_are_l2(scenario: Scenario):
    scenario.run(minutes=3, sw_1=switch({"port2": {"in_errors_per_s": 40}}))
    fault = only_fault(scenario, "interface_errors")
    assert (fault.level, fault.target) == (2, "r1/sw-1/interfaces{ifname=port2}")
    scenario.run(minutes=3, host=host(nic_drops=300))
    assert only_fault(scenario, "host_nic_drops").level == 2


def test_critical_temperature_is_l2_and_warm_is_l3(scenario: Scenario):
    scenario.run(minutes=6, cam_1=camera(temperature=68))
    assert rules_of(scenario.active()) == [("temperature_warm", 3)]
    scenario.run(minutes=2, cam_1=camera(temperature=80))
    assert rules_of(scenario.active()) == [("temperature_critical", 2)]


# --- L3 -----------------------------------------------------------------------------------


def test_disk_filling_fast_is_l3_from_its_rate(scenario: Scenario):
    for step in range(13):  # 50 % → 68 % over an hour: 18 %/h
        scenario.send_room(host=host(disk=50 + 1.5 * step))
        scenario.advance(300)
    fault = only_fault(scenario, "disk_filling_fast")
    assert fault.level == 3 and fault.evidence["compute"] == "rate_per_h"


def test_link_renegotiated_down_is_l3(scenario: Scenario):
    scenario.run(minutes=1)
    scenario.run(minutes=1, sw_1=switch({"port3": {"speed_mbps": 100}}))
    fault = only_fault(scenario, "link_speed_degraded")
    assert (fault.level, fault.target) == (3, "r1/sw-1/interfaces{ifname=port3}")
    scenario.run(minutes=1)
    assert only_fault(scenario, "link_speed_degraded").status == "resolved"


def test_link_flapping_is_l3(scenario: Scenario):
    for i in range(8):
        scenario.send_room(sw_1=switch({"port1": {"oper_up": float(i % 2)}}))
        scenario.advance(30)
    fault = only_fault(scenario, "link_flapping")
    assert fault.level == 3


def test_ups_battery_to_replace_is_l3(scenario: Scenario):
    scenario.run(minutes=1, ups_1=ups(replace=True))
    assert rules_of(scenario.active()) == [("ups_battery_replace", 3)]


def test_link_down_trap_opens_l3_and_link_up_trap_resolves_it(scenario: Scenario):
    scenario.run(minutes=1)
    trap = {"ifname": "port2", "ifindex": 2.0}
    scenario.events(Event(device="sw-1", type="link_down", attrs=trap, at=scenario.clock.now))
    fault = only_fault(scenario, "link_down_trap")
    assert (fault.level, fault.target) == (3, "r1/sw-1/event{ifname=port2}")
    scenario.advance(60)
    scenario.events(Event(device="sw-1", type="link_up", attrs=trap, at=scenario.clock.now))
    assert only_fault(scenario, "link_down_trap").status == "resolved"


# --- L4 -----------------------------------------------------------------------------------


def test_long_uptime_and_lamp_end_of_life_are_l4(scenario: Scenario):
    scenario.run(minutes=1, host=host(uptime_s=90 * 86_400), proj_1=projector(lamp_hours=3800))
    assert sorted(rules_of(scenario.active())) == [("lamp_end_of_life", 4), ("uptime_long", 4)]
    lamp = only_fault(scenario, "lamp_end_of_life")
    assert lamp.title == "Projector lamp in r1 near end of life (3800 h, 95% of rated)"


# --- maintenance windows ------------------------------------------------------------------


def test_nothing_opens_inside_a_window_but_samples_are_stored(scenario: Scenario, victoria):
    # A day after the other tests: VictoriaMetrics keeps one of two samples of a series
    # with the same timestamp, and which one is not defined.
    start = scenario.clock.now = T0 + timedelta(days=1)
    with scenario.db.session() as session:
        spec = WindowSpec(
            name="camera replacement",
            kind="once",
            room_id="r1",
            starts_at=start,
            ends_at=start + timedelta(minutes=30),
        )
        window = workflow_store.add_window(session, spec.model_dump(), "eng", start)
        window_id = window.id
    scenario.run(minutes=10, cam_2=down("cam-2", "camera"), enc_1=encoder(temperature=81))
    assert scenario.active() == []
    muted = scenario.suppressed()
    assert sorted((m.rule_id, m.target) for m in muted) == [
        ("device_unreachable", "r1/cam-2"),
        ("temperature_critical", "r1/enc-1"),
    ]
    assert {(m.reason, m.window_id) for m in muted} == {("maintenance", window_id)}
    series = victoria.export('encoder_temperature_c{room="r1",device="enc-1"}')
    assert 81.0 in [v for s in series for v in s["values"]]
    # After the window, what still fails opens.
    scenario.clock.now = start + timedelta(minutes=31)
    scenario.send_room(cam_2=down("cam-2", "camera"))
    assert rules_of(scenario.active()) == [("device_unreachable", 1)]
    outcomes = {m.target: m.outcome for m in scenario.suppressed()}
    assert outcomes == {"r1/cam-2": "opened", "r1/enc-1": "cleared"}


def test_a_weekly_window_in_the_site_time_zone_mutes_only_its_hours(scenario: Scenario):
    with scenario.db.session() as session:
        spec = WindowSpec(
            name="Monday morning reboots",
            kind="weekly",
            site_id="s1",
            weekdays=[0],
            start_time="08:30",
            end_time="09:30",  # T0 is Monday 09:00 in Asia/Shanghai
        )
        workflow_store.add_window(session, spec.model_dump(), "eng", T0)
    scenario.send_room(cam_1=down("cam-1", "camera"))
    assert scenario.active() == []
    scenario.advance(31 * 60)  # 09:31
    scenario.send_room(cam_1=down("cam-1", "camera"))
    assert rules_of(scenario.active()) == [("device_unreachable", 1)]


def test_each_transition_calls_the_sla_hooks_once(scenario: Scenario):
    hooks = RecordingHooks()
    scenario.workflow.hooks = hooks
    scenario.run(minutes=1, cam_2=down("cam-2", "camera"))
    scenario.send_room()
    [fault] = scenario.faults()
    assert hooks.calls == [
        ("start_clocks", fault.id, "open"),
        ("notify", fault.id, "opened"),
        ("status", fault.id, "open>resolved"),
        ("notify", fault.id, "resolved"),
    ]

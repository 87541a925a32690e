"""Rules as data: the built-in pack loads, thresholds fire and clear with hysteresis,
inhibition keeps one fault per disk, and a bad rule file names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from roomwatch.agent.wire import DeviceSample, TableRow
from roomwatch.collector.errors import RuleError
from roomwatch.collector.levels import Level
from roomwatch.collector.rules.engine import RuleEngine, State
from roomwatch.collector.rules.model import load_rules


def host_with_disk(used_pct: float) -> DeviceSample:
    rows = [TableRow(labels={"mount": "/data"}, metrics={"used_pct": used_pct})]
    return DeviceSample(device="host", kind="host", reachable=True, tables={"disk": rows})


def states(verdicts, rule_id):
    return [v.state for v in verdicts if v.rule.id == rule_id]


def test_builtin_pack_levels_follow_the_service_plan():
    rules = {r.id: r for r in load_rules()}
    assert rules["agent_offline"].level is Level.L1
    assert rules["device_unreachable"].level is Level.L1
    assert rules["disk_nearly_full"].level is Level.L2
    assert rules["disk_filling"].level is Level.L3


def test_disk_rule_fires_at_90_holds_between_and_clears_below_85():
    engine = RuleEngine(load_rules())
    assert states(engine.evaluate("r1", host_with_disk(91)), "disk_nearly_full") == [State.FIRE]
    assert states(engine.evaluate("r1", host_with_disk(87)), "disk_nearly_full") == [State.HOLD]
    assert states(engine.evaluate("r1", host_with_disk(80)), "disk_nearly_full") == [State.CLEAR]


def test_a_nearly_full_disk_is_one_fault_not_also_a_filling_one():
    verdicts = RuleEngine(load_rules()).evaluate("r1", host_with_disk(95))
    assert states(verdicts, "disk_nearly_full") == [State.FIRE]
    # Both rungs of the disk's ladder act on one fault (collector.fault_decide.ladder).
    rungs = [v for v in verdicts if v.rule.id in ("disk_nearly_full", "disk_filling")]
    assert {v.open_key for v in rungs} == {"host_disk_space|r1/host/disk{mount=/data}"}


def test_clear_and_hold_verdicts_nothing_waits_on_are_left_out():
    engine = RuleEngine(load_rules())
    waited_on = {"host_disk_space|r1/host/disk{mount=/data}"}.__contains__

    def disk_states(used_pct: float, relevant) -> list[State]:
        verdicts = engine.evaluate("r1", host_with_disk(used_pct), relevant=relevant)
        return states(verdicts, "disk_nearly_full")

    assert disk_states(80, lambda _key: False) == []
    assert disk_states(87, lambda _key: False) == []
    assert disk_states(87, waited_on) == [State.HOLD]
    assert disk_states(80, waited_on) == [State.CLEAR]
    # A firing rule is always reported.
    verdicts = engine.evaluate("r1", host_with_disk(95), relevant=lambda _key: False)
    assert states(verdicts, "disk_nearly_full") == [State.FIRE]


def test_verdict_names_the_row_in_target_and_title():
    verdict = next(
        v
        for v in RuleEngine(load_rules()).evaluate("r1", host_with_disk(93))
        if v.rule.id == "disk_nearly_full"
    )
    assert verdict.target == "r1/host/disk{mount=/data}"
    assert verdict.title() == "Disk /data nearly full on host in r1 (93 %)"


def test_unreachable_camera_fires_but_the_host_is_never_unreachable():
    engine = RuleEngine(load_rules())
    camera = DeviceSample(device="cam-1", kind="camera", reachable=False, error="timeout")
    assert states(engine.evaluate("r1", camera), "device_unreachable") == [State.FIRE]
    assert states(engine.evaluate("r1", host_with_disk(10)), "device_unreachable") == []


def test_site_overrides_change_a_threshold_and_disable_a_rule(tmp_path: Path):
    site = tmp_path / "site.yaml"
    site.write_text(
        "overrides:\n"
        "  - id: disk_nearly_full\n"
        "    when: {op: '>=', value: 95}\n"
        "    clear: {op: '<', value: 90}\n"
        "  - id: cpu_saturated\n    enabled: false\n"
    )
    rules = {r.id: r for r in load_rules([site])}
    assert "cpu_saturated" not in rules
    assert states(
        RuleEngine(rules.values()).evaluate("r1", host_with_disk(93)), "disk_nearly_full"
    ) == [State.HOLD]


def test_a_site_may_lower_the_recorder_rule_below_its_outside_class_level(tmp_path: Path):
    """Overrides written before class timetables existed keep working."""
    site = tmp_path / "site.yaml"
    site.write_text(
        "overrides:\n  - id: recording_process_down\n    level: 3\n"
        "  - id: ups_on_battery\n    level: 2\n"
    )
    rules = {r.id: r for r in load_rules([site])}
    recorder = rules["recording_process_down"]
    assert (recorder.level, recorder.outside_class_level) == (3, None)
    site.write_text(
        "overrides:\n  - id: recording_process_down\n    level: 2\n    outside_class_level: 4\n"
    )
    recorder = {r.id: r for r in load_rules([site])}["recording_process_down"]
    assert (recorder.level, recorder.outside_class_level) == (2, 4)


def test_bad_rule_file_names_the_file_and_the_key(tmp_path: Path):
    site = tmp_path / "site.yaml"
    site.write_text(
        "rules:\n  - id: x\n    level: 1\n    title: t\n    metric: a\n"
        "    when: {op: '>', value: 1}\n    colour: red\n"
    )
    with pytest.raises(RuleError, match=r"site.yaml: rules.0.colour: unknown key"):
        load_rules([site])


def test_override_of_an_unknown_rule_is_an_error(tmp_path: Path):
    site = tmp_path / "site.yaml"
    site.write_text("overrides:\n  - id: no_such_rule\n    enabled: false\n")
    with pytest.raises(RuleError, match="unknown rule 'no_such_rule'"):
        load_rules([site])


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("{device.name} hot", r"title field \{device.name\}: only plain names"),
        ("{value[0]} hot", r"title field \{value\[0\]\}: only plain names"),
        ("{0} hot", r"title field \{0\}: only plain names"),
        ("{value:d} hot", "title .{value:d} hot. cannot be filled"),
        ("{device hot", "title"),
    ],
)
def test_a_title_template_that_cannot_be_filled_is_refused_at_load(
    tmp_path: Path, title: str, expected: str
):
    site = tmp_path / "site.yaml"
    site.write_text(
        f"rules:\n  - id: hot_camera\n    level: 2\n    title: '{title}'\n"
        "    metric: temperature_c\n    when: {op: '>', value: 70}\n"
    )
    with pytest.raises(RuleError, match=r"site.yaml: .*rule hot_camera: " + expected):
        load_rules([site])


def test_a_title_that_fails_anyway_falls_back_to_the_rule_and_target(caplog):
    from roomwatch.collector.rules.model import Rule

    [disk] = [r for r in load_rules() if r.id == "disk_nearly_full"]
    # A template the load check cannot see coming (built past validation).
    broken = Rule.model_construct(**{**dict(disk), "title": "{value.nope}"})
    [verdict] = [
        v
        for v in RuleEngine([broken]).evaluate("r1", host_with_disk(93))
        if v.rule.id == "disk_nearly_full"
    ]
    assert verdict.title() == "disk_nearly_full on r1/host/disk{mount=/data}"
    assert verdict.title() == "disk_nearly_full on r1/host/disk{mount=/data}"
    assert caplog.text.count("title template cannot be filled") == 1

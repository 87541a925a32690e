"""Condition kinds of the rule language (state sets, rates, changes in a window, ratios,
fraction of the highest value, staleness, guards, event matches, evidence in the title),
the pack covering the plan's examples with the agent's metric names, and per-site overrides
kept in SQL that the running tracker picks up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from roomwatch.agent.snmp.profile import ProfileRegistry
from roomwatch.agent.wire import DeviceSample, Event
from roomwatch.collector.db import workflow_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.levels import Level
from roomwatch.collector.rules.book import RuleBook
from roomwatch.collector.rules.engine import RuleEngine, State
from roomwatch.collector.rules.model import Rule, load_rule_pack, load_rules
from tests.collector.scenario_support import Scenario, ups

T = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# What the agent's own probes send besides the SNMP profiles: the host probe (agent/host/),
# the agent's liveness, and the non-SNMP checks (agent/checks/) every device kind may have.
HOST_PROBE_METRICS = {
    "cpu_pct",
    "mem_used_pct",
    "temperature_c",
    "uptime_s",
    "disk.used_pct",
    "process.running",
    "nic.errors_per_s",
    "nic.drops_per_s",
}
CHECK_METRICS = {"reachable", "rtt_ms", "stream_up"}
# Targets the collector itself measures rather than an agent (spare stock per site and model).
COLLECTOR_METRICS = {"spare_stock": {"shortfall"}}


def agent_metrics() -> dict[str, set[str]]:
    """Per device kind, every metric name a built-in profile of that kind (or of kind
    ``any``) sends, as the collector sees it (``table.metric`` for table columns)."""
    registry = ProfileRegistry.load()
    by_kind: dict[str, set[str]] = {"host": set(HOST_PROBE_METRICS), "agent": {"online"}}
    generic: set[str] = set()
    for name in registry.names():
        profile = registry.get(name)
        names = {m.name for m in profile.metrics}
        names |= {f"{t.name}.{m.name}" for t in profile.tables for m in t.metrics}
        if profile.kind == "any":
            generic |= names
        else:
            by_kind.setdefault(profile.kind, set()).update(names)
    for kind in by_kind:
        if kind != "agent":
            by_kind[kind] |= CHECK_METRICS
    by_kind["any"] = generic | CHECK_METRICS
    return by_kind | COLLECTOR_METRICS


def rule(**fields) -> Rule:
    return Rule.model_validate({"id": "r", "level": 3, "title": "t {value}", **fields})


def sample(device: str = "d", kind: str = "thing", **metrics: float) -> DeviceSample:
    return DeviceSample(device=device, kind=kind, reachable=True, metrics=metrics)


def states(engine: RuleEngine, *samples: DeviceSample, step_s: float = 60) -> list[State]:
    out = []
    for i, s in enumerate(samples):
        out += [v.state for v in engine.evaluate("r1", s, T + timedelta(seconds=i * step_s))]
    return out


def test_every_metric_rule_of_the_pack_reads_a_metric_the_agent_sends():
    sent = agent_metrics()
    unread = []
    for r in load_rules():
        if r.is_event_rule:
            continue
        kinds = r.selector.kinds or [k for k in sent if k not in r.selector.exclude_kinds]
        if not any(r.metric in sent.get(k, set()) | sent["any"] for k in kinds):
            unread.append(f"{r.id} reads {r.metric} of {kinds}")
    assert unread == []


def test_the_pack_maps_the_plans_examples_to_their_levels():
    levels = {r.id: r.level for r in load_rule_pack()}
    expected = {
        "agent_offline": 1,
        "recording_process_down": 1,
        "device_unreachable": 1,
        "ups_battery_low": 1,
        "ups_on_battery": 2,
        "disk_nearly_full": 2,
        "cpu_saturated": 2,
        "memory_saturated": 2,
        "interface_errors": 2,
        "interface_discards": 2,
        "temperature_critical": 2,
        "disk_filling": 3,
        "disk_filling_fast": 3,
        "cpu_high": 3,
        "temperature_warm": 3,
        "link_speed_degraded": 3,
        "ups_battery_replace": 3,
        "link_flapping": 3,
        "uptime_long": 4,
        "lamp_end_of_life": 4,
    }
    assert {k: int(levels[k]) for k in expected} == expected
    assert all(isinstance(v, Level) for v in levels.values())


def test_state_sets_fire_on_any_listed_value():
    engine = RuleEngine([rule(metric="s", when={"op": "in", "values": [3, 4]})])
    assert states(engine, sample(s=2), sample(s=3), sample(s=4), sample(s=1)) == [
        State.CLEAR,
        State.FIRE,
        State.FIRE,
        State.CLEAR,
    ]
    with pytest.raises(ValueError, match="takes 'values'"):
        rule(metric="s", when={"op": "in", "value": 3})


def test_rate_per_hour_needs_half_its_window_of_history():
    engine = RuleEngine(
        [
            rule(
                metric="p",
                compute="rate_per_h",
                window_s=3600,
                when={"op": ">=", "value": 2},
                clear={"op": "<", "value": 0.5},
            )
        ]
    )
    rising = [sample(p=50 + i * 0.1) for i in range(40)]  # 6 %/h, one sample a minute
    # No verdict before 30 minutes of history, then 6 %/h fires.
    assert states(engine, *rising) == [State.FIRE] * 10


def test_changes_in_a_window_count_flips():
    engine = RuleEngine(
        [
            rule(
                metric="up",
                compute="changes",
                window_s=600,
                when={"op": ">=", "value": 4},
                clear={"op": "<", "value": 1},
            )
        ]
    )
    flips = [sample(up=float(i % 2)) for i in range(6)]
    assert states(engine, *flips)[-1] is State.FIRE
    steady = [sample(up=1.0) for _ in range(12)]
    assert states(engine, *flips, *steady)[-1] is State.CLEAR


def test_ratio_fraction_of_max_and_guards():
    ratio = RuleEngine(
        [rule(metric="a", compute="ratio", ratio_to="b", when={"op": ">=", "value": 0.9})]
    )
    assert states(ratio, sample(a=95, b=100), sample(a=10, b=100), sample(a=1, b=0)) == [
        State.FIRE,
        State.CLEAR,
    ]
    drop = RuleEngine(
        [
            rule(
                metric="speed",
                compute="fraction_of_max",
                where=[{"metric": "up", "op": "==", "value": 1}],
                when={"op": "<", "value": 0.9},
            )
        ]
    )
    seen = states(drop, sample(speed=1000, up=1), sample(speed=100, up=1), sample(speed=100, up=0))
    assert seen == [State.CLEAR, State.FIRE, State.CLEAR]


def test_staleness_fires_when_a_metric_stops_arriving():
    engine = RuleEngine([rule(metric="fps", compute="age_s", when={"op": ">=", "value": 300})])
    seen = states(
        engine,
        sample(),
        sample(fps=25),
        sample(),
        sample(),
        sample(),
        sample(),
        sample(),
        sample(),
        step_s=60,
    )
    assert seen == [State.CLEAR] * 5 + [State.FIRE] * 2  # never seen yet: nothing


def test_event_rules_match_type_and_attributes_and_name_the_row():
    engine = RuleEngine(load_rules())
    trap = Event(device="sw", type="link_down", attrs={"ifname": "p3", "ifindex": 3.0}, at=T)
    [verdict] = engine.evaluate_event("r1", trap, "switch", None)
    assert (verdict.rule.id, verdict.state, verdict.target) == (
        "link_down_trap",
        State.FIRE,
        "r1/sw/event{ifname=p3}",
    )
    other = Event(device="sw", type="cold_start", at=T)
    assert engine.evaluate_event("r1", other, "switch", None) == []
    assert engine.evaluate_event("r1", trap, "camera", None) == []  # not a switch or NAS


def test_evidence_metrics_fill_the_title():
    [verdict] = [
        v
        for v in RuleEngine(load_rules()).evaluate("r1", ups(on_battery=True, minutes=7.4))
        if v.rule.id == "ups_on_battery"
    ]
    assert verdict.title() == "UPS ups-1 on battery in r1 (7 min left)"
    assert verdict.evidence()["extra"] == {
        "battery_minutes_remaining": 7.4,
        "battery_charge_pct": pytest.approx(16.44, 0.01),
    }


def test_a_site_file_can_add_an_event_rule(tmp_path: Path):
    site = tmp_path / "site.yaml"
    site.write_text(
        yaml.safe_dump(
            {
                "rules": [
                    {
                        "id": "recorder_crashed",
                        "level": 1,
                        "title": "Recorder crashed in {room}",
                        "event": {"type": "process_stop", "attrs": {"required": 1.0}},
                        "clear_event": {"type": "process_start"},
                        "event_labels": ["process"],
                    }
                ]
            }
        )
    )
    rules = {r.id: r for r in load_rules([site])}
    assert rules["recorder_crashed"].is_event_rule


def test_a_site_override_in_sql_reaches_the_running_tracker(database: Database, victoria):
    scenario = Scenario(database, victoria.url)
    scenario.run(minutes=1, ups_1=ups(on_battery=True, minutes=30))
    assert [f.rule_id for f in scenario.active()] == ["ups_on_battery"]
    with database.session() as session:
        workflow_store.save_rule_override(
            session, "ups_battery_replace", "s1", {"level": 2}, "admin", scenario.clock.now
        )
        workflow_store.save_rule_override(
            session, "device_unreachable", "*", {"for_s": 120}, "admin", scenario.clock.now
        )
    scenario.run(minutes=1, ups_1=ups(replace=True))
    replace = [f for f in scenario.active() if f.rule_id == "ups_battery_replace"]
    assert [f.level for f in replace] == [2]
    book = scenario.tracker.book
    assert isinstance(book, RuleBook)
    assert book.engine.rule("device_unreachable").for_s == 120  # type: ignore[union-attr]

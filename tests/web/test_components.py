"""The dashboard's building blocks without a server: tile states, the room graph's failed
part, SVG charts, durations, and the two language catalogs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from roomwatch.collector.db.queries import AgentView, DeviceStateView, DeviceView, RoomSummary
from roomwatch.collector.web import graph
from roomwatch.collector.web.charts import Series, Shade, sparkline, time_chart, value_formatter
from roomwatch.collector.web.devicedata import chart_ids, device_condition, key_values
from roomwatch.collector.web.i18n import CATALOG_DIR, LANGUAGES, Translator
from roomwatch.collector.web.tiles import matches, room_state, tile
from roomwatch.collector.web.timefmt import duration, local

WEB = Path(__file__).resolve().parents[2] / "collector" / "web"
T0 = datetime(2025, 3, 3, 0, 30, tzinfo=UTC)


def room(agents: list[bool], worst: int | None = None) -> RoomSummary:
    return RoomSummary(
        id="r1",
        name="Room 1",
        building="A",
        site_id="s1",
        site_name="School",
        agents=[AgentView(f"a{i}", up, T0, T0, "1", "pc") for i, up in enumerate(agents)],
        device_count=5,
        unreachable_count=1,
        open_fault_count=1 if worst else 0,
        worst_open_level=worst,
    )


@pytest.mark.parametrize(
    ("agents", "worst", "state"),
    [
        ([], None, "unmonitored"),
        ([False], 1, "offline"),  # the agent-offline L1 room is grey: nothing is watched
        ([True], None, "ok"),
        ([True], 3, "l3"),
        ([True, False], 1, "l1"),
    ],
)
def test_room_state(agents: list[bool], worst: int | None, state: str):
    assert room_state(room(agents, worst)) == state


def test_tile_times_are_in_the_site_zone_and_filters_match():
    shown = tile(room([True], 2), None, ZoneInfo("Asia/Shanghai"))
    assert shown.last_seen == "03-03 08:30:00" and shown.state == "l2"
    assert matches(shown, "s1", "A", "faulty", "room")
    assert not matches(shown, "", "", "grey", "")
    assert not matches(shown, "s2", "", "", "")
    assert not matches(shown, "", "", "", "nothing like it")


def device(name: str, kind: str, parent: str | None, reachable: bool | None) -> DeviceView:
    state = None
    if reachable is not None:
        state = DeviceStateView(reachable, 1.0, None, T0, {"temperature_c": 41.5}, {})
    return DeviceView(name, kind, None, None, None, None, parent, True, "inventory", state)


def test_graph_marks_the_failed_part_and_what_is_down_behind_it():
    devices = [
        device("host", "host", None, True),
        device("ups", "ups", None, True),
        device("sw", "switch", "ups", False),
        device("cam1", "camera", "sw", False),
        device("cam2", "camera", "sw", False),
        device("agent", "agent", None, True),
    ]
    conditions = {d.id: device_condition(d, [], True) for d in devices}
    nodes = {n.id: n for n in graph.build(devices, conditions)}
    assert "agent" not in nodes
    assert (nodes["sw"].role, nodes["cam1"].role, nodes["ups"].role) == ("failed", "behind", "")
    assert nodes["cam1"].y > nodes["sw"].y > nodes["ups"].y
    svg = graph.svg(list(nodes.values()), lambda d: f"/d/{d}", str, str)
    assert 'data-device="sw"' in svg and "node-failed" in svg and 'href="/d/cam2"' in svg


def test_graph_survives_a_parent_cycle():
    devices = [device("a", "switch", "b", True), device("b", "switch", "a", True)]
    assert {n.id for n in graph.build(devices, {})} == {"a", "b"}


def test_graph_of_a_chain_thousands_deep_is_drawn_without_recursion():
    """Agents report the parent links: a chain 5,000 deep hit the recursion limit (the
    room page answered 500) and a loop with a failed member must still end."""
    count = 5000
    devices = [
        device(f"d{i}", "switch", f"d{i - 1}" if i else None, i < count // 2) for i in range(count)
    ]
    nodes = {
        n.id: n
        for n in graph.build(devices, {d.id: device_condition(d, [], True) for d in devices})
    }
    assert len(nodes) == count
    assert nodes[f"d{count - 1}"].y > nodes["d0"].y
    assert (nodes[f"d{count // 2}"].role, nodes[f"d{count - 1}"].role) == ("failed", "behind")
    loop = [device("a", "switch", "b", False), device("b", "switch", "a", True)]
    roles = {n.id: n.role for n in graph.build(loop, {"a": "down", "b": "ok"})}
    assert roles == {"a": "failed", "b": ""}


def test_an_offline_room_draws_every_device_unknown():
    cam = device("cam1", "camera", None, True)
    assert device_condition(cam, [], online=False) == "unknown"


def test_key_values_and_charts_of_a_device():
    cam = device("cam1", "camera", None, True)
    assert [(kv.key, kv.text) for kv in key_values(cam)] == [
        ("temperature_c", "41.5 °C"),
        ("rtt_ms", "1.0 ms"),
    ]
    assert chart_ids(cam, ["stream_up"])[:3] == ["stream_up", "temperature_c", "reachable"]


def test_value_formats_follow_the_metric_unit():
    assert value_formatter("disk.free_bytes")(3 * 1024**3) == "3.0 GiB"
    assert value_formatter("nic.in_bytes_per_s")(2048) == "2.0 KiB/s"
    assert value_formatter("cpu_pct")(7.25) == "7.2%"
    assert value_formatter("uptime_s")(2 * 86400) == "2.0 d"
    assert value_formatter("stream_bitrate_kbps")(4096) == "4.1 Mbps"


def test_time_chart_shades_fault_periods_and_breaks_lines_at_gaps():
    start = T0.timestamp()
    points = [(start + 60 * i, 40.0 + i) for i in range(10)]
    points += [(start + 60 * i, 50.0) for i in range(30, 40)]  # 20 minutes without samples
    chart = time_chart(
        [Series("", points)],
        start,
        start + 3600,
        ZoneInfo("UTC"),
        "temperature_c",
        [Shade(start + 600, start + 900, 1, "cam1 unreachable"), Shade(start + 3000, None, 2, "x")],
    )
    svg = str(chart.svg)
    assert svg.count("<polyline") == 2
    assert 'class="shade shade-l1"' in svg and 'class="shade shade-l2"' in svg
    assert "<title>cam1 unreachable</title>" in svg
    assert not chart.empty
    assert time_chart([], start, start + 60, ZoneInfo("UTC"), "x").empty


def test_sparkline_needs_two_values():
    assert str(sparkline([1.0])) == ""
    assert "<polyline" in str(sparkline([1.0, None, 2.0, 3.0]))


def test_durations_in_both_languages():
    assert duration(timedelta(hours=2, minutes=5, seconds=3), "en") == "2 h 5 min"
    assert duration(timedelta(hours=2, minutes=5), "zh-CN") == "2小时5分"
    assert duration(-90, "en") == "1 min 30 s"
    assert duration(0, "zh-CN") == "0秒"
    assert local(T0, ZoneInfo("Asia/Shanghai")) == "2025-03-03 08:30"


def test_both_catalogs_have_the_same_keys_and_placeholders():
    catalogs = {
        lang: json.loads((CATALOG_DIR / f"{lang}.json").read_text("utf-8")) for lang in LANGUAGES
    }
    zh, en = catalogs["zh-CN"], catalogs["en"]
    assert set(zh) == set(en)
    for key in zh:
        assert re.findall(r"{\w+}", zh[key]) == re.findall(r"{\w+}", en[key]), key
        assert zh[key].strip() and en[key].strip(), key


def test_every_text_the_pages_use_is_in_the_catalogs():
    catalog = json.loads((CATALOG_DIR / "en.json").read_text("utf-8"))
    used: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("**/*.py")]:
        text = path.read_text("utf-8")
        used.update(re.findall(r"\bt\('([a-z_]+\.[a-z0-9_.]+)'", text))
        used.update(re.findall(r'"((?:device|error|login|action)\.[a-z_]+)"', text))
    missing = set()
    for key in used:
        if key.endswith((".", "_")):  # t('state.' ~ name): some key must continue it
            if not any(k.startswith(key) for k in catalog):
                missing.add(key)
        elif key not in catalog and not key.endswith(".html"):
            missing.add(key)
    assert not missing
    for family in ("state", "range", "sla.kind", "status", "role", "cond", "graph"):
        assert any(k.startswith(family + ".") for k in catalog), family


def test_translator_falls_back_and_labels_levels():
    t = Translator("zh-CN")
    assert t.level(1) == "L1 一级故障"
    assert Translator("en").level(4) == "L4 information / consultation"
    assert t("no.such.key") == "no.such.key"
    assert t.metric("disk.used_pct{mount=/record}") == "磁盘占用 (/record)"
    assert Translator("fr").lang == "zh-CN"

"""The Grafana dashboards (``dashboards/``) against what the collector really writes.

The schema is derived, not copied: every concrete-kind agent profile (``agent/profiles``)
becomes a device sample with all its metrics and table rows, the host probes run their own
code (over fixed OS readings, so every machine derives the same names), the agent's
self-health counters are added, and everything goes through ``collector.ingest.points``,
exactly as ingest does, and is read back from the line protocol it writes. Every InfluxQL
and PromQL query of both dashboard flavours may only use those measurements, tags and
fields; the PromQL flavour is also run against a real VictoriaMetrics holding those points.
The JSON must fit Grafana's dashboard model at the schema version the generator declares, and
be exactly what ``dashboards/generate.py`` writes.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import psutil
import pytest
import yaml

from roomwatch.agent.config import HostConfig, ProcessWatch
from roomwatch.agent.host.probe import HostProbe
from roomwatch.agent.selfhealth import AgentCounters
from roomwatch.agent.snmp.profile import ProfileRegistry
from roomwatch.agent.wire import DeviceSample, Event, EventsMessage, MetricsMessage, TableRow
from roomwatch.collector.config import TsdbConfig
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from roomwatch.collector.ingest.points import Placement, event_lines, metrics_lines
from roomwatch.collector.ingest.tsdb import TsdbWriter
from roomwatch.collector.web.tsdb_read import TsdbReader
from tests.collector.lineproto_support import parse_line

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
PLACE = Placement(site="campus", room="room-1")


@dataclass
class Measurement:
    tags: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)


@cache
def generator() -> ModuleType:
    """``dashboards/generate.py`` (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("dashboards_generate", DASHBOARDS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


# --- the schema the collector writes --------------------------------------------------------


def profile_samples() -> list[DeviceSample]:
    """One sample per concrete-kind profile, with every metric and one row per table."""
    registry = ProfileRegistry.load()
    samples = []
    for name in registry.names():
        profile = registry.get(name)
        if profile.kind == "any":
            continue
        tables = {}
        for table in profile.tables:
            labels = {label.name: "x" for label in table.labels}
            if table.index_label:
                labels[table.index_label] = "1"
            tables[table.name] = [
                TableRow(labels=labels, metrics={m.name: 1.0 for m in table.metrics})
            ]
        samples.append(
            DeviceSample(
                device=f"dev-{name}",
                kind=profile.kind,
                model="model",
                reachable=True,
                rtt_ms=1.0,
                metrics={m.name: 1.0 for m in profile.metrics},
                tables=tables,
            )
        )
    return samples


def host_sample(monkeypatch: pytest.MonkeyPatch) -> DeviceSample:
    """The host probes' own output, over fixed OS readings (a disk, a NIC, a sensor)."""
    ticks = iter(range(1, 100))
    disk_io = namedtuple("disk_io", "read_bytes write_bytes")
    net_io = namedtuple("net_io", "bytes_recv bytes_sent errin errout dropin dropout")
    sensor = namedtuple("sensor", "label current high critical")
    grow = iter(range(1000, 10**6, 1000))
    monkeypatch.setattr(
        psutil, "disk_io_counters", lambda perdisk=True: {"sda": disk_io(*[next(grow)] * 2)}
    )
    monkeypatch.setattr(
        psutil, "net_io_counters", lambda pernic=True: {"eth0": net_io(*[next(grow)] * 6)}
    )
    monkeypatch.setattr(
        psutil,
        "sensors_temperatures",
        lambda: {"coretemp": [sensor("Package", 51.0, 80.0, 95.0)]},
        raising=False,
    )
    config = HostConfig(disks=["/"], processes=[ProcessWatch(name="recorder", match="python")])
    probe = HostProbe(config, clock_s=lambda: float(next(ticks)))
    probe.collect()  # counters need a previous cycle to become rates
    return probe.collect()


def written_schema(monkeypatch: pytest.MonkeyPatch) -> dict[str, Measurement]:
    now = datetime.now(UTC)
    devices = [*profile_samples(), host_sample(monkeypatch), AgentCounters().to_sample()]
    message = MetricsMessage(agent="agent-1", seq=1, ts=now, interval_s=30, devices=devices)
    events = EventsMessage(
        agent="agent-1", seq=2, ts=now, events=[Event(device="host", type="x", at=now)]
    )
    schema: dict[str, Measurement] = {}
    for text in [*metrics_lines(message, PLACE), *event_lines(events, PLACE)]:
        line = parse_line(text)  # what goes over the wire, read back by the protocol's rules
        entry = schema.setdefault(line.measurement, Measurement())
        entry.tags.update(line.tags)
        entry.fields.update(line.fields)
    return schema


@pytest.fixture(scope="module")
def schema() -> dict[str, Measurement]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return written_schema(monkeypatch)


def test_the_derived_schema_has_what_the_docs_promise(schema: dict[str, Measurement]):
    assert {"site", "room", "agent", "device", "kind", "model"} <= schema["camera"].tags
    assert {"reachable", "rtt_ms", "temperature_c"} <= schema["camera"].fields
    assert {"mount"} <= schema["host_disk"].tags and "used_pct" in schema["host_disk"].fields
    assert {"ifindex", "ifname"} <= schema["switch_interfaces"].tags
    assert {"cpu_pct", "temperature_c"} <= schema["host"].fields
    assert {"cycles", "spool_depth"} <= schema["agent"].fields
    assert "read_bytes_per_s" in schema["host_diskio"].fields
    gen = generator()
    snmp_kinds = {p.kind for p in map(ProfileRegistry.load().get, ProfileRegistry.load().names())}
    # host: the recording PC's own measurement (and an SNMP host's), charted by the host panels
    assert set(gen.DEVICE_KINDS) == snmp_kinds - {"any", "host"}


# --- queries ----------------------------------------------------------------------------------

ALIASES = {"last", "count"}  # names an outer query reads from its subquery


def influx_uses(query: str) -> list[tuple[list[str], set[str], set[str]]]:
    """(measurements, fields, tags) of each SELECT / SHOW over stored measurements."""
    nested = re.search(r"FROM \((SELECT .*)\)(.*)$", query)
    if nested:
        outer = query[: nested.start()] + nested.group(2)
        assert set(re.findall(r'"([^"]+)"', outer)) <= ALIASES, outer
        return influx_uses(nested.group(1))
    sources = re.search(r'FROM ((?:"[^"]+"(?:, )?)+)', query)
    assert sources, query
    measurements = re.findall(r'"([^"]+)"', sources.group(1))
    fields = set(re.findall(r'\b(?:mean|max|min|last|count|sum)\("([^"]+)"\)', query))
    tags = set(re.findall(r'"([^"]+)" (?:=~|!~|=|!=) ', query.split(" FROM ", 1)[1]))
    tags -= set(measurements)
    if " GROUP BY " in query:
        tags |= set(re.findall(r'"([^"]+)"', query.split(" GROUP BY ", 1)[1]))
    key = re.search(r'WITH KEY = "([^"]+)"', query)
    if key:
        tags.add(key.group(1))
    return [(measurements, fields, tags)]


def prom_uses(expr: str) -> list[tuple[list[str], set[str]]]:
    """(metric names, labels) of each selector; ``by (...)`` labels apply to all."""
    by = {
        label.strip()
        for group in re.findall(r"\bby \(([^)]*)\)", expr)
        for label in group.split(",")
    }
    values = re.match(r"label_values\((.*), (\w+)\)$", expr)
    if values:
        expr, by = values.group(1), by | {values.group(2)}
        if "{" not in expr:
            return [([expr], by)]
    uses = []
    for name, body in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)?\{([^}]*)\}", expr):
        matchers = dict(re.findall(r'(\w+)\s*(?:=~|!~|!=|=)\s*"([^"]*)"', body))
        names = [name] if name else matchers.pop("__name__").split("|")
        uses.append((names, set(matchers) | by))
    assert uses, expr
    return uses


def splits(name: str, schema: dict[str, Measurement]) -> list[str]:
    """Measurements ``m`` with a field ``f`` such that the series name is ``m_f``."""
    return [m for m, e in schema.items() if any(name == f"{m}_{f}" for f in e.fields)]


def targets_of(board: dict[str, Any]) -> list[tuple[str, str]]:
    found = [(v["name"], v["query"]) for v in board["templating"]["list"]]
    for panel in board["panels"]:
        for t in panel.get("targets", []):
            found.append((panel["title"], t.get("expr") or t["query"]))
    return found


def boards(flavour: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text("utf-8")) for p in sorted((DASHBOARDS / flavour).glob("*.json"))]


def test_four_dashboards_in_each_flavour():
    for flavour in ("influxdb", "victoriametrics"):
        titles = " ".join(b["title"] for b in boards(flavour))
        for part in ("Fleet overview", "Room detail", "Device detail", "Agent health"):
            assert part in titles, (flavour, part)
        room = next(b for b in boards(flavour) if "Room detail" in b["title"])
        assert "room" in [v["name"] for v in room["templating"]["list"]]


def test_every_influxql_query_uses_written_measurements_tags_and_fields(
    schema: dict[str, Measurement],
):
    problems = []
    for board in boards("influxdb"):
        for where, query in targets_of(board):
            for measurements, fields, tags in influx_uses(query):
                for m in measurements:
                    if m not in schema:
                        problems.append(f"{board['uid']} {where}: no measurement {m}")
                        continue
                    problems += [
                        f"{board['uid']} {where}: {m} has no field {f}"
                        for f in fields - schema[m].fields
                    ]
                    problems += [
                        f"{board['uid']} {where}: {m} has no tag {t}" for t in tags - schema[m].tags
                    ]
            for alias in re.findall(r"\$tag_(\w+)", json.dumps(board)):
                assert any(alias in e.tags for e in schema.values()), alias
    assert not problems, "\n".join(problems)


def test_every_promql_query_uses_written_series_and_labels(schema: dict[str, Measurement]):
    problems = []
    for board in boards("victoriametrics"):
        for where, expr in targets_of(board):
            for names, labels in prom_uses(expr):
                for name in names:
                    fits = [m for m in splits(name, schema) if labels <= schema[m].tags]
                    if not fits:
                        problems.append(f"{board['uid']} {where}: {name} with {sorted(labels)}")
    assert not problems, "\n".join(problems)


def test_the_checks_catch_a_wrong_name(schema: dict[str, Measurement]):
    [(names, _labels)] = prom_uses('max by (room) (encoder_used_pct{site=~"$site"})')
    assert not splits(names[0], schema)  # storage rows live in encoder_storage
    [(_measurements, fields, tags)] = influx_uses(
        'SELECT max("used_pct") FROM "encoder" WHERE "mount" =~ /x/ GROUP BY "room"'
    )
    assert fields - schema["encoder"].fields == {"used_pct"} and "mount" in tags


# --- Grafana's dashboard model -----------------------------------------------------------------

DATASOURCE_REF = {
    "type": "object",
    "required": ["type", "uid"],
    "properties": {"type": {"enum": ["influxdb", "prometheus"]}, "uid": {"type": "string"}},
}
GRID_POS = {
    "type": "object",
    "required": ["h", "w", "x", "y"],
    "properties": {
        "h": {"type": "integer", "minimum": 1},
        "w": {"type": "integer", "minimum": 1, "maximum": 24},
        "x": {"type": "integer", "minimum": 0, "maximum": 23},
        "y": {"type": "integer", "minimum": 0},
    },
}
PANEL = {
    "type": "object",
    "required": ["id", "type", "title", "gridPos"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "type": {"enum": ["timeseries", "stat", "row", "table", "gauge", "text"]},
        "title": {"type": "string", "minLength": 1},
        "gridPos": GRID_POS,
        "datasource": DATASOURCE_REF,
        "collapsed": {"type": "boolean"},
        "panels": {"type": "array"},
        "fieldConfig": {
            "type": "object",
            "required": ["defaults", "overrides"],
            "properties": {"defaults": {"type": "object"}, "overrides": {"type": "array"}},
        },
        "options": {"type": "object"},
        "targets": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["refId", "datasource"],
                "properties": {"refId": {"type": "string"}, "datasource": DATASOURCE_REF},
            },
        },
    },
    "if": {"properties": {"type": {"const": "row"}}},
    "then": {"required": ["collapsed", "panels"]},
    "else": {"required": ["datasource", "targets", "fieldConfig", "options"]},
}
VARIABLE = {
    "type": "object",
    "required": ["name", "type", "query", "datasource", "refresh"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
        "type": {"enum": ["query", "custom", "constant", "interval", "datasource"]},
        "refresh": {"enum": [0, 1, 2]},
        "datasource": DATASOURCE_REF,
        "includeAll": {"type": "boolean"},
        "multi": {"type": "boolean"},
        "current": {"type": "object"},
    },
}


def dashboard_schema(version: int) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [
            "uid",
            "title",
            "schemaVersion",
            "panels",
            "templating",
            "time",
            "annotations",
        ],
        "properties": {
            "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
            "title": {"type": "string", "minLength": 1},
            "schemaVersion": {"const": version},
            "version": {"type": "integer"},
            "editable": {"type": "boolean"},
            "graphTooltip": {"enum": [0, 1, 2]},
            "timezone": {"type": "string"},
            "refresh": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "time": {
                "type": "object",
                "required": ["from", "to"],
                "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
            },
            "annotations": {"type": "object", "required": ["list"]},
            "templating": {
                "type": "object",
                "required": ["list"],
                "properties": {"list": {"type": "array", "items": VARIABLE}},
            },
            "panels": {"type": "array", "minItems": 1, "items": PANEL},
            "links": {"type": "array"},
        },
    }


BUILTIN_VARIABLES = {"__interval", "__rate_interval", "timeFilter", "__all"}


def provisioned_datasources() -> dict[str, str]:
    found = {}
    for path in (DASHBOARDS / "provisioning" / "datasources").glob("*.yaml"):
        for source in yaml.safe_load(path.read_text("utf-8"))["datasources"]:
            found[source["uid"]] = source["type"]
    return found


def test_dashboards_fit_grafanas_model_and_the_provisioned_data_sources():
    gen = generator()
    validator = jsonschema.Draft202012Validator(dashboard_schema(gen.SCHEMA_VERSION))
    sources = provisioned_datasources()
    assert set(sources) == {"roomwatch-influxdb", "roomwatch-victoriametrics"}
    uids = []
    for flavour in ("influxdb", "victoriametrics"):
        for board in boards(flavour):
            validator.validate(board)
            uids.append(board["uid"])
            ids = [p["id"] for p in board["panels"]]
            assert len(ids) == len(set(ids))
            cells: set[tuple[int, int]] = set()
            defined = {v["name"] for v in board["templating"]["list"]}
            for panel in board["panels"]:
                pos = panel["gridPos"]
                assert pos["x"] + pos["w"] <= 24, panel["title"]
                area = {
                    (x, y)
                    for x in range(pos["x"], pos["x"] + pos["w"])
                    for y in range(pos["y"], pos["y"] + pos["h"])
                }
                assert not area & cells, f"{panel['title']} overlaps another panel"
                cells |= area
                refs = [t["refId"] for t in panel.get("targets", [])]
                assert len(refs) == len(set(refs))
                for t in panel.get("targets", []):
                    assert t["datasource"] == panel["datasource"]
                    assert sources[t["datasource"]["uid"]] == t["datasource"]["type"]
                    assert (
                        ("query" in t and t["rawQuery"]) if flavour == "influxdb" else "expr" in t
                    )
            text = json.dumps(board)
            used = set(re.findall(r"\$(?:\{)?([a-zA-Z_][a-zA-Z0-9_]*)", text)) - BUILTIN_VARIABLES
            used = {u for u in used if not u.startswith("tag_")}
            assert used <= defined, (board["uid"], used - defined)
    assert len(uids) == len(set(uids)) == 8
    providers = yaml.safe_load((DASHBOARDS / "provisioning/dashboards/roomwatch.yaml").read_text())
    assert providers["providers"][0]["type"] == "file"


def test_the_files_are_what_the_generator_writes():
    gen = generator()
    for relative, text in gen.files().items():
        assert (DASHBOARDS / relative).read_text("utf-8") == text, (
            f"dashboards/{relative} is out of date: run .venv/bin/python dashboards/generate.py"
        )


# --- the PromQL flavour against a real VictoriaMetrics ------------------------------------------


def test_every_victoriametrics_query_returns_data(victoria: VictoriaMetrics):
    with pytest.MonkeyPatch.context() as monkeypatch:
        devices = [*profile_samples(), host_sample(monkeypatch)]
    now = datetime.now(UTC).replace(microsecond=0)
    writer = TsdbWriter(TsdbConfig(url=victoria.url))
    try:
        for step in range(4):
            counters = AgentCounters(cycles=10 * step, published=10 * step, reconnects=step)
            message = MetricsMessage(
                agent="agent-1",
                seq=step,
                ts=now - timedelta(seconds=90 - 30 * step),
                interval_s=30,
                devices=[*devices, counters.to_sample()],
            )
            writer.write(metrics_lines(message, PLACE))
    finally:
        writer.close()
    victoria.flush()
    reader = TsdbReader(victoria.url)
    empty = []
    for board in boards("victoriametrics"):
        for where, expr in targets_of(board):
            if expr.startswith("label_values("):
                continue
            query = (
                expr.replace("$__rate_interval", "2m")
                .replace("$__interval", "1m")
                .replace('"$site"', '".*"')
                .replace('"$room"', '".*"')
                .replace('"$device"', '".*"')
                .replace('"$agent"', '".*"')
            )
            found = reader.query_range(query, time.time() - 300, time.time(), 30)
            if not any(series.points for series in found):
                empty.append(f"{board['uid']} {where}: {expr}")
    assert not empty, "\n".join(empty)

"""Write roomwatch's Grafana dashboards, in two flavours, from one description.

    .venv/bin/python dashboards/generate.py          # rewrite the JSON files
    .venv/bin/python dashboards/generate.py --check  # exit 1 if a file is out of date

The collector writes samples through the InfluxDB line protocol (``collector/ingest/
points.py``): measurement = device kind (``<kind>_<table>`` for table rows), tags site, room,
agent, device, kind, model (+ row labels), fields = metrics + reachable + rtt_ms.

- ``influxdb/``: InfluxQL for an InfluxDB data source (InfluxDB 1.8+, or 2.x through its
  v1 compatibility API with a DBRP mapping of the ``roomwatch`` bucket).
- ``victoriametrics/``: PromQL for a Prometheus data source pointed at VictoriaMetrics,
  which names each series ``<measurement>_<field>`` (VictoriaMetrics speaks no InfluxQL).

Edit the panels here, never the JSON: ``tests/web/test_grafana.py`` checks the files are
what this script writes, that every query uses only measurements, tags and fields the
collector writes, and that the JSON fits Grafana's dashboard schema version below.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
SCHEMA_VERSION = 39  # Grafana 10.4 / 11.x dashboard JSON model
DATASOURCES = {
    "influxdb": {"type": "influxdb", "uid": "roomwatch-influxdb"},
    "victoriametrics": {"type": "prometheus", "uid": "roomwatch-victoriametrics"},
}
# Device kinds spoken to over SNMP (measurements with reachable and rtt_ms); the test
# checks this list against the agent's profiles.
DEVICE_KINDS = ("camera", "encoder", "nas", "projector", "switch", "ups")
TEMPERATURE_KINDS = ("camera", "encoder", "host", "projector")
STORAGE_TABLES = ("encoder_storage", "nas_storage")  # rows of HOST-RESOURCES hrStorage
ALL_VALUE = ".*"


@dataclass(frozen=True)
class Query:
    """One series family: ``agg`` of ``field`` of ``measurements``, per ``by`` tags.

    ``where`` maps tags to dashboard variables; ``rate`` turns a counter total into a
    per-second rate; ``last`` = the value now (a stat), not a line over time.
    """

    measurements: tuple[str, ...]
    field: str
    agg: str = "mean"  # mean | max | min | last
    by: tuple[str, ...] = ("room",)
    where: tuple[str, ...] = ("site",)
    rate: bool = False
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...] = ()
    kind: str = "timeseries"  # timeseries | stat | row
    unit: str = "short"
    width: int = 12
    height: int = 8
    min: float | None = None
    max: float | None = None
    description: str = ""
    raw: dict[str, str] = field(default_factory=dict)  # flavour → a query written by hand


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    measurement: str
    where: tuple[str, ...] = ()
    measurements: tuple[str, ...] = ()  # label values over several measurements
    metric_field: str = "cycles"


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    variables: tuple[Variable, ...]
    panels: tuple[Panel, ...]


def m(*names: str) -> tuple[str, ...]:
    return names


SITE = Variable("site", "Site", "agent")
ROOM = Variable("room", "Room", "agent", where=("site",))
AGENT = Variable("agent", "Agent", "agent", where=("site", "room"))
DEVICE = Variable(
    "device",
    "Device",
    "camera",
    where=("site", "room"),
    measurements=DEVICE_KINDS,
    metric_field="reachable",
)
IN_ROOM = ("site", "room")
ON_DEVICE = ("site", "room", "device")

FLEET = Dashboard(
    uid="roomwatch-fleet",
    title="roomwatch · Fleet overview",
    description="Every room of the selected sites: reachability, recording, storage, power.",
    variables=(SITE,),
    panels=(
        Panel(
            "Agents reporting (last 2 min)",
            kind="stat",
            width=6,
            height=5,
            raw={
                "influxdb": 'SELECT count("last") FROM (SELECT last("cycles") FROM "agent" '
                'WHERE "site" =~ /^$site$/ AND time > now() - 2m GROUP BY "agent")',
                "victoriametrics": 'count(last_over_time(agent_cycles{site=~"$site"}[2m]))',
            },
        ),
        Panel(
            "Devices not answering now",
            kind="stat",
            width=6,
            height=5,
            raw={
                "influxdb": 'SELECT count("last") FROM (SELECT last("reachable") FROM '
                + ",".join(f'"{k}"' for k in DEVICE_KINDS)
                + ' WHERE "site" =~ /^$site$/ AND time > now() - 2m GROUP BY "room", "device")'
                ' WHERE "last" = 0',
                "victoriametrics": 'count(last_over_time({__name__=~"'
                + "|".join(f"{k}_reachable" for k in DEVICE_KINDS)
                + '",site=~"$site"}[2m]) == 0) or vector(0)',
            },
        ),
        Panel(
            "Recording software not running",
            kind="stat",
            width=6,
            height=5,
            raw={
                "influxdb": 'SELECT count("last") FROM (SELECT last("running") FROM '
                '"host_process" WHERE "site" =~ /^$site$/ AND time > now() - 2m '
                'GROUP BY "room", "name") WHERE "last" = 0',
                "victoriametrics": 'count(last_over_time(host_process_running{site=~"$site"}'
                "[2m]) == 0) or vector(0)",
            },
        ),
        Panel(
            "UPS on battery",
            kind="stat",
            width=6,
            height=5,
            raw={
                "influxdb": 'SELECT count("last") FROM (SELECT last("on_battery") FROM "ups" '
                'WHERE "site" =~ /^$site$/ AND time > now() - 2m GROUP BY "room", "device") '
                'WHERE "last" = 1',
                "victoriametrics": 'count(last_over_time(ups_on_battery{site=~"$site"}[2m]) '
                "== 1) or vector(0)",
            },
        ),
        Panel(
            "Device reachability (1 = answering)",
            (Query(DEVICE_KINDS, "reachable", "min", ("room", "device")),),
            min=0,
            max=1,
            width=24,
        ),
        Panel("Recording PC CPU", (Query(m("host"), "cpu_pct", "mean"),), unit="percent"),
        Panel(
            "Recording PC disks used",
            (Query(m("host_disk"), "used_pct", "max", ("room", "mount")),),
            unit="percent",
            min=0,
            max=100,
        ),
        Panel(
            "Recording storage used (encoders, NAS)",
            (Query(STORAGE_TABLES, "used_pct", "max", ("room", "device", "storage")),),
            unit="percent",
            min=0,
            max=100,
        ),
        Panel(
            "Recording software running (1 = yes)",
            (Query(m("host_process"), "running", "min", ("room", "name")),),
            min=0,
            max=1,
        ),
        Panel(
            "Temperatures",
            (Query(TEMPERATURE_KINDS, "temperature_c", "max", ("room", "device")),),
            unit="celsius",
        ),
        Panel(
            "UPS on battery (1 = yes)",
            (Query(m("ups"), "on_battery", "max", ("room", "device")),),
            min=0,
            max=1,
        ),
    ),
)

ROOM_DETAIL = Dashboard(
    uid="roomwatch-room",
    title="roomwatch · Room detail",
    description="One room: every device's reachability and the values that matter.",
    variables=(SITE, ROOM),
    panels=(
        Panel("Reachability and round trip", kind="row"),
        Panel(
            "Devices answering (1 = yes)",
            (Query(DEVICE_KINDS, "reachable", "min", ("device",), IN_ROOM),),
            min=0,
            max=1,
        ),
        Panel(
            "SNMP round trip",
            (Query(DEVICE_KINDS, "rtt_ms", "mean", ("device",), IN_ROOM),),
            unit="ms",
        ),
        Panel("Recording PC", kind="row"),
        Panel(
            "CPU and memory",
            (
                Query(m("host"), "cpu_pct", "mean", ("room",), IN_ROOM, legend="CPU"),
                Query(m("host"), "mem_used_pct", "mean", ("room",), IN_ROOM, legend="memory"),
            ),
            unit="percent",
            min=0,
            max=100,
            width=8,
        ),
        Panel(
            "Disks used",
            (Query(m("host_disk"), "used_pct", "max", ("mount",), IN_ROOM),),
            unit="percent",
            min=0,
            max=100,
            width=8,
        ),
        Panel(
            "Recording software running",
            (Query(m("host_process"), "running", "min", ("name",), IN_ROOM),),
            min=0,
            max=1,
            width=8,
        ),
        Panel(
            "Network traffic in",
            (Query(m("host_nic"), "in_bytes_per_s", "mean", ("nic",), IN_ROOM),),
            unit="Bps",
            width=8,
        ),
        Panel(
            "Disk writes",
            (Query(m("host_diskio"), "write_bytes_per_s", "mean", ("disk",), IN_ROOM),),
            unit="Bps",
            width=8,
        ),
        Panel(
            "Load (1 min)",
            (Query(m("host"), "load1", "mean", ("room",), IN_ROOM),),
            width=8,
        ),
        Panel("Cameras and encoders", kind="row"),
        Panel(
            "Streaming (1 = yes)",
            (Query(m("camera", "encoder"), "stream_up", "min", ("device",), IN_ROOM),),
            min=0,
            max=1,
            width=8,
        ),
        Panel(
            "Frame rate",
            (Query(m("camera", "encoder"), "stream_fps", "mean", ("device",), IN_ROOM),),
            unit="fps",
            width=8,
        ),
        Panel(
            "Bitrate",
            (Query(m("camera", "encoder"), "stream_bitrate_kbps", "mean", ("device",), IN_ROOM),),
            unit="Kbits",
            width=8,
        ),
        Panel(
            "Recording storage used",
            (Query(STORAGE_TABLES, "used_pct", "max", ("device", "storage"), IN_ROOM),),
            unit="percent",
            min=0,
            max=100,
        ),
        Panel(
            "Temperatures",
            (Query(TEMPERATURE_KINDS, "temperature_c", "max", ("device",), IN_ROOM),),
            unit="celsius",
        ),
        Panel("Network and power", kind="row"),
        Panel(
            "Switch ports up",
            (Query(m("switch_interfaces"), "oper_up", "min", ("device", "ifname"), IN_ROOM),),
            min=0,
            max=1,
            width=8,
        ),
        Panel(
            "PoE power used",
            (Query(m("switch"), "poe_used_w", "mean", ("device",), IN_ROOM),),
            unit="watt",
            width=8,
        ),
        Panel(
            "UPS battery",
            (
                Query(m("ups"), "battery_charge_pct", "min", ("device",), IN_ROOM, legend="charge"),
                Query(m("ups"), "load_pct", "max", ("device",), IN_ROOM, legend="load"),
            ),
            unit="percent",
            min=0,
            max=100,
            width=8,
        ),
    ),
)

DEVICE_DETAIL = Dashboard(
    uid="roomwatch-device",
    title="roomwatch · Device detail",
    description="One SNMP device of a room; kind-specific rows show data for that kind only.",
    variables=(SITE, ROOM, DEVICE),
    panels=(
        Panel(
            "Answering (1 = yes)",
            (Query(DEVICE_KINDS, "reachable", "min", ("device",), ON_DEVICE),),
            min=0,
            max=1,
            width=8,
        ),
        Panel(
            "SNMP round trip",
            (Query(DEVICE_KINDS, "rtt_ms", "mean", ("device",), ON_DEVICE),),
            unit="ms",
            width=8,
        ),
        Panel(
            "Uptime",
            (Query(DEVICE_KINDS, "uptime_s", "last", ("device",), ON_DEVICE),),
            unit="s",
            width=8,
        ),
        Panel("Camera / encoder / projector", kind="row"),
        Panel(
            "Temperature",
            (Query(TEMPERATURE_KINDS, "temperature_c", "max", ("device",), ON_DEVICE),),
            unit="celsius",
            width=8,
        ),
        Panel(
            "Frame rate",
            (Query(m("camera", "encoder"), "stream_fps", "mean", ("device",), ON_DEVICE),),
            unit="fps",
            width=8,
        ),
        Panel(
            "Dropped frames",
            (Query(m("camera", "encoder"), "dropped_frames_per_s", "max", ("device",), ON_DEVICE),),
            unit="short",
            width=8,
        ),
        Panel(
            "Storage used",
            (Query(STORAGE_TABLES, "used_pct", "max", ("storage",), ON_DEVICE),),
            unit="percent",
            min=0,
            max=100,
        ),
        Panel(
            "Projector lamp hours",
            (Query(m("projector"), "lamp_hours", "last", ("device",), ON_DEVICE),),
            unit="h",
        ),
        Panel("Switch", kind="row"),
        Panel(
            "Port traffic in",
            (Query(m("switch_interfaces"), "in_bytes_per_s", "mean", ("ifname",), ON_DEVICE),),
            unit="Bps",
            width=8,
        ),
        Panel(
            "Port errors in",
            (Query(m("switch_interfaces"), "in_errors_per_s", "max", ("ifname",), ON_DEVICE),),
            width=8,
        ),
        Panel(
            "Port speed",
            (Query(m("switch_interfaces"), "speed_mbps", "min", ("ifname",), ON_DEVICE),),
            unit="Mbits",
            width=8,
        ),
        Panel("UPS", kind="row"),
        Panel(
            "Minutes on battery left",
            (Query(m("ups"), "battery_minutes_remaining", "min", ("device",), ON_DEVICE),),
            unit="m",
            width=8,
        ),
        Panel(
            "Input and output voltage",
            (
                Query(m("ups"), "input_voltage_v", "mean", ("device",), ON_DEVICE, legend="in"),
                Query(m("ups"), "output_voltage_v", "mean", ("device",), ON_DEVICE, legend="out"),
            ),
            unit="volt",
            width=8,
        ),
        Panel(
            "On battery (1 = yes)",
            (Query(m("ups"), "on_battery", "max", ("device",), ON_DEVICE),),
            min=0,
            max=1,
            width=8,
        ),
    ),
)

AGENTS = Dashboard(
    uid="roomwatch-agents",
    title="roomwatch · Agent health",
    description="The room agents' own counters: polls, publishing, the store-and-forward spool.",
    variables=(SITE, ROOM),
    panels=(
        Panel(
            "Poll cycles per second",
            (Query(m("agent"), "cycles", "max", ("room", "agent"), IN_ROOM, rate=True),),
            unit="ops",
        ),
        Panel(
            "Cycle duration",
            (Query(m("agent"), "cycle_duration_ms", "max", ("room", "agent"), IN_ROOM),),
            unit="ms",
        ),
        Panel(
            "Messages published per second",
            (Query(m("agent"), "published", "max", ("room", "agent"), IN_ROOM, rate=True),),
            unit="ops",
            width=8,
        ),
        Panel(
            "Publish failures and reconnects per second",
            (
                Query(
                    m("agent"),
                    "publish_failures",
                    "max",
                    ("room", "agent"),
                    IN_ROOM,
                    rate=True,
                    legend="failures",
                ),
                Query(
                    m("agent"),
                    "reconnects",
                    "max",
                    ("room", "agent"),
                    IN_ROOM,
                    rate=True,
                    legend="reconnects",
                ),
            ),
            unit="ops",
            width=8,
        ),
        Panel(
            "Device timeouts per second",
            (Query(m("agent"), "device_timeouts", "max", ("room", "agent"), IN_ROOM, rate=True),),
            unit="ops",
            width=8,
        ),
        Panel(
            "Spool depth (messages waiting)",
            (Query(m("agent"), "spool_depth", "max", ("room", "agent"), IN_ROOM),),
            width=8,
        ),
        Panel(
            "Spool size",
            (Query(m("agent"), "spool_bytes", "max", ("room", "agent"), IN_ROOM),),
            unit="bytes",
            width=8,
        ),
        Panel(
            "Messages dropped (spool full)",
            (Query(m("agent"), "spool_dropped", "max", ("room", "agent"), IN_ROOM),),
            width=8,
        ),
        Panel(
            "Recording PC uptime",
            (Query(m("host"), "uptime_s", "last", ("room",), IN_ROOM),),
            unit="s",
            width=24,
        ),
    ),
)

DASHBOARDS = (FLEET, ROOM_DETAIL, DEVICE_DETAIL, AGENTS)


# --- rendering ------------------------------------------------------------------------------


def influxql(q: Query) -> str:
    source = ", ".join(f'"{name}"' for name in q.measurements)
    conditions = [f'"{tag}" =~ /^${tag}$/' for tag in q.where] + ["$timeFilter"]
    agg = "last" if q.agg == "last" else q.agg
    select = f'non_negative_derivative(max("{q.field}"), 1s)' if q.rate else f'{agg}("{q.field}")'
    group = ", ".join(["time($__interval)", *(f'"{tag}"' for tag in q.by)])
    return (
        f"SELECT {select} FROM {source} WHERE {' AND '.join(conditions)} "
        f"GROUP BY {group} fill(none)"
    )


def promql(q: Query) -> str:
    names = [f"{name}_{q.field}" for name in q.measurements]
    matchers = [f'{tag}=~"${tag}"' for tag in q.where]
    if len(names) == 1:
        selector = f"{names[0]}{{{','.join(matchers)}}}"
    else:
        selector = "{" + ",".join([f'__name__=~"{"|".join(names)}"', *matchers]) + "}"
    if q.rate:
        inner = f"rate({selector}[$__rate_interval])"
    else:
        over = {"mean": "avg", "max": "max", "min": "min", "last": "last"}[q.agg]
        inner = f"{over}_over_time({selector}[$__interval])"
    outer = {"mean": "avg", "max": "max", "min": "min", "last": "max"}[q.agg]
    return f"{outer} by ({', '.join(q.by)}) ({inner})"


def legend(q: Query, flavour: str) -> str:
    if flavour == "influxdb":
        tags = " ".join(f"$tag_{tag}" for tag in q.by)
    else:
        tags = " ".join(f"{{{{{tag}}}}}" for tag in q.by)
    return f"{q.legend} {tags}".strip() if q.legend else tags


def target(q: Query, ref: str, flavour: str) -> dict[str, Any]:
    source = DATASOURCES[flavour]
    if flavour == "influxdb":
        return {
            "refId": ref,
            "datasource": source,
            "query": influxql(q),
            "rawQuery": True,
            "resultFormat": "time_series",
            "alias": legend(q, flavour),
        }
    return {
        "refId": ref,
        "datasource": source,
        "expr": promql(q),
        "legendFormat": legend(q, flavour),
    }


def raw_target(text: str, flavour: str) -> dict[str, Any]:
    source = DATASOURCES[flavour]
    if flavour == "influxdb":
        return {
            "refId": "A",
            "datasource": source,
            "query": text,
            "rawQuery": True,
            "resultFormat": "time_series",
        }
    return {"refId": "A", "datasource": source, "expr": text, "instant": True}


def panel_json(panel: Panel, panel_id: int, pos: dict[str, int], flavour: str) -> dict[str, Any]:
    if panel.kind == "row":
        return {
            "id": panel_id,
            "type": "row",
            "title": panel.title,
            "collapsed": False,
            "gridPos": pos,
            "panels": [],
        }
    targets = (
        [raw_target(panel.raw[flavour], flavour)]
        if panel.raw
        else [target(q, chr(ord("A") + i), flavour) for i, q in enumerate(panel.queries)]
    )
    defaults: dict[str, Any] = {"unit": panel.unit}
    if panel.min is not None:
        defaults["min"] = panel.min
    if panel.max is not None:
        defaults["max"] = panel.max
    out: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCES[flavour],
        "gridPos": pos,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": targets,
    }
    if panel.kind == "stat":
        defaults["thresholds"] = {
            "mode": "absolute",
            "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}],
        }
        if panel.title.startswith("Agents"):
            defaults["thresholds"]["steps"] = [{"color": "blue", "value": None}]
        out["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value",
        }
    else:
        out["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    return out


def variable_json(var: Variable, flavour: str) -> dict[str, Any]:
    names = var.measurements or (var.measurement,)
    if flavour == "influxdb":
        source = ", ".join(f'"{name}"' for name in names)
        where = " AND ".join(f'"{tag}" =~ /^${tag}$/' for tag in var.where)
        query = f'SHOW TAG VALUES FROM {source} WITH KEY = "{var.name}"'
        query += f" WHERE {where}" if where else ""
    else:
        metrics = [f"{name}_{var.metric_field}" for name in names]
        matchers = [f'{tag}=~"${tag}"' for tag in var.where]
        if len(metrics) == 1:
            selector = f"{metrics[0]}{{{','.join(matchers)}}}" if matchers else metrics[0]
        else:
            selector = "{" + ",".join([f'__name__=~"{"|".join(metrics)}"', *matchers]) + "}"
        query = f"label_values({selector}, {var.name})"
    return {
        "name": var.name,
        "label": var.label,
        "type": "query",
        "datasource": DATASOURCES[flavour],
        "query": query,
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ALL_VALUE,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "sort": 1,
        "hide": 0,
    }


def layout(panels: tuple[Panel, ...]) -> list[dict[str, int]]:
    """Left to right, a new line when a panel does not fit in 24 columns or at a row."""
    positions, x, y, line_h = [], 0, 0, 0
    for panel in panels:
        width, height = (24, 1) if panel.kind == "row" else (panel.width, panel.height)
        if x + width > 24 or panel.kind == "row":
            x, y, line_h = 0, y + line_h, 0
        positions.append({"h": height, "w": width, "x": x, "y": y})
        x, line_h = x + width, max(line_h, height)
        if panel.kind == "row":
            x, y, line_h = 0, y + 1, 0
    return positions


def dashboard_json(board: Dashboard, flavour: str) -> dict[str, Any]:
    uid = f"{board.uid}-{'influx' if flavour == 'influxdb' else 'vm'}"
    return {
        "uid": uid,
        "title": f"{board.title} ({'InfluxDB' if flavour == 'influxdb' else 'VictoriaMetrics'})",
        "description": board.description,
        "tags": ["roomwatch", flavour],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["roomwatch", flavour],
                "asDropdown": True,
                "title": "roomwatch",
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "templating": {"list": [variable_json(v, flavour) for v in board.variables]},
        "panels": [
            panel_json(panel, index + 1, pos, flavour)
            for index, (panel, pos) in enumerate(
                zip(board.panels, layout(board.panels), strict=True)
            )
        ],
    }


def provisioning() -> dict[str, str]:
    datasources = """\
# Grafana data source for roomwatch on InfluxDB, queried with InfluxQL. InfluxDB 2.x: map
# the bucket to a database once (influx v1 dbrp create --db roomwatch --rp autogen
# --bucket-id <id> --default) and give a token that can read it.
apiVersion: 1
datasources:
  - name: roomwatch (InfluxDB)
    uid: roomwatch-influxdb
    type: influxdb
    access: proxy
    url: ${ROOMWATCH_INFLUXDB_URL}
    jsonData:
      dbName: roomwatch
      httpMode: POST
      httpHeaderName1: Authorization
    secureJsonData:
      httpHeaderValue1: Token ${ROOMWATCH_INFLUXDB_TOKEN}
"""
    victoria = """\
# Grafana data source for roomwatch on VictoriaMetrics (the demo's and the tests' TSDB). It
# serves the Prometheus query API, so the data source type is prometheus; VictoriaMetrics
# names each series <measurement>_<field> (camera_temperature_c).
apiVersion: 1
datasources:
  - name: roomwatch (VictoriaMetrics)
    uid: roomwatch-victoriametrics
    type: prometheus
    access: proxy
    url: ${ROOMWATCH_VICTORIAMETRICS_URL}
    jsonData:
      httpMethod: POST
      prometheusType: Prometheus
      prometheusVersion: 2.24.0
      timeInterval: 30s
"""
    providers = """\
# Grafana dashboard provider: copy (or mount) dashboards/influxdb or dashboards/
# victoriametrics to the path below, matching the data source you provisioned.
apiVersion: 1
providers:
  - name: roomwatch
    folder: roomwatch
    type: file
    disableDeletion: false
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: /var/lib/grafana/dashboards/roomwatch
      foldersFromFilesStructure: false
"""
    return {
        "provisioning/datasources/roomwatch-influxdb.yaml": datasources,
        "provisioning/datasources/roomwatch-victoriametrics.yaml": victoria,
        "provisioning/dashboards/roomwatch.yaml": providers,
    }


def files() -> dict[str, str]:
    """Every file this script owns, by path under ``dashboards/``."""
    out = {}
    for flavour in DATASOURCES:
        for board in DASHBOARDS:
            name = board.uid.removeprefix("roomwatch-")
            text = json.dumps(dashboard_json(board, flavour), indent=2, ensure_ascii=False)
            out[f"{flavour}/{name}.json"] = text + "\n"
    out.update(provisioning())
    return out


def main(argv: list[str]) -> int:
    stale = []
    for relative, text in files().items():
        path = ROOT / relative
        if "--check" in argv:
            if not path.exists() or path.read_text("utf-8") != text:
                stale.append(relative)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    if stale:
        print("out of date (run dashboards/generate.py):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Turning a metrics message into TSDB points: the TSDB schema in one place.

Measurement = device kind (``camera``, ``ups``, ``host``); a device table becomes
``<kind>_<table>`` (``host_disk``, ``switch_interface``) with the row's labels as extra tags.
Tags: site, room, agent, device, kind, model. Fields: the metrics, plus ``reachable`` (0/1)
and ``rtt_ms`` on the device measurement. VictoriaMetrics names a series
``<measurement>_<field>``, e.g. ``camera_temperature_c``. ``docs/protocol.md`` documents it.
"""

from __future__ import annotations

from dataclasses import dataclass

from influxdb_client import Point, WritePrecision

from agent.wire import DeviceSample, EventsMessage, MetricsMessage

BASE_TAGS = ("site", "room", "agent", "device", "kind", "model")


@dataclass(frozen=True)
class Placement:
    """Where an agent's samples belong, from the collector's inventory."""

    site: str
    room: str


def metrics_points(message: MetricsMessage, place: Placement) -> list[Point]:
    ts_ms = int(message.ts.timestamp() * 1000)
    points: list[Point] = []
    for sample in message.devices:
        tags = _tags(message.agent, sample, place)
        fields: dict[str, float] = {"reachable": 1.0 if sample.reachable else 0.0}
        if sample.rtt_ms is not None:
            fields["rtt_ms"] = sample.rtt_ms
        fields.update(sample.metrics)
        points.append(_point(sample.kind, tags, fields, ts_ms))
        for table, rows in sample.tables.items():
            for row in rows:
                if row.metrics:
                    row_tags = {**tags, **row.labels}
                    points.append(_point(f"{sample.kind}_{table}", row_tags, row.metrics, ts_ms))
    return points


def event_points(message: EventsMessage, place: Placement) -> list[Point]:
    points = []
    for event in message.events:
        tags = {"site": place.site, "room": place.room, "agent": message.agent}
        tags.update(device=event.device, type=event.type)
        point = Point("event").time(int(event.at.timestamp() * 1000), WritePrecision.MS)
        for key, value in tags.items():
            point.tag(key, value)
        point.field("count", 1.0).field("text", event.text or event.type)
        points.append(point)
    return points


def _tags(agent: str, sample: DeviceSample, place: Placement) -> dict[str, str]:
    tags = {
        "site": place.site,
        "room": place.room,
        "agent": agent,
        "device": sample.device,
        "kind": sample.kind,
    }
    if sample.model:
        tags["model"] = sample.model
    return tags


def _point(measurement: str, tags: dict[str, str], fields: dict[str, float], ts_ms: int) -> Point:
    point = Point(measurement).time(ts_ms, WritePrecision.MS)
    for key, value in tags.items():
        point.tag(key, value)
    for key, number in fields.items():
        point.field(key, float(number))
    return point

"""Turning messages into InfluxDB line protocol: the TSDB schema in one place.

Measurement = device kind (``camera``, ``ups``, ``host``); a device table becomes
``<kind>_<table>`` (``host_disk``, ``switch_interface``) with the row's labels as extra tags.
Tags: site, room, agent, device, kind, model. Fields: the metrics, plus ``reachable`` (0/1)
and ``rtt_ms`` on the device measurement. VictoriaMetrics names a series
``<measurement>_<field>``, e.g. ``camera_temperature_c``. ``docs/protocol.md`` documents it.

Lines are built here directly (influxdb-client's ``Point`` cost a third of a batch's time)
and sent with influxdb-client's write API. Every field is a float (no ``i`` suffix), so a
field never changes type in InfluxDB; timestamps are milliseconds (``WritePrecision.MS``).

Escaping follows the line protocol reference: in tag keys, tag values and field keys a
comma, an equals sign, a space and a backslash are escaped with a backslash (the
measurement: comma, space, backslash); string field values escape the double quote and
the backslash. A newline or carriage return cannot be carried by the protocol
(VictoriaMetrics splits lines at every raw newline, even inside quotes): it is written as
the two characters ``\\n`` / ``\\r`` (in names and tag values a tab too, as influxdb-client's
``Point`` did). Non-finite values (NaN, infinity) have no line-protocol form and are left
out; a line left without fields is not written; an empty tag value is left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from roomwatch.agent.wire import EventsMessage, MetricsMessage

BASE_TAGS = ("site", "room", "agent", "device", "kind", "model")
_CACHED = 65_536  # escaped field keys and device tag sets remembered (a few MB at most)

_CONTROL = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESCAPE_MEASUREMENT = str.maketrans({"\\": "\\\\", ",": "\\,", " ": "\\ ", **_CONTROL})
_ESCAPE_KEY = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\=", " ": "\\ ", **_CONTROL})
_ESCAPE_STRING = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})


@dataclass(frozen=True)
class Placement:
    """Where an agent's samples belong, from the collector's inventory."""

    site: str
    room: str


def escape_measurement(name: str) -> str:
    return name.translate(_ESCAPE_MEASUREMENT)


def escape_key(text: str) -> str:
    """A tag key, tag value or field key, escaped."""
    return text.translate(_ESCAPE_KEY)


def escape_string(text: str) -> str:
    """A string field value, quoted and escaped."""
    return f'"{text.translate(_ESCAPE_STRING)}"'


def tag_set(tags: Mapping[str, str]) -> str:
    """``,k=v,...`` sorted by key (InfluxDB's preferred order); empty values left out."""
    return "".join(
        f",{escape_key(key)}={escape_key(value)}" for key, value in sorted(tags.items()) if value
    )


def field_set(fields: Iterable[tuple[str, float]]) -> str:
    """``k=v,...`` of the finite values, each a float in Python's shortest round-trip form
    (``1.0``, ``0.25``, ``1e+20``); empty when none is finite."""
    isfinite = math.isfinite
    return ",".join([_field_key(key) + repr(float(v)) for key, v in fields if isfinite(v)])


@lru_cache(maxsize=_CACHED)
def _field_key(key: str) -> str:
    # Agents send the same metric names every cycle: escape each once.
    return f"{escape_key(key)}="


@lru_cache(maxsize=_CACHED)
def _device_series(
    kind: str, site: str, room: str, agent: str, device: str, model: str | None
) -> str:
    """Measurement and tag set of a device's line (the same every cycle: built once)."""
    return escape_measurement(kind) + tag_set(_tags(kind, site, room, agent, device, model))


def metrics_lines(message: MetricsMessage, place: Placement) -> list[str]:
    """Line protocol of one metrics message: a line per device and per table row."""
    suffix = f" {int(message.ts.timestamp() * 1000)}"
    lines: list[str] = []
    for sample in message.devices:
        kind = sample.kind
        fields = [("reachable", 1.0 if sample.reachable else 0.0)]
        if sample.rtt_ms is not None:
            fields.append(("rtt_ms", sample.rtt_ms))
        fields.extend(sample.metrics.items())
        field_text = field_set(fields)
        if field_text:
            series = _device_series(
                kind, place.site, place.room, message.agent, sample.device, sample.model
            )
            lines.append(f"{series} {field_text}{suffix}")
        if not sample.tables:
            continue
        tags = _tags(kind, place.site, place.room, message.agent, sample.device, sample.model)
        for table, rows in sample.tables.items():
            for row in rows:
                row_fields = field_set(row.metrics.items())
                if row_fields:
                    measurement = escape_measurement(f"{kind}_{table}")
                    row_tags = tag_set({**tags, **row.labels})
                    lines.append(f"{measurement}{row_tags} {row_fields}{suffix}")
    return lines


def event_lines(message: EventsMessage, place: Placement) -> list[str]:
    """Line protocol of agent events: measurement ``event``, fields ``count`` and ``text``."""
    lines: list[str] = []
    for event in message.events:
        tags = {"site": place.site, "room": place.room, "agent": message.agent}
        tags.update(device=event.device, type=event.type)
        fields = f"count=1.0,text={escape_string(event.text or event.type)}"
        lines.append(f"event{tag_set(tags)} {fields} {int(event.at.timestamp() * 1000)}")
    return lines


def _tags(
    kind: str, site: str, room: str, agent: str, device: str, model: str | None
) -> dict[str, str]:
    tags = {"site": site, "room": room, "agent": agent, "device": device, "kind": kind}
    if model:
        tags["model"] = model
    return tags

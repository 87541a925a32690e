"""What the pages show of a device: its key values (``keymetrics.yaml``), its chart list and
the state it is drawn in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from roomwatch.collector.db.queries import DeviceView, FaultView
from roomwatch.collector.db.rollups import metric_key
from roomwatch.collector.web.charts import value_formatter

KEY_METRICS_FILE = Path(__file__).parent / "keymetrics.yaml"
FALLBACK_KEYS = 3
ALWAYS = ("reachable", "rtt_ms")
MAX_ROWS_SHOWN = 3  # more rows (switch ports) are summed up in one value


@lru_cache(maxsize=1)
def _key_metrics() -> dict[str, list[str]]:
    data = yaml.safe_load(KEY_METRICS_FILE.read_text("utf-8")) or {}
    return {str(kind): [str(k) for k in keys] for kind, keys in data.items()}


def key_metrics(device: DeviceView) -> list[str]:
    """The kind's key metric keys (``table.column`` for row values), most telling first."""
    listed = _key_metrics().get(device.kind)
    if listed is not None:
        return listed
    metrics = sorted(device.state.metrics) if device.state else []
    return metrics[:FALLBACK_KEYS]


def sparkline_metric(device: DeviceView) -> str | None:
    """The metric drawn as the device's sparkline: its first scalar key metric."""
    return next((k for k in key_metrics(device) if "." not in k), None)


@dataclass(frozen=True)
class KeyValue:
    key: str  # metric key as rollups spell it, rows included: disk.used_pct{mount=/}
    text: str


def key_values(device: DeviceView) -> list[KeyValue]:
    """The latest value of each key metric (every row for ``table.column`` keys)."""
    state = device.state
    if state is None or not state.reachable:
        return []
    out = []
    for key in key_metrics(device):
        fmt = value_formatter(key)
        table, _, column = key.partition(".")
        if not column:
            value = state.metrics.get(key)
            if value is not None:
                out.append(KeyValue(key, fmt(float(value))))
            continue
        rows = [
            (row.get("labels", {}), float(row["metrics"][column]))
            for row in state.tables.get(table, [])
            if row.get("metrics", {}).get(column) is not None
        ]
        if len(rows) > MAX_ROWS_SHOWN:
            out.append(KeyValue(key, _summary([value for _, value in rows], fmt)))
            continue
        for labels, value in rows:
            out.append(KeyValue(metric_key(column, table, labels), fmt(value)))
    if state.rtt_ms is not None:
        out.append(KeyValue("rtt_ms", value_formatter("rtt_ms")(state.rtt_ms)))
    return out


def _summary(values: list[float], fmt: Callable[[float], str]) -> str:
    """Many rows in one value: ``6/8`` for 0/1 flags, ``min – max`` otherwise."""
    if all(v in (0.0, 1.0) for v in values):
        return f"{sum(values):.0f}/{len(values)}"
    return f"{fmt(min(values))} – {fmt(max(values))}"


def chart_ids(device: DeviceView, extra: Iterable[str] = ()) -> list[str]:
    """Every chart of a device page: scalar metrics and ``table.column`` groups, key metrics
    first, then reachability and round trip, then the rest by name. ``extra`` adds ids only
    history knows (a metric the device no longer reports)."""
    seen: list[str] = []
    state = device.state
    found = set(extra)
    if state is not None:
        found.update(state.metrics)
        for table, rows in state.tables.items():
            for row in rows:
                found.update(f"{table}.{column}" for column in row.get("metrics", {}))
        if state.rtt_ms is not None:
            found.add("rtt_ms")
    if device.kind not in ("host", "agent"):
        found.add("reachable")
    for key in [*key_metrics(device), *ALWAYS, *sorted(found)]:
        if key in found and key not in seen:
            seen.append(key)
    return seen


def tables_of(device: DeviceView, history_keys: Iterable[str] = ()) -> set[str]:
    """Table names a device has (latest state and rollup keys)."""
    names = set(device.state.tables) if device.state else set()
    names.update(k.split(".", 1)[0] for k in history_keys if "." in k.split("{", 1)[0])
    return names


def device_condition(device: DeviceView, faults: Iterable[FaultView], online: bool) -> str:
    """How a device is drawn: ``down``, ``l1``..``l4`` (worst open fault on it), ``unknown``
    (no sample yet, or the room's agent is offline) or ``ok``."""
    if not online or device.state is None:
        return "unknown"
    if not device.state.reachable:
        return "down"
    levels = [f.level for f in faults if f.device == device.id]
    return f"l{min(levels)}" if levels else "ok"


def labels_text(labels: Mapping[str, Any]) -> str:
    return " · ".join(str(v) for v in labels.values())

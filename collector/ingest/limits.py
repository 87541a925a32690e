"""Hard bounds on what one agent may send, checked before anything of a message is stored.

The wire contract (``agent/wire.py``) says what a message looks like; these say how much of
it one agent may send: payload size, devices, metrics and events per message, label lengths,
how far the sample time may lie ahead of the collector's clock or behind it, how many
devices an agent may add to its room and how deep its parent links may go. A message past
a bound is refused whole (never stored in part): the pipeline acknowledges it, counts it
under its reason and quarantines it. The bounds are ``ingest.limits`` in the configuration.

A sample time ahead of the clock is refused, not clamped: a clamped time would be a lie in
the TSDB, and a time far ahead would otherwise become the agent's "newest" and freeze its
latest state and fault evaluation until the clock caught up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from roomwatch.agent.wire import EventsMessage, InventoryMessage, MetricsMessage, StatusMessage
from roomwatch.collector.config import IngestLimits
from roomwatch.collector.graph import RoomGraph

AnyMessage = MetricsMessage | EventsMessage | StatusMessage | InventoryMessage

# The reasons a message is refused: the label values of the rejection counter.
REASONS = (
    "too_large",
    "too_many_devices",
    "too_many_metrics",
    "too_many_events",
    "label_too_long",
    "future_timestamp",
    "too_old",
    "device_limit",
    "graph_depth",
    "graph_loop",
)


@dataclass(frozen=True)
class Rejection:
    """Why a message was refused: ``reason`` is one of ``REASONS``, ``detail`` says more."""

    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


def check_size(payload: bytes, limits: IngestLimits) -> Rejection | None:
    """Refuse a payload larger than ``max_message_bytes`` before it is parsed."""
    if len(payload) > limits.max_message_bytes:
        return Rejection("too_large", f"{len(payload)} bytes, more than {limits.max_message_bytes}")
    return None


def check_message(message: AnyMessage, now: datetime, limits: IngestLimits) -> Rejection | None:
    """The bounds one message can be checked against on its own (no stored state)."""
    ahead = now + timedelta(seconds=limits.future_skew_s)
    if message.ts > ahead:
        return Rejection("future_timestamp", f"ts {message.ts.isoformat()} is after {ahead}")
    if isinstance(message, MetricsMessage):
        return _check_times([message.ts], now, limits) or _check_metrics(message, limits)
    if isinstance(message, EventsMessage):
        if len(message.events) > limits.max_events_per_message:
            return Rejection(
                "too_many_events",
                f"{len(message.events)} events, more than {limits.max_events_per_message}",
            )
        return _check_times([message.ts, *(e.at for e in message.events)], now, limits)
    if isinstance(message, InventoryMessage):
        return _check_count(len(message.devices), limits) or _check_labels(
            (d.model for d in message.devices), limits
        )
    return None  # status: applied at arrival time, its ts only has to be sane (above)


def _check_times(
    times: Iterable[datetime], now: datetime, limits: IngestLimits
) -> Rejection | None:
    ahead = now + timedelta(seconds=limits.future_skew_s)
    behind = now - timedelta(seconds=limits.backfill_max_s)
    for at in times:
        if at > ahead:
            return Rejection("future_timestamp", f"{at.isoformat()} is after {ahead}")
        if at < behind:
            return Rejection("too_old", f"{at.isoformat()} is before {behind}")
    return None


def _check_count(devices: int, limits: IngestLimits) -> Rejection | None:
    if devices > limits.max_devices_per_message:
        return Rejection(
            "too_many_devices", f"{devices} devices, more than {limits.max_devices_per_message}"
        )
    return None


def _check_metrics(message: MetricsMessage, limits: IngestLimits) -> Rejection | None:
    problem = _check_count(len(message.devices), limits)
    if problem:
        return problem
    total = 0
    for sample in message.devices:
        rows = [row for rows in sample.tables.values() for row in rows]
        count = len(sample.metrics) + sum(len(r.metrics) + len(r.labels) for r in rows)
        if count > limits.max_metrics_per_device:
            return Rejection(
                "too_many_metrics",
                f"device {sample.device}: {count} values, more than "
                f"{limits.max_metrics_per_device}",
            )
        total += count
    if total > limits.max_metrics_per_message:
        return Rejection(
            "too_many_metrics", f"{total} values, more than {limits.max_metrics_per_message}"
        )
    return _check_labels((s.model for s in message.devices), limits)


def _check_labels(values: Iterable[str | None], limits: IngestLimits) -> Rejection | None:
    for value in values:
        if value is not None and len(value) > limits.max_label_chars:
            return Rejection(
                "label_too_long",
                f"{len(value)} characters, more than {limits.max_label_chars}",
            )
    return None


@dataclass
class RoomDevices:
    """What a room holds, to check a message's new devices and links against the limits.

    ``parents``: device id → parent; ``by_agent``: the devices agents' reports created. A
    message that passes is applied here too, so the next one in the batch sees it.
    """

    parents: dict[str, str | None] = field(default_factory=dict)
    by_agent: set[str] = field(default_factory=set)

    def admit(self, message: AnyMessage, limits: IngestLimits) -> Rejection | None:
        """Refuse the message if it grows the room past the limits; else record it."""
        if isinstance(message, MetricsMessage):
            reported: Mapping[str, str | None] = {s.device: None for s in message.devices}
        elif isinstance(message, InventoryMessage):
            reported = {d.device: d.parent for d in message.devices}
        else:
            return None
        new = [d for d in reported if d not in self.parents]
        if len(self.by_agent) + len(new) > limits.max_devices_per_agent:
            return Rejection(
                "device_limit",
                f"{len(new)} new devices would give agents' reports "
                f"{len(self.by_agent) + len(new)} in the room, more than "
                f"{limits.max_devices_per_agent}",
            )
        merged = dict(self.parents)
        merged.update({d: None for d in new})
        merged.update({d: p for d, p in reported.items() if p})  # an empty parent never erases
        if isinstance(message, InventoryMessage) and merged != self.parents:
            problem = _check_graph(RoomGraph(self.parents), RoomGraph(merged), limits)
            if problem:
                return problem
        self.parents = merged
        self.by_agent.update(new)
        return None


def _check_graph(before: RoomGraph, after: RoomGraph, limits: IngestLimits) -> Rejection | None:
    looped = after.unrooted() - before.unrooted()
    if looped:
        return Rejection("graph_loop", f"parent links loop through {min(looped)!r}")
    depth = after.max_depth()
    if depth > max(limits.max_graph_depth, before.max_depth()):
        return Rejection(
            "graph_depth", f"parent links {depth} deep, more than {limits.max_graph_depth}"
        )
    return None

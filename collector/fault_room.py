"""What the fault decisions know about a room: plain data, loaded once per batch.

``collector.db.fault_state_store`` fills a ``RoomState`` from SQL (active faults, recently
resolved ones, suppressed firings, guard counts, maintenance windows, timetable, graph);
the decision (``collector.fault_plan``) reads it and keeps it current in memory while it
plans a message, so the next device of the message sees a parent's fault just decided;
``collector.db.fault_apply`` writes the planned transitions and gives new rows their ids.
No session, no SQL: a test builds one by hand and runs a day of polls through it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from roomwatch.collector.fault_decide import GuardCount, in_recovery_grace
from roomwatch.collector.graph import RoomGraph
from roomwatch.collector.maintenance import covers, is_active, zone
from roomwatch.collector.rules.engine import device_of_target
from roomwatch.collector.rules.model import Rule
from roomwatch.collector.timetable import Timetable


@dataclass
class FaultView:
    """A rule fault as the decision sees it (active, or resolved within the horizon)."""

    key: str  # its fault key: rule or concern | target
    rule_id: str
    target: str
    level: int
    active: bool = True
    flapping: bool = False
    clear_since: datetime | None = None
    resolved_at: datetime | None = None
    level_by_person: bool = False  # a person set its level: the ladder never moves it
    changes: list[datetime] = field(default_factory=list)  # opened/resolved/reopened times
    id: int | None = None  # None until the store applied its opening

    @property
    def device(self) -> str:
        return device_of_target(self.target)

    @property
    def device_level(self) -> bool:
        """About a whole device (``room/device``), not a row of one."""
        return self.target.count("/") == 1

    def changes_since(self, since: datetime) -> int:
        return sum(1 for t in self.changes if t >= since)


@dataclass
class FiringView:
    """An active suppressed firing: a rule firing behind a failed parent or in a window."""

    key: str
    reason: str  # root_cause | maintenance
    root_id: int | None
    window_id: int | None
    id: int | None = None


@dataclass
class DeviceInfo:
    pk: int | None
    kind: str
    model: str | None


@dataclass
class RoomState:
    """One room's fault state for one batch."""

    room_id: str
    site_id: str | None = None
    graph: RoomGraph = field(default_factory=RoomGraph)
    devices: dict[str, DeviceInfo] = field(default_factory=dict)
    active: dict[str, FaultView] = field(default_factory=dict)
    recent: dict[str, FaultView] = field(default_factory=dict)  # latest resolved per key
    suppressed: dict[str, FiringView] = field(default_factory=dict)
    guards: dict[str, dict[str, GuardCount]] = field(default_factory=dict)
    windows: Sequence[Any] = ()  # MaintenanceWindow rows, read only
    timezone: str | None = None
    timetable: Timetable | None = None

    def waited_on(self, key: str) -> bool:
        """Whether a clear or hold verdict on ``key`` changes anything."""
        return key in self.active or key in self.suppressed or key in self.guards

    def in_class(self, at: datetime, default_timezone: str) -> bool:
        """Whether the room's timetable has a class at ``at``; always, without one."""
        if self.timetable is None:
            return True
        return self.timetable.in_class(at, self.timezone or default_timezone)

    def window_for(self, device: str, at: datetime, default_timezone: str) -> Any | None:
        """The maintenance window covering ``device`` at ``at``, if any."""
        tz = zone(self.timezone, default_timezone)
        for window in self.windows:
            if covers(window, self.site_id, self.room_id, device, self.graph) and is_active(
                window, at, tz
            ):
                return window
        return None

    def roots(self, suppressing: frozenset[str]) -> dict[str, FaultView]:
        """device → its active fault of a rule that suppresses dependents."""
        return {
            f.device: f for f in self.active.values() if f.rule_id in suppressing and f.device_level
        }

    def root_cause(self, device: str, suppressing: frozenset[str]) -> FaultView | None:
        if not suppressing:
            return None
        roots = self.roots(suppressing)
        failed = self.graph.first_failed_ancestor(device, roots) if roots else None
        return None if failed is None else roots[failed]

    def recovering_parent(
        self, device: str, kind: str, at: datetime, rules: Mapping[str, Rule], grace_s: float
    ) -> FaultView | None:
        """The recently recovered ancestor whose grace for a dependent of ``kind`` still
        runs, if any."""
        if not grace_s:
            return None
        since = at - timedelta(seconds=grace_s)
        in_grace = {
            f.device: f
            for f in self.recent.values()
            if f.device_level
            and f.resolved_at is not None
            and f.resolved_at >= since
            and rules.get(f.rule_id) is not None
            and rules[f.rule_id].suppresses_dependents
            and in_recovery_grace(f.resolved_at, rules.get(f.rule_id), kind, at)
        }
        parent = self.graph.first_failed_ancestor(device, in_grace) if in_grace else None
        return None if parent is None else in_grace[parent]


__all__ = ["DeviceInfo", "FaultView", "FiringView", "RoomState"]

"""What one batch's fault decisions know about a room, loaded once per batch.

Active fault keys, suppressed firings, the room graph, the active faults of rules that
suppress dependents (root cause) and the recently resolved ones (recovery grace).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from collector.db import faults_store
from collector.db.models import Fault
from collector.fault_decide import in_recovery_grace
from collector.graph import RoomGraph
from collector.rules.engine import device_of_target
from collector.rules.model import Rule
from collector.timetable import Timetable


@dataclass
class RoomState:
    """What one message's evaluation knows about its room, loaded once per message."""

    session: Session
    room_id: str
    active: set[str]
    suppressed: set[str]
    _graph: RoomGraph | None = None
    _roots: dict[str, Fault] | None = None
    suppressing_rules: frozenset[str] = field(default_factory=frozenset)
    _timetable: tuple[Timetable | None, str] | None = None
    grace_s: float = 0.0  # the longest recovery grace of the suppressing rules
    _faults: dict[str, Fault] = field(default_factory=dict)
    _recovered: dict[str, Fault] | None = None

    def in_class(self, at: datetime, default_timezone: str) -> bool:
        """Whether the room's timetable has a class at ``at``; always, without one."""
        if self._timetable is None:
            stored, zone = faults_store.room_timetable(self.session, self.room_id)
            timetable = None if stored is None else Timetable.model_validate(stored)
            self._timetable = (timetable, zone or default_timezone)
        timetable, zone = self._timetable
        return timetable is None or timetable.in_class(at, zone)

    @property
    def graph(self) -> RoomGraph:
        if self._graph is None:
            self._graph = RoomGraph.from_links(
                faults_store.room_devices(self.session, self.room_id)
            )
        return self._graph

    @property
    def roots(self) -> dict[str, Fault]:
        """device → its active fault of a rule that suppresses dependents."""
        if self._roots is None:
            faults = faults_store.active_by_rules(
                self.session, self.room_id, self.suppressing_rules
            )
            self._roots = {
                device_of_target(f.target): f for f in faults if f.target.count("/") == 1
            }
        return self._roots

    def root_cause(self, device: str) -> Fault | None:
        if not self.suppressing_rules:
            return None
        failed = self.graph.first_failed_ancestor(device, self.roots)
        return None if failed is None else self.roots[failed]

    def fault(self, key: str) -> Fault | None:
        """The active fault of ``key`` (looked up once per batch)."""
        if key not in self.active:
            return None
        fault = self._faults.get(key)
        if fault is None or fault.open_key != key:
            fault = faults_store.find_active(self.session, key)
            if fault is None:
                self.active.discard(key)
                return None
            self._faults[key] = fault
        return fault

    def remember(self, key: str, fault: Fault) -> None:
        self.active.add(key)
        self._faults[key] = fault

    def forget(self, key: str) -> None:
        self.active.discard(key)
        self._faults.pop(key, None)

    def recovered(self, fault: Fault) -> None:
        """A fault of a rule that suppresses dependents resolved: its device's dependents
        boot under a grace now."""
        if self._recovered is not None and fault.target.count("/") == 1:
            self._recovered[device_of_target(fault.target)] = fault

    def recovering_parent(
        self, device: str, kind: str, at: datetime, rules: dict[str, Rule]
    ) -> Fault | None:
        """The recently recovered ancestor whose grace for a dependent of ``kind`` still
        runs, if any."""
        if not self.grace_s:
            return None
        if self._recovered is None:
            since = at - timedelta(seconds=self.grace_s)
            self._recovered = {
                device_of_target(f.target): f
                for f in faults_store.resolved_by_rules(
                    self.session, self.room_id, self.suppressing_rules, since
                )
                if f.target.count("/") == 1
            }
        in_grace = {
            parent: fault
            for parent, fault in self._recovered.items()
            if in_recovery_grace(fault.resolved_at, rules.get(fault.rule_id), kind, at)
        }
        parent = self.graph.first_failed_ancestor(device, in_grace) if in_grace else None
        return None if parent is None else in_grace[parent]

"""The transitions a fault decision returns and ``FaultStore.apply`` writes, in order.

Each names the fault (``FaultView``) or suppressed firing (``FiringView``) it acts on; a
fault opened in the same message has no id until the store applied its ``OpenFault``, so
later transitions of the list refer to the view, never to an id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from roomwatch.collector.fault_decide import GuardCount
from roomwatch.collector.fault_room import FaultView, FiringView
from roomwatch.collector.rules.model import Rule


@dataclass(frozen=True)
class Subject:
    """What a sample is about, in the collector's inventory."""

    room_id: str
    agent_id: str
    device_pk: int | None = None
    site_id: str | None = None


@dataclass(frozen=True)
class OpenFault:
    fault: FaultView
    at: datetime
    subject: Subject
    rule: Rule
    title: str
    evidence: dict[str, Any]
    fire_count: int  # the guarded polls saw it too
    promoted: FiringView | None = None  # a suppressed firing that outlived its cause


@dataclass(frozen=True)
class ReopenFault:
    """The incident of a recently resolved fault is back: the same fault, no new page."""

    fault: FaultView
    at: datetime
    title: str
    evidence: dict[str, Any]
    promoted: FiringView | None = None


@dataclass(frozen=True)
class UpdateFault:
    """Still firing: live title and evidence; a clear spell (flapping hold) ends."""

    fault: FaultView
    at: datetime
    title: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class MoveRung:
    """The ladder moved to another rung: the fault takes its rule, text and evidence."""

    fault: FaultView
    rule: Rule
    title: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class ChangeLevel:
    fault: FaultView
    at: datetime
    level: int
    note: str
    clocks_from_now: bool
    notify: bool
    kind: str  # "raised" | "lowered"


@dataclass(frozen=True)
class MarkFlapping:
    fault: FaultView
    at: datetime
    transitions: int


@dataclass(frozen=True)
class HoldFault:
    """Flapping and clear: held, clear since ``clear_since``."""

    fault: FaultView
    clear_since: datetime


@dataclass(frozen=True)
class ResolveFault:
    fault: FaultView
    at: datetime
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SuppressFiring:
    """A firing recorded instead of opened (a failed parent, a recovery grace or a window):
    a new row when ``firing.id`` is None, else one more poll on it."""

    firing: FiringView
    at: datetime
    subject: Subject
    rule: Rule
    target: str
    level: int
    title: str
    evidence: dict[str, Any]
    fire_count: int = 1
    root: FaultView | None = None


@dataclass(frozen=True)
class EndSuppressed:
    firing: FiringView
    at: datetime


@dataclass(frozen=True)
class SetGuard:
    room_id: str
    key: str
    rule_id: str
    count: GuardCount


@dataclass(frozen=True)
class DropGuard:
    key: str
    rule_id: str


FaultChange = (
    OpenFault
    | ReopenFault
    | UpdateFault
    | MoveRung
    | ChangeLevel
    | MarkFlapping
    | HoldFault
    | ResolveFault
    | SuppressFiring
    | EndSuppressed
    | SetGuard
    | DropGuard
)

__all__ = [
    "ChangeLevel",
    "DropGuard",
    "EndSuppressed",
    "FaultChange",
    "HoldFault",
    "MarkFlapping",
    "MoveRung",
    "OpenFault",
    "ReopenFault",
    "ResolveFault",
    "SetGuard",
    "Subject",
    "SuppressFiring",
    "UpdateFault",
]

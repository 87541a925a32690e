"""What an inspection report holds, as plain data: built by ``collector.reports.build``,
rendered by ``collector.reports.render``, summarised into the archive.

Fractions (availability, uptime) are 0..1; times are UTC datetimes; text that depends on
the language is chosen at render time from ``messages/<lang>.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from roomwatch.collector.reports.period import Period
from roomwatch.collector.reports.signoff import SignOff


@dataclass(frozen=True)
class MetricSummary:
    """One key metric of one device over the period (from hourly rollups)."""

    key: str  # metric key as stored: cpu_pct, disk.used_pct{mount=/}
    name: str  # catalog entry name (message key metric.<name>)
    label: str  # row label of a table metric ("mount=/"), "" for a scalar
    unit: str
    min: float
    avg: float
    max: float
    p95: float | None
    prev_avg: float | None


@dataclass(frozen=True)
class ProcessUptime:
    name: str  # the watched process (recorder)
    uptime: float | None
    prev_uptime: float | None


@dataclass
class DeviceReport:
    pk: int
    device: str
    kind: str
    model: str | None
    firmware: str | None
    availability: float | None
    prev_availability: float | None
    observed_hours: int
    metrics: list[MetricSummary] = field(default_factory=list)
    processes: list[ProcessUptime] = field(default_factory=list)
    interface_errors: int | None = None
    fault_count: int = 0


@dataclass
class RoomReport:
    id: str
    name: str
    building: str | None
    availability: float | None
    prev_availability: float | None
    offline_hours: float  # agent-offline fault time inside the period
    devices: list[DeviceReport] = field(default_factory=list)
    recorder_uptime: float | None = None
    prev_recorder_uptime: float | None = None
    fault_count: int = 0
    l1_count: int = 0


@dataclass(frozen=True)
class Series:
    """A daily series for a chart, with an optional fitted line (value at day 0, slope)."""

    days: list[int]
    values: list[float]
    fit: tuple[float, float] | None = None
    limit: float | None = None  # a horizontal line (100 % full, critical temperature)
    unit: str = ""


@dataclass(frozen=True)
class Hazard:
    """A hidden hazard (隐患): what, where, the evidence, and the recommended action.

    ``kind`` selects the messages ``hazard.<kind>.title`` / ``.evidence`` / ``.action``,
    formatted with ``params``."""

    kind: str
    severity: str  # high | medium | low
    room_id: str | None
    room_name: str | None
    device: str | None
    params: dict[str, Any]
    series: Series | None = None

    @property
    def rank(self) -> tuple[int, str, str, str]:
        order = {"high": 0, "medium": 1, "low": 2}[self.severity]
        return (order, self.kind, self.room_id or "", self.device or "")


@dataclass(frozen=True)
class ChecklistLine:
    key: str
    title: str
    automatic: bool
    status: str  # pass | fail | n/a | pending
    value: str | None
    failures: list[str]  # "room / device: value" of what failed an automatic check
    note: str = ""
    checked_by: str | None = None


@dataclass(frozen=True)
class LevelStats:
    level: int
    opened: int
    resolved: int
    open_at_end: int
    mean_respond_min: float | None
    mean_fix_min: float | None
    cleared_before_response: int = 0  # resolved by itself before anyone responded


@dataclass(frozen=True)
class ClockStats:
    kind: str  # respond | on_site | fix | replace
    met: int
    breached: int
    running: int
    # Clocks of faults that cleared before anyone responded: neither met nor breached, and
    # left out of the met rate (nobody was measured).
    cleared: int = 0


@dataclass(frozen=True)
class MaintenanceEntry:
    phenomenon: str
    cause: str
    solution: str
    engineer: str
    recorded_at: datetime


@dataclass(frozen=True)
class FaultLine:
    id: int
    level: int
    room_id: str | None
    room_name: str | None
    device: str | None
    rule_id: str
    title: str
    status: str
    opened_at: datetime
    resolved_at: datetime | None
    respond_min: float | None
    fix_min: float | None
    clocks: dict[str, str]  # kind → met | breached | running | cleared
    log: MaintenanceEntry | None
    cleared_before_response: bool = False
    # language → the rule's title in it (collector/rules/texts.yaml); ``title`` is the
    # stored one, kept for a site's own rules without texts
    titles: dict[str, str] = field(default_factory=dict)

    def title_in(self, lang: str) -> str:
        return self.titles.get(lang, self.title)


@dataclass(frozen=True)
class FaultSection:
    levels: list[LevelStats]
    clocks: list[ClockStats]
    faults: list[FaultLine]
    sla_source: str  # "sla_clocks" | "none"
    breached: list[FaultLine]


@dataclass(frozen=True)
class SpareLine:
    model: str
    kinds: list[str]  # device kinds (names from the message catalogue at render time)
    procured: int
    required: int  # ceil(15 % of procured)
    held: int
    used: int  # the stock record's counter
    used_in_period: int  # from the period's maintenance logs
    short: bool


@dataclass(frozen=True)
class VisitLine:
    """A return visit (回访) or a training session held at the site in the period."""

    held_on: date
    people: list[str]
    topics: str
    issues: str


@dataclass(frozen=True)
class ChecklistConfirmed:
    """The school's representative confirmed the period's checklist."""

    confirmed_by: str
    confirmed_at: datetime
    entered_by: str


@dataclass(frozen=True)
class AdvisoryDevice:
    room_id: str
    room_name: str
    device: str
    firmware: str
    fault_id: int | None


@dataclass(frozen=True)
class AdvisoryLine:
    code: str
    vendor: str | None
    model: str
    firmware_range: str
    severity: str
    title: str
    text: str
    action: str
    url: str | None
    devices: list[AdvisoryDevice]


@dataclass(frozen=True)
class Goals:
    items: list[str]
    note: str
    edited: bool
    edited_by: str | None
    updated_at: datetime | None


@dataclass(frozen=True)
class DailyPoint:
    day: date
    value: float


@dataclass(frozen=True)
class HourlyPoint:
    hour: int  # hours since the period's start
    value: float


@dataclass
class InspectionReport:
    site_id: str
    site_name: str
    customer: str | None
    engineer: str | None
    period: Period
    previous: Period
    generated_at: datetime
    rooms: list[RoomReport]
    availability: float | None
    prev_availability: float | None
    recorder_uptime: float | None
    daily_availability: list[DailyPoint]
    checklist: list[ChecklistLine]
    faults: FaultSection
    hazards: list[Hazard]
    spares: list[SpareLine]
    advisories: list[AdvisoryLine]
    goals: Goals
    device_count: int = 0
    notes: list[str] = field(default_factory=list)  # message keys about data sources
    # A period of a day or two is charted by the hour (one daily point draws no line).
    hourly_availability: list[HourlyPoint] = field(default_factory=list)
    sign_off: SignOff | None = None  # None: blank lines to sign by hand, no logo
    summary_over_rooms: int | None = None  # the site's threshold; None: render's default
    return_visits: list[VisitLine] = field(default_factory=list)
    trainings: list[VisitLine] = field(default_factory=list)
    confirmation: ChecklistConfirmed | None = None

    def summary(self) -> dict[str, Any]:
        """Small JSON kept with the archived report (lists and dashboards read it)."""
        return {
            "rooms": len(self.rooms),
            "devices": self.device_count,
            "availability": self.availability,
            "prev_availability": self.prev_availability,
            "recorder_uptime": self.recorder_uptime,
            "faults_by_level": {str(s.level): s.opened for s in self.faults.levels},
            "sla_breached": len(self.faults.breached),
            "hazards": [
                {"kind": h.kind, "severity": h.severity, "room": h.room_id, "device": h.device}
                for h in self.hazards
            ],
            "spare_shortages": [s.model for s in self.spares if s.short],
            "return_visits": len(self.return_visits),
            "trainings": len(self.trainings),
            "checklist_confirmed_by": self.confirmation.confirmed_by if self.confirmation else None,
            "advisories": {a.code: len(a.devices) for a in self.advisories if a.devices},
            "checklist_failed": [c.key for c in self.checklist if c.status == "fail"],
        }

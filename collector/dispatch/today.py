"""Today (今日课堂): which lessons of a site are at risk, period by period.

A room's lesson is at risk when, for that period:
- a fault is active on a device the recording needs — the recording PC (``host``),
  cameras, encoders / recorders, recording storage (NAS) — or on a device they hang
  behind in the room graph (PoE switch, UPS), or on the room itself (agent offline, a
  fault reported for the room). A fault on a projector or a microphone does not stop the
  recording and is not listed;
- none of the room's agents is online (nothing watches the room);
- the period's lead time has begun and a watched process of the recording PC is not
  running (``process.running`` = 0);
- recording storage is projected to be full before the period ends: the slope of a
  least-squares line through the hourly averages of ``disk.used_pct`` / ``storage.used_pct``
  over the last ``history_h`` hours and the latest sample, when they span an hour or more,
  carried from the latest sample to the period's end, reaches 100 % (or the storage is
  already full).

Shown are today's periods that have not ended; after the last one, the next school day's.
Pure: ``collector.db.dispatch_store.room_facts`` loads what it reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from roomwatch.collector.db.dispatch_store import RoomFacts
from roomwatch.collector.db.models import Site
from roomwatch.collector.db.rollups import metric_key
from roomwatch.collector.graph import ROOT, RoomGraph
from roomwatch.collector.rules.texts import LANGUAGES, fault_words
from roomwatch.collector.timetable import Timetable

RECORDING_KINDS = frozenset({"host", "camera", "encoder", "recorder", "nvr", "nas", "storage"})
STORAGE_TABLES = ("disk", "storage")
FULL_PCT = 100.0
HISTORY_H = 6.0
MIN_SPAN_H = 1.0
LOOKAHEAD_DAYS = 60  # a vacation is shorter; beyond it "no school day ahead"


@dataclass(frozen=True)
class Risk:
    """Why a lesson is at risk: ``kind`` fault | agent_offline | recorder_not_running |
    storage_full, with the fault (its SLA deadline, assignee) when there is one.
    ``collector.dispatch.risk_words`` words it in a reader's language."""

    kind: str
    detail: str
    device: str | None = None
    fault_id: int | None = None
    level: int | None = None
    status: str | None = None
    assignee: str | None = None
    deadline_kind: str | None = None
    deadline_at: datetime | None = None
    # What a reader's words are made from (``detail`` is the collector's English): the
    # process's or storage's label, the storage's use and when it is full; a fault's title
    # per language (zh-CN, en) as its rule words it.
    label: str | None = None
    used_pct: float | None = None
    full_at: datetime | None = None
    titles: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class RoomRisk:
    room_id: str
    room_name: str
    risks: tuple[Risk, ...]


@dataclass(frozen=True)
class PeriodView:
    start: datetime
    end: datetime
    label: str
    rooms: int  # rooms with a class in this period
    at_risk: tuple[RoomRisk, ...]


@dataclass(frozen=True)
class DayView:
    day: date
    periods: tuple[PeriodView, ...]


@dataclass(frozen=True)
class SiteToday:
    site_id: str
    name: str
    timezone: str
    days: tuple[DayView, ...] = field(default_factory=tuple)

    def not_ready(self, day: date) -> list[RoomRisk]:
        """Each room at risk in any period of ``day`` once, with all its reasons."""
        merged: dict[str, RoomRisk] = {}
        for view in self.days:
            if view.day != day:
                continue
            for period in view.periods:
                for room in period.at_risk:
                    seen = merged.get(room.room_id)
                    risks = seen.risks if seen else ()
                    extra = tuple(r for r in room.risks if r not in risks)
                    merged[room.room_id] = RoomRisk(room.room_id, room.room_name, risks + extra)
        return sorted(merged.values(), key=lambda r: (r.room_name, r.room_id))


def site_today(
    site: Site, facts: Sequence[RoomFacts], now: datetime, default_timezone: str
) -> SiteToday:
    """The site's periods from now on (today, else the next school day) with the rooms at
    risk in each, sorted by start time."""
    timezone = site.timezone or default_timezone
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    tables = [(f, _timetable(site, f)) for f in facts]
    scheduled = [(f, t) for f, t in tables if t is not None]
    days: list[DayView] = []
    today = _day_view(scheduled, local_now.date(), zone, now)
    if today.periods:
        days.append(today)
    else:
        for ahead in range(1, LOOKAHEAD_DAYS + 1):
            view = _day_view(scheduled, local_now.date() + timedelta(days=ahead), zone, now)
            if view.periods:
                days.append(view)
                break
    return SiteToday(site.id, site.name, timezone, tuple(days))


def _timetable(site: Site, facts: RoomFacts) -> Timetable | None:
    raw = facts.room.timetable if facts.room.timetable is not None else site.timetable
    return None if raw is None else Timetable.model_validate(raw)


def _day_view(
    scheduled: Sequence[tuple[RoomFacts, Timetable]], day: date, zone: ZoneInfo, now: datetime
) -> DayView:
    slots: dict[tuple[datetime, datetime], list[tuple[RoomFacts, Timetable]]] = {}
    for facts, table in scheduled:
        if not table.has_classes(day):
            continue
        for period in table.periods:
            first, last = (time.fromisoformat(t) for t in period.split("-"))
            start = datetime.combine(day, first, zone)
            end = datetime.combine(day, last, zone)
            if end > now:
                slots.setdefault((start, end), []).append((facts, table))
    periods = []
    for (start, end), rooms in sorted(slots.items(), key=lambda item: item[0]):
        at_risk = []
        for facts, table in rooms:
            risks = lesson_risks(facts, start, end, timedelta(minutes=table.lead_min), now)
            if risks:
                at_risk.append(RoomRisk(facts.room.id, facts.room.name, tuple(risks)))
        label = f"{start:%H:%M}-{end:%H:%M}"
        at_risk.sort(key=lambda r: (r.room_name, r.room_id))
        periods.append(PeriodView(start, end, label, len(rooms), tuple(at_risk)))
    return DayView(day, tuple(periods))


def lesson_risks(
    facts: RoomFacts, start: datetime, end: datetime, lead: timedelta, now: datetime
) -> list[Risk]:
    """Why the room's lesson from ``start`` to ``end`` is at risk (empty: ready)."""
    risks = fault_risks(facts)
    if not any(agent.online for agent in facts.agents):  # none online, or none at all
        risks.append(Risk("agent_offline", "no agent of the room is online"))
    if start - lead <= now < end:
        risks.extend(_recorder_stopped(facts))
    risks.extend(storage_risks(facts, now, end))
    return risks


def needed_device_ids(facts: RoomFacts) -> set[int]:
    """The room's recording devices and every device they depend on."""
    graph = RoomGraph.from_links((d.device, d.parent) for d in facts.devices)
    needed = {d.device for d in facts.devices if d.kind in RECORDING_KINDS}
    for name in list(needed):
        needed.update(a for a in graph.ancestors(name) if a != ROOT)
    return {d.id for d in facts.devices if d.device in needed}


def fault_risks(facts: RoomFacts) -> list[Risk]:
    needed = needed_device_ids(facts)
    names = {d.id: d.device for d in facts.devices}
    risks = []
    for fault in facts.faults:
        if fault.device_id is not None and fault.device_id not in needed:
            continue  # a projector, a microphone: the lesson is still recorded
        deadline = facts.deadlines.get(fault.id)
        device = names.get(fault.device_id) if fault.device_id is not None else None
        # as its notifications word it; a fault reported by a person keeps its words
        titles: dict[str, str] = {
            language: fault_words(
                fault.rule_id,
                language,
                title=fault.title,
                evidence=fault.evidence,
                device=device,
                room=facts.room.name,
            ).title
            for language in LANGUAGES
        }
        risks.append(
            Risk(
                "fault",
                fault.title,
                device=device,
                fault_id=fault.id,
                level=fault.level,
                status=fault.status,
                assignee=fault.assignee,
                deadline_kind=deadline[0] if deadline else None,
                deadline_at=deadline[1] if deadline else None,
                titles=titles,
            )
        )
    return risks


def _recorder_stopped(facts: RoomFacts) -> Iterable[Risk]:
    for device in facts.devices:
        state = facts.states.get(device.id)
        if device.kind != "host" or state is None:
            continue
        for row in state.tables.get("process", []):
            if row.get("metrics", {}).get("running") == 0:
                name = ",".join(str(v) for v in row.get("labels", {}).values()) or "recorder"
                yield Risk(
                    "recorder_not_running",
                    f"{name} not running",
                    device=device.device,
                    label=name,
                )


def storage_risks(facts: RoomFacts, now: datetime, until: datetime) -> list[Risk]:
    """Storage of the recording devices already full or projected full by ``until``."""
    risks = []
    needed = needed_device_ids(facts)
    for device in facts.devices:
        state = facts.states.get(device.id)
        if device.id not in needed or state is None:
            continue
        history = facts.history.get(device.id, {})
        for table in STORAGE_TABLES:
            for row in state.tables.get(table, []):
                used_pct = row.get("metrics", {}).get("used_pct")
                if not isinstance(used_pct, int | float):
                    continue
                key = metric_key("used_pct", table, row.get("labels") or {})
                full_at = projected_full_at(history.get(key, []), state.sampled_at, used_pct)
                if full_at is not None and full_at <= until:
                    label = ",".join(str(v) for v in (row.get("labels") or {}).values())
                    risks.append(
                        Risk(
                            "storage_full",
                            f"{label or table} {used_pct:.0f} %, full at {full_at.isoformat()}",
                            device=device.device,
                            label=label or table,
                            used_pct=float(used_pct),
                            full_at=full_at,
                        )
                    )
    return risks


def projected_full_at(
    hourly: Sequence[tuple[datetime, float]], sampled_at: datetime, used_pct: float
) -> datetime | None:
    """When storage at ``used_pct`` (sampled at ``sampled_at``) reaches 100 % at the fill
    rate of the hourly averages (each taken at its hour's middle) and the sample; None when
    it does not fill (no rate, a span under an hour, or emptying)."""
    if used_pct >= FULL_PCT:
        return sampled_at
    points = [(hour + timedelta(minutes=30), avg) for hour, avg in hourly]
    points = [(at, value) for at, value in points if at < sampled_at]
    points.append((sampled_at, used_pct))
    span_h = (sampled_at - points[0][0]).total_seconds() / 3600
    if span_h < MIN_SPAN_H:
        return None
    xs = [(at - sampled_at).total_seconds() / 3600 for at, _ in points]
    ys = [value for _, value in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope_pct_per_h = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope_pct_per_h /= spread
    if slope_pct_per_h <= 0:
        return None
    return sampled_at + timedelta(hours=(FULL_PCT - used_pct) / slope_pct_per_h)

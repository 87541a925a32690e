"""Reads for the inspection report: a site's inventory, aggregates of its hourly rollups
over a period, its faults with SLA clocks and maintenance logs.

Rollup reads aggregate ``rollups_hourly`` for the whole site in SQL (the site's devices as a
sub-select), so their cost grows with the rows of the period, not with statements per room;
nothing here reads the TSDB. Results are frozen dataclasses, or named tuples for the rows a
large site has hundreds of thousands of.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from roomwatch.collector.db.models import Device, Fault, FaultEvent, RollupHourly, Room
from roomwatch.collector.db.sla_models import SlaClock
from roomwatch.collector.db.workflow_models import MaintenanceLog

SYSTEM_ACTOR = "roomwatch"


@dataclass(frozen=True)
class MetricFilter:
    """Which metric keys a read covers: exact keys and key prefixes (``disk.used_pct{``)."""

    exact: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    def clause(self, column: Any = RollupHourly.metric) -> ColumnElement[bool]:
        """The keys as SQL, case-sensitive like ``matches`` on every database (SQLite's
        LIKE ignores case; its index ranges, which the daily reads use, do not)."""
        parts: list[ColumnElement[bool]] = []
        if self.exact:
            parts.append(column.in_(self.exact))
        parts.extend(
            # The database counts the prefix's length as it counts the column's.
            func.substr(column, 1, func.length(literal(prefix))) == prefix
            for prefix in self.prefixes
        )
        return or_(*parts) if parts else literal(False)

    def matches(self, metric: str) -> bool:
        return metric in self.exact or any(metric.startswith(p) for p in self.prefixes)


@dataclass(frozen=True)
class DeviceRow:
    pk: int
    room_id: str
    device: str
    kind: str
    model: str | None
    vendor: str | None
    firmware: str | None
    procured: bool


@dataclass(frozen=True)
class RoomRow:
    id: str
    name: str
    building: str | None


@dataclass(frozen=True)
class PeriodStat:
    """One metric of one device over a period: from its hourly rollups."""

    device_pk: int
    metric: str
    hours: int  # hours with at least one sample
    samples: int
    total: float  # sum of every sample
    min: float
    max: float
    sum_of_hourly_means: float


class DayPoint(NamedTuple):
    """One day of a metric's daily series, as the report's detectors read it (day 0 = the
    period's first): what ``DailyStat`` has, less the sample count, total and minimum,
    which a quarter's million daily rows need not carry."""

    device_pk: int
    metric: str
    day: int
    max: float
    sum_of_hourly_means: float
    hours: int


class DailyStat(NamedTuple):
    """One metric of one device on one day of the period (day 0 = the first).

    A named tuple, not a frozen dataclass: the days of a site read from hourly rows make
    one per device, metric and day, and a frozen dataclass's ``__init__`` cost more than
    reading the row."""

    device_pk: int
    metric: str
    day: int
    max: float
    sum_of_hourly_means: float
    hours: int
    samples: int = 0
    total: float = 0.0
    min: float = 0.0


@dataclass(frozen=True)
class ClockRow:
    fault_id: int
    kind: str
    met: bool | None
    breached: bool
    started_at: datetime
    stopped_at: datetime | None
    deadline_at: datetime
    stopped_by: str | None = None  # the status or action that stopped it


@dataclass(frozen=True)
class LogRow:
    fault_id: int
    phenomenon: str
    cause: str
    solution: str
    engineer: str
    recorded_at: datetime
    spares_used: list[dict[str, Any]]


def site_inventory(session: Session, site_id: str) -> tuple[list[RoomRow], list[DeviceRow]]:
    """The site's rooms and their devices, ordered by room and device id. Columns, not
    ORM objects: a district's site has ten thousand devices."""
    rooms = [
        RoomRow(*row)
        for row in session.execute(
            select(Room.id, Room.name, Room.building)
            .where(Room.site_id == site_id)
            .order_by(Room.id)
        )
    ]
    query = (
        select(
            Device.id,
            Device.room_id,
            Device.device,
            Device.kind,
            Device.model,
            Device.vendor,
            Device.firmware,
            Device.procured,
        )
        .join(Room, Room.id == Device.room_id)
        .where(Room.site_id == site_id)
        .order_by(Device.room_id, Device.device)
    )
    devices = [DeviceRow(*row) for row in session.execute(query)]
    return rooms, devices


def _site_rollups(site_id: str, start: Any, end: Any, metrics: MetricFilter) -> Any:
    """WHERE of the site's rollups in [start, end) for the chosen metrics."""
    site_devices = (
        select(Device.id).join(Room, Room.id == Device.room_id).where(Room.site_id == site_id)
    )
    return and_(
        # "+ 0" again: SQLite must not answer this IN list through the unique index
        # (device after device, every hour of every metric, a random table read each);
        # the hour index bounds the rows to the period whatever the site's size.
        (RollupHourly.device_id + 0).in_(site_devices),
        RollupHourly.hour >= start,
        RollupHourly.hour < end,
        metrics.clause(),
    )


def _device_key() -> ColumnElement[int]:
    # "+ 0": without it SQLite walks the unique (device, metric, hour) index for the GROUP
    # BY order and reads the table row of every index entry at random (the table is in
    # hour order, as ingest appends it); with it SQLite reads the hour range in order and
    # sorts. Half the time on the bench. PostgreSQL plans a hash aggregate either way.
    return (RollupHourly.device_id + 0).label("device_id")


def period_stats(
    session: Session, site_id: str, start: datetime, end: datetime, metrics: MetricFilter
) -> list[PeriodStat]:
    """count/sum/min/max and the sum of hourly means per (device, metric) in [start, end)."""
    device = _device_key()
    mean = RollupHourly.sum / RollupHourly.count
    query = (
        select(
            device,
            RollupHourly.metric,
            func.count(),
            func.sum(RollupHourly.count),
            func.sum(RollupHourly.sum),
            func.min(RollupHourly.min),
            func.max(RollupHourly.max),
            func.sum(mean),
        )
        .where(_site_rollups(site_id, start, end, metrics))
        .group_by(device, RollupHourly.metric)
    )
    return [
        PeriodStat(int(d), m, int(h), int(n), float(s), float(lo), float(hi), float(means))
        for d, m, h, n, s, lo, hi, means in session.execute(query)
    ]


def first_sample_hours(
    session: Session, site_id: str, metric: str, before: datetime
) -> dict[int, datetime]:
    """Device row id → the first hour before ``before`` with a rollup of ``metric``: when
    the device first reported. A device that never did is left out.

    One MIN per device, each answered from the (device, metric, hour) index's first entry,
    so the cost grows with the site's devices, not with its history."""
    first = (
        select(func.min(RollupHourly.hour))
        .where(
            RollupHourly.device_id == Device.id,
            RollupHourly.metric == metric,
            RollupHourly.hour < before,
        )
        .scalar_subquery()
    )
    query = select(Device.id, first).join(Room, Room.id == Device.room_id)
    found: dict[int, datetime] = {}
    for pk, hour in session.execute(query.where(Room.site_id == site_id)):
        if hour is not None:
            found[int(pk)] = hour if hour.tzinfo else hour.replace(tzinfo=UTC)
    return found


def hourly_means(
    session: Session, site_id: str, start: datetime, end: datetime, metric: str
) -> dict[datetime, float]:
    """Hour → mean of the site's devices' hourly means of ``metric`` in [start, end): the
    chart of a short period (a day has one daily point, a line needs more)."""
    mean = RollupHourly.sum / RollupHourly.count
    query = (
        select(RollupHourly.hour, func.avg(mean))
        .where(_site_rollups(site_id, start, end, MetricFilter(exact=(metric,))))
        .group_by(RollupHourly.hour)
        .order_by(RollupHourly.hour)
    )
    found: dict[datetime, float] = {}
    for hour, value in session.execute(query):
        if value is not None:
            at = hour if hour.tzinfo else hour.replace(tzinfo=UTC)  # SQLite drops the zone
            found[at] = float(value)
    return found


def daily_stats(
    session: Session, site_id: str, start: datetime, end: datetime, metrics: MetricFilter
) -> list[DailyStat]:
    """Everything ``period_stats`` gives, per day of [start, end): one pass serves the daily
    series of the hazards, the daily availability and (summed) the period's figures.

    Days are 24-hour steps from ``start`` (the period's local midnight). One statement per
    day: each groups one day of rows, so the sort stays small and in memory (on SQLite 40 %
    less CPU than one statement grouping by day over the whole period)."""
    device = _device_key()
    mean = RollupHourly.sum / RollupHourly.count
    lo: BindParameter[datetime] = bindparam("lo")
    hi: BindParameter[datetime] = bindparam("hi")
    query = (
        select(
            device,
            RollupHourly.metric,
            func.max(RollupHourly.max),
            func.sum(mean),
            func.count(),
            func.sum(RollupHourly.count),
            func.sum(RollupHourly.sum),
            func.min(RollupHourly.min),
        )
        .where(_site_rollups(site_id, lo, hi, metrics))
        .group_by(device, RollupHourly.metric)
    )
    found: list[DailyStat] = []
    day = 0
    while start + timedelta(days=day) < end:
        bounds = {
            "lo": start + timedelta(days=day),
            "hi": min(end, start + timedelta(days=day + 1)),
        }
        found.extend(
            DailyStat(
                int(d), m, day, float(top), float(means), int(h), int(n), float(s), float(low)
            )
            for d, m, top, means, h, n, s, low in session.execute(query, bounds)
        )
        day += 1
    return found


def period_from_daily(days: Iterable[DailyStat]) -> list[PeriodStat]:
    """The period's ``PeriodStat`` per (device, metric), summed from its days."""
    acc: dict[tuple[int, str], list[float]] = {}
    for d in days:
        key = (d.device_pk, d.metric)
        row = acc.get(key)
        if row is None:
            acc[key] = [d.hours, d.samples, d.total, d.min, d.max, d.sum_of_hourly_means]
        else:
            row[0] += d.hours
            row[1] += d.samples
            row[2] += d.total
            row[3] = min(row[3], d.min)
            row[4] = max(row[4], d.max)
            row[5] += d.sum_of_hourly_means
    return [
        PeriodStat(pk, metric, int(h), int(n), s, lo, hi, means)
        for (pk, metric), (h, n, s, lo, hi, means) in acc.items()
    ]


def p95_of_hourly_means(
    session: Session, site_id: str, start: datetime, end: datetime, metrics: MetricFilter
) -> dict[tuple[int, str], float]:
    """(device, metric) → nearest-rank 95th percentile of its hourly means in [start, end).

    A window function ranks the hours in SQL, so one row per (device, metric) comes back."""
    device = _device_key()
    mean = RollupHourly.sum / RollupHourly.count
    partition = (device, RollupHourly.metric)
    ranked = (
        select(
            device,
            RollupHourly.metric,
            mean.label("mean"),
            func.row_number().over(partition_by=partition, order_by=mean).label("rn"),
            func.count().over(partition_by=partition).label("n"),
        )
        .where(_site_rollups(site_id, start, end, metrics))
        .subquery()
    )
    rank = (ranked.c.n * 95 + 99) // 100  # ceil(0.95 n) in integers
    query = select(ranked.c.device_id, ranked.c.metric, ranked.c.mean).where(
        ranked.c.rn == rank.cast(Integer)
    )
    return {(int(d), m): float(v) for d, m, v in session.execute(query)}


def faults_overlapping(
    session: Session, site_id: str, start: datetime, end: datetime
) -> Sequence[Fault]:
    """The site's faults that were active at some time in [start, end)."""
    rooms = select(Room.id).where(Room.site_id == site_id)
    query = (
        select(Fault)
        .where(
            Fault.room_id.in_(rooms),
            Fault.opened_at < end,
            or_(Fault.resolved_at.is_(None), Fault.resolved_at >= start),
        )
        .order_by(Fault.opened_at, Fault.id)
    )
    return session.scalars(query).all()


# Who writes fault events without being a person: the collector and its SLA engine.
MACHINE_ACTORS = (SYSTEM_ACTOR, "roomwatch-sla")


def first_human_action(session: Session, fault_ids: Iterable[int]) -> dict[int, datetime]:
    """fault id → time of its first event by a person (not the collector, nor its SLA
    engine recording a breach or an escalation)."""
    ids = sorted(set(fault_ids))
    if not ids:
        return {}
    found: dict[int, datetime] = {}
    for chunk in _chunks(ids):
        query = (
            select(FaultEvent.fault_id, func.min(FaultEvent.at))
            .where(FaultEvent.fault_id.in_(chunk), FaultEvent.actor.not_in(MACHINE_ACTORS))
            .group_by(FaultEvent.fault_id)
        )
        found.update({fault: at for fault, at in session.execute(query)})
    return found


def sla_clocks(session: Session, fault_ids: Iterable[int]) -> list[ClockRow]:
    """The SLA clocks (``sla_clocks``) of these faults."""
    rows: list[ClockRow] = []
    for chunk in _chunks(sorted(set(fault_ids))):
        query = select(SlaClock).where(SlaClock.fault_id.in_(chunk)).order_by(SlaClock.id)
        rows.extend(
            ClockRow(
                fault_id=clock.fault_id,
                kind=clock.kind,
                met=clock.met,
                breached=clock.met is False or clock.breached_at is not None,
                started_at=clock.started_at,
                stopped_at=clock.stopped_at,
                deadline_at=clock.deadline_at,
                stopped_by=clock.stopped_by,
            )
            for clock in session.scalars(query)
        )
    return rows


def maintenance_logs(session: Session, fault_ids: Iterable[int]) -> list[LogRow]:
    """The maintenance log entries (``maintenance_logs``) of these faults."""
    rows: list[LogRow] = []
    for chunk in _chunks(sorted(set(fault_ids))):
        query = (
            select(MaintenanceLog)
            .where(MaintenanceLog.fault_id.in_(chunk))
            .order_by(MaintenanceLog.recorded_at)
        )
        rows.extend(
            LogRow(
                fault_id=log.fault_id,
                phenomenon=log.phenomenon,
                cause=log.cause,
                solution=log.solution,
                engineer=log.engineer,
                recorded_at=log.recorded_at,
                spares_used=list(log.spares_used or []),
            )
            for log in session.scalars(query)
        )
    return rows


def _chunks(ids: Sequence[int], size: int = 900) -> Iterable[Sequence[int]]:
    for index in range(0, len(ids), size):
        yield ids[index : index + size]


def devices_with_models(session: Session, models: Iterable[str]) -> Sequence[tuple[Device, Room]]:
    """Every device whose model is one of ``models`` (case-insensitive), with its room."""
    wanted = sorted({m.strip().lower() for m in models if m})
    if not wanted:
        return []
    query = (
        select(Device, Room)
        .join(Room, Room.id == Device.room_id)
        .where(func.lower(Device.model).in_(wanted))
        .order_by(Device.room_id, Device.device)
    )
    return [(device, room) for device, room in session.execute(query)]


def procured_by_model(session: Session, site_id: str) -> list[tuple[str, str, int]]:
    """(model, kind, devices) of the site's inventory devices marked ``procured``."""
    query = (
        select(Device.model, Device.kind, func.count())
        .join(Room, Room.id == Device.room_id)
        .where(Room.site_id == site_id, Device.procured.is_(True), Device.model.is_not(None))
        .group_by(Device.model, Device.kind)
        .order_by(Device.model, Device.kind)
    )
    return [(str(model), str(kind), int(n)) for model, kind, n in session.execute(query)]


def active_faults_by_key(session: Session, key_prefix: str) -> dict[str, int]:
    """open key → id of the active faults whose key starts with ``key_prefix``."""
    query = select(Fault.open_key, Fault.id).where(
        Fault.open_key.startswith(key_prefix, autoescape=True)
    )
    return {str(key): int(fault_id) for key, fault_id in session.execute(query)}

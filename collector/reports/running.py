"""Running parameters per room and device, from the period's rollup aggregates.

Availability of a device = Σ hourly means of ``reachable`` / (hours with samples + hours
without samples that an agent-offline fault of the room covered since the device's first
sample). Hours nobody reported and no fault explains (collector down, device installed
mid-period) are left out rather than counted as up or down, and so are offline hours
before a device first reported: it was not there (or not watched) yet. A room's
availability is the mean of its devices'; the site's is the mean of its rooms'. Recorder
uptime uses the same denominator on ``process.running{name=recorder}``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.report_queries import DeviceRow, PeriodStat, RoomRow
from roomwatch.collector.reports.model import DeviceReport, MetricSummary, ProcessUptime, RoomReport
from roomwatch.collector.reports.period import Period
from roomwatch.collector.reports.settings import Catalog, KeyMetric

SECONDS_PER_HOUR = 3600

StatMap = Mapping[tuple[int, str], PeriodStat]
Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class PeriodData:
    """The aggregates of one period, keyed by (device row id, metric key)."""

    period: Period
    stats: StatMap
    offline_hours: Mapping[str, float]  # room id → agent-offline fault hours in the period
    hours: float  # hours of the period passed by the report's `now` (all of a past one)
    # device row id → the room's offline hours since the device's first sample
    device_offline_hours: Mapping[int, float]


def period_data(
    period: Period,
    stats: StatMap,
    faults: Iterable[Fault],
    rule_id: str,
    devices: Iterable[DeviceRow],
    first_seen: Mapping[int, datetime],
    now: datetime,
) -> PeriodData:
    """One period's figures; ``first_seen`` is each device's first hour with a sample (a
    device without one never reported, so no offline hour is its)."""
    spans = offline_spans(faults, rule_id, period, now)
    per_device: dict[int, float] = {}
    for device in devices:
        since = first_seen.get(device.pk)
        if since is not None and device.room_id in spans:
            per_device[device.pk] = _seconds(spans[device.room_id], since) / SECONDS_PER_HOUR
    return PeriodData(
        period=period,
        stats=stats,
        offline_hours={room: _seconds(items) / SECONDS_PER_HOUR for room, items in spans.items()},
        hours=period.hours_until(now),
        device_offline_hours=per_device,
    )


def offline_spans(
    faults: Iterable[Fault], rule_id: str, period: Period, now: datetime
) -> dict[str, list[Span]]:
    """room id → the spans of the period covered by ``rule_id`` faults, overlaps merged,
    in time order.

    A fault still open counts up to ``now`` (or the period's end if that came first):
    a report of the running quarter must not count it offline until the quarter ends."""
    spans: dict[str, list[Span]] = defaultdict(list)
    start, end = period.start_utc, period.until(now)
    for fault in faults:
        if fault.rule_id != rule_id or fault.room_id is None:
            continue
        lo = max(fault.opened_at, start)
        hi = min(fault.resolved_at or end, end)
        if hi > lo:
            spans[fault.room_id].append((lo, hi))
    return {room: _merged(items) for room, items in spans.items()}


def build_rooms(
    rooms: Sequence[RoomRow],
    devices: Sequence[DeviceRow],
    current: PeriodData,
    previous: PeriodData,
    p95: Mapping[tuple[int, str], float],
    faults: Sequence[Fault],
    catalog: Catalog,
) -> list[RoomReport]:
    by_room: dict[str, list[DeviceRow]] = defaultdict(list)
    for device in devices:
        by_room[device.room_id].append(device)
    keys_by_device: dict[int, list[str]] = defaultdict(list)
    for pk, metric in current.stats:
        keys_by_device[pk].append(metric)
    device_faults, room_faults, room_l1 = _fault_counts(faults, current.period)
    specs: dict[str, KeyMetric | None] = {}  # metric key → its catalogue line, found once
    reports: list[RoomReport] = []
    for room in rooms:
        device_reports = [
            _device_report(
                device,
                sorted(keys_by_device.get(device.pk, [])),
                current,
                previous,
                p95,
                catalog,
                specs,
            )
            for device in by_room.get(room.id, [])
        ]
        for report in device_reports:
            report.fault_count = device_faults.get(report.pk, 0)
        recorder = [
            p for d in device_reports for p in d.processes if p.name == catalog.recorder_process
        ]
        reports.append(
            RoomReport(
                id=room.id,
                name=room.name,
                building=room.building,
                availability=mean_of(d.availability for d in device_reports),
                prev_availability=mean_of(d.prev_availability for d in device_reports),
                offline_hours=current.offline_hours.get(room.id, 0.0),
                devices=device_reports,
                recorder_uptime=mean_of(p.uptime for p in recorder),
                prev_recorder_uptime=mean_of(p.prev_uptime for p in recorder),
                fault_count=room_faults.get(room.id, 0),
                l1_count=room_l1.get(room.id, 0),
            )
        )
    return reports


def availability(
    stat: PeriodStat | None, room_offline_hours: float, period_hours: float
) -> float | None:
    """Share of the period a device (or a 0/1 metric) was up; None without any data."""
    observed = stat.hours if stat else 0
    up = stat.sum_of_hourly_means if stat else 0.0
    down_unreported = min(max(0.0, period_hours - observed), room_offline_hours)
    denominator = observed + down_unreported
    if denominator <= 0:
        return None
    return max(0.0, min(1.0, up / denominator))


def _device_report(
    device: DeviceRow,
    keys: list[str],
    current: PeriodData,
    previous: PeriodData,
    p95: Mapping[tuple[int, str], float],
    catalog: Catalog,
    specs: dict[str, KeyMetric | None],
) -> DeviceReport:
    def up(data: PeriodData, metric: str) -> float | None:
        return availability(
            data.stats.get((device.pk, metric)),
            data.device_offline_hours.get(device.pk, 0.0),
            data.hours,
        )

    avail_key = catalog.availability_metric
    stat = current.stats.get((device.pk, avail_key))
    report = DeviceReport(
        pk=device.pk,
        device=device.device,
        kind=device.kind,
        model=device.model,
        firmware=device.firmware,
        availability=up(current, avail_key),
        prev_availability=up(previous, avail_key),
        observed_hours=stat.hours if stat else 0,
    )
    errors: float | None = None
    for metric in keys:
        if metric.startswith(catalog.process_prefix):
            name = _process_name(metric[len(catalog.process_prefix) : -1])
            report.processes.append(ProcessUptime(name, up(current, metric), up(previous, metric)))
        elif any(metric.startswith(prefix) for prefix in catalog.error_prefixes):
            errors = (errors or 0.0) + current.stats[(device.pk, metric)].sum_of_hourly_means
        else:
            summary = _metric_summary(device.pk, metric, current, previous, p95, catalog, specs)
            if summary is not None:
                report.metrics.append(summary)
    if errors is not None:
        report.interface_errors = round(errors * SECONDS_PER_HOUR)
    order = {spec.name: index for index, spec in enumerate(catalog.key_metrics)}
    report.metrics.sort(key=lambda m: (order.get(m.name, 99), m.label))
    return report


def _metric_summary(
    pk: int,
    metric: str,
    current: PeriodData,
    previous: PeriodData,
    p95: Mapping[tuple[int, str], float],
    catalog: Catalog,
    specs: dict[str, KeyMetric | None],
) -> MetricSummary | None:
    if metric not in specs:
        specs[metric] = next((s for s in catalog.key_metrics if s.matches(metric)), None)
    spec = specs[metric]
    stat = current.stats[(pk, metric)]
    if spec is None or stat.samples == 0:
        return None
    prev = previous.stats.get((pk, metric))
    return MetricSummary(
        key=metric,
        name=spec.name,
        label=spec.label_of(metric),
        unit=spec.unit,
        min=stat.min,
        avg=stat.total / stat.samples,
        max=stat.max,
        p95=p95.get((pk, metric)),
        prev_avg=prev.total / prev.samples if prev and prev.samples else None,
    )


def _fault_counts(
    faults: Sequence[Fault], period: Period
) -> tuple[dict[int, int], dict[str, int], dict[str, int]]:
    per_device: dict[int, int] = defaultdict(int)
    per_room: dict[str, int] = defaultdict(int)
    l1: dict[str, int] = defaultdict(int)
    for fault in faults:
        if not period.start_utc <= fault.opened_at < period.end_utc:
            continue
        if fault.device_id is not None:
            per_device[fault.device_id] += 1
        if fault.room_id is not None:
            per_room[fault.room_id] += 1
            if fault.level == 1:
                l1[fault.room_id] += 1
    return per_device, per_room, l1


def _process_name(labels: str) -> str:
    """``recorder`` from ``name=recorder`` (other labels ignored)."""
    for pair in labels.split(","):
        key, _, value = pair.partition("=")
        if key == "name":
            return value
    return labels


def mean_of(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _merged(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _seconds(spans: Iterable[Span], since: datetime | None = None) -> float:
    """Seconds of ``spans`` (disjoint), only their part from ``since`` on when given."""
    total = 0.0
    for lo, hi in spans:
        if since is not None:
            lo = max(lo, since)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total

"""Gathering an inspection report's data for one site and one period.

A handful of aggregate statements over the site's hourly rollups (period stats for this
and the previous period, p95 of the hourly means, daily series of the hazard metrics,
daily availability), plus the site's faults, SLA clocks, maintenance logs and the report's
own tables. Nothing reads the TSDB.
"""

from __future__ import annotations

import gc
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy.orm import Session

from roomwatch.collector.db import report_daily, report_store
from roomwatch.collector.db import report_queries as rq
from roomwatch.collector.db.report_queries import DeviceRow, MetricFilter, PeriodStat
from roomwatch.collector.reports import advisories as adv
from roomwatch.collector.reports import checklist as checklist_mod
from roomwatch.collector.reports.fault_section import build_fault_section
from roomwatch.collector.reports.followup import follow_up_of
from roomwatch.collector.reports.goals import goals_of
from roomwatch.collector.reports.hazards import HazardInput, detect_all
from roomwatch.collector.reports.i18n import Messages
from roomwatch.collector.reports.model import (
    AdvisoryDevice,
    AdvisoryLine,
    DailyPoint,
    HourlyPoint,
    InspectionReport,
)
from roomwatch.collector.reports.period import Period
from roomwatch.collector.reports.running import build_rooms, mean_of, period_data
from roomwatch.collector.reports.settings import Catalog, HazardSettings, catalog, hazard_settings
from roomwatch.collector.reports.spares import build_spares, spares_used_in

HOURLY_CHART_UP_TO_DAYS = 2  # a longer period is charted by the day


def build_report(
    session: Session,
    site_id: str,
    period: Period,
    lang: str,
    now: datetime,
    *,
    settings: HazardSettings | None = None,
    metrics: Catalog | None = None,
) -> InspectionReport:
    """Everything the report shows, as data. ``now`` decides which SLA clocks are late."""
    with _cyclic_gc_paused():
        return _build(session, site_id, period, lang, now, settings, metrics)


_pause_lock = threading.Lock()
_pauses = 0  # reports gathering now
_enable_after = False  # whether the cycle collector was on when the first of them began


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector paused while a report's data is gathered: a quarter of a
    large site makes about a million small rows (tuples, no cycles; reference counting
    frees them), and the collector's passes over that growing heap were a third of the
    time at 1,000 rooms. Process-wide: garbage with cycles that other threads make
    meanwhile waits until the last of the reports gathering at once ends, and the
    collector is then on again if it was on when the first began."""
    global _pauses, _enable_after
    with _pause_lock:
        if _pauses == 0:
            _enable_after = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _enable_after:
                gc.enable()


def _build(
    session: Session,
    site_id: str,
    period: Period,
    lang: str,
    now: datetime,
    settings: HazardSettings | None,
    metrics: Catalog | None,
) -> InspectionReport:
    messages = Messages(lang)
    settings = settings or hazard_settings()
    metrics = metrics or catalog()
    site = report_store.require_site(session, site_id)
    schedule = report_store.get_schedule(session, site_id)
    rooms, devices = rq.site_inventory(session, site_id)
    previous = period.previous()
    items = checklist_mod.site_items(report_store.checklist_items(session, site_id))

    wanted = _period_filter(metrics, settings, items)
    daily_wanted = _daily_filter(settings, items)
    start, end = period.start_utc, period.end_utc
    # Daily rollups for settled whole days, hourly ones for the rest (report_daily).
    got = report_daily.gather(
        session,
        site_id,
        start,
        end,
        wanted,
        daily_wanted,
        _p95_filter(metrics),
        chart_metric=metrics.availability_metric,
    )
    stats = _by_key(got.stats)
    daily = got.series
    prev_stats = _by_key(
        report_daily.gather(session, site_id, previous.start_utc, previous.end_utc, wanted).stats
    )
    p95 = got.p95
    daily_avail = {day: means / hours for day, (means, hours) in got.chart.items() if hours}
    hourly_avail: list[HourlyPoint] = []
    if period.days <= HOURLY_CHART_UP_TO_DAYS:
        hourly = rq.hourly_means(session, site_id, start, end, metrics.availability_metric)
        hourly_avail = [
            HourlyPoint(int((at - start).total_seconds() // 3600), value)
            for at, value in sorted(hourly.items())
        ]

    faults = rq.faults_overlapping(session, site_id, previous.start_utc, end)
    offline_rule = metrics.offline_rule
    # Offline hours count against a device only from its first sample on (an agent's own
    # row, a camera added mid-period): before, it was not there to be down.
    first_seen = rq.first_sample_hours(session, site_id, metrics.availability_metric, end)
    current = period_data(period, stats, faults, offline_rule, devices, first_seen, now)
    before = period_data(previous, prev_stats, faults, offline_rule, devices, first_seen, now)
    room_reports = build_rooms(rooms, devices, current, before, p95, faults, metrics)

    in_period = [f for f in faults if start <= f.opened_at < end]
    fault_ids = [f.id for f in in_period]
    room_names = {room.id: room.name for room in rooms}
    logs = rq.maintenance_logs(session, fault_ids)
    fault_section = build_fault_section(
        in_period,
        period,
        rq.sla_clocks(session, fault_ids),
        logs,
        rq.first_human_action(session, fault_ids),
        room_names,
        {d.pk: d.device for d in devices},
        now,
    )
    by_pk = {d.pk: d for d in devices}
    hazards = detect_all(
        HazardInput(period, by_pk, {r.id: r for r in rooms}, daily, stats, in_period), settings
    )
    metrics_of: dict[int, list[str]] = defaultdict(list)
    for pk, metric in stats:
        metrics_of[pk].append(metric)
    checklist = checklist_mod.evaluate(
        items,
        checklist_mod.CheckContext(
            devices=devices,
            reports={d.pk: d for room in room_reports for d in room.devices},
            room_names=room_names,
            stats=stats,
            metrics_of=metrics_of,
            p95=p95,
            daily=daily,
            offline_hours=current.device_offline_hours,
            period_hours=current.hours,
        ),
        report_store.checklist_results(session, site_id, period.start),
        lang,
    )
    spares = build_spares(
        rq.procured_by_model(session, site_id),
        report_store.spare_stock(session, site_id),
        spares_used_in(logs),
    )
    goals = goals_of(
        report_store.get_goals(session, site_id, period.start),
        [h for h in hazards if h.severity != "low"],
        fault_section.breached,
        checklist,
        messages,
    )
    follow_up = follow_up_of(session, site_id, period)
    notes = ["notes.source", "notes.availability", "notes.p95", "notes.hazards"]
    if fault_section.sla_source == "sla_clocks":
        notes.append("notes.sla")
    return InspectionReport(
        site_id=site_id,
        site_name=site.name,
        customer=schedule.customer if schedule else None,
        engineer=schedule.engineer if schedule else None,
        period=period,
        previous=previous,
        generated_at=now,
        rooms=room_reports,
        availability=mean_of(r.availability for r in room_reports),
        prev_availability=mean_of(r.prev_availability for r in room_reports),
        recorder_uptime=mean_of(r.recorder_uptime for r in room_reports),
        daily_availability=[
            DailyPoint(period.day_date(day), value) for day, value in sorted(daily_avail.items())
        ],
        checklist=checklist,
        faults=fault_section,
        hazards=hazards,
        spares=spares,
        advisories=_advisory_lines(session, devices, room_names),
        goals=goals,
        device_count=len(devices),
        notes=notes,
        hourly_availability=hourly_avail,
        return_visits=follow_up.return_visits,
        trainings=follow_up.trainings,
        confirmation=follow_up.confirmation,
    )


def _advisory_lines(
    session: Session, devices: Sequence[DeviceRow], room_names: dict[str, str]
) -> list[AdvisoryLine]:
    """Advisories for models this site has, with the devices whose firmware is affected."""
    models = {(d.model or "").strip().casefold() for d in devices if d.model}
    fault_ids = rq.active_faults_by_key(session, f"{adv.RULE_ID}|")
    lines: list[AdvisoryLine] = []
    for advisory in report_store.advisories(session, active_only=True):
        if advisory.model.strip().casefold() not in models:
            continue
        affected = [
            AdvisoryDevice(
                room_id=d.room_id,
                room_name=room_names.get(d.room_id, d.room_id),
                device=d.device,
                firmware=d.firmware or "",
                fault_id=fault_ids.get(adv.open_key(d.room_id, d.device, advisory.code)),
            )
            for d in devices
            if adv.applies_to(advisory, d.model, d.vendor, d.firmware)
        ]
        lines.append(
            AdvisoryLine(
                code=advisory.code,
                vendor=advisory.vendor,
                model=advisory.model,
                firmware_range=adv.range_text(advisory),
                severity=advisory.severity,
                title=advisory.title,
                text=advisory.text,
                action=advisory.action,
                url=advisory.url,
                devices=affected,
            )
        )
    severity = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    return sorted(lines, key=lambda a: (not a.devices, severity.get(a.severity, 9), a.code))


def _period_filter(
    metrics: Catalog, settings: HazardSettings, items: Sequence[checklist_mod.ItemSpec]
) -> MetricFilter:
    exact = {metrics.availability_metric, settings.lamp.life_metric, settings.ups.replace_metric}
    prefixes = {metrics.process_prefix, *metrics.error_prefixes}
    for spec in metrics.key_metrics:
        (prefixes if spec.is_prefix else exact).add(spec.key)
    for item in items:
        if item.check is not None and item.check.metric:
            key = item.check.metric
            (prefixes if key.endswith("{") else exact).add(key)
    return MetricFilter(exact=tuple(sorted(exact)), prefixes=tuple(sorted(prefixes)))


def _p95_filter(metrics: Catalog) -> MetricFilter:
    specs = [s for s in metrics.key_metrics if s.p95]
    return MetricFilter(
        exact=tuple(s.key for s in specs if not s.is_prefix),
        prefixes=tuple(s.key for s in specs if s.is_prefix),
    )


def _daily_filter(
    settings: HazardSettings, items: Sequence[checklist_mod.ItemSpec]
) -> MetricFilter:
    # The availability chart is summed per day in SQL (``chart_metric``), not per device.
    exact, prefixes = settings.daily_metrics()
    extra = [
        i.check.metric for i in items if i.check and i.check.measure == "last" and i.check.metric
    ]
    exact_set = set(exact) | {k for k in extra if not k.endswith("{")}
    prefix_set = set(prefixes) | {k for k in extra if k.endswith("{")}
    return MetricFilter(exact=tuple(sorted(exact_set)), prefixes=tuple(sorted(prefix_set)))


def _by_key(rows: Sequence[PeriodStat]) -> dict[tuple[int, str], PeriodStat]:
    return {(row.device_pk, row.metric): row for row in rows}

"""Hidden hazards (隐患) in a period's daily series: disks and storage filling up, rising
temperatures, growing interface errors, UPS batteries, projector lamps, repeated faults.

Every detector is a pure function of the daily series (max of the hourly maxima and the
sum of hourly means per device, metric and day of the period) and returns ``Hazard``
records with the evidence and the numbers the messages need. Thresholds: ``hazards.yaml``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.report_queries import DayPoint, DeviceRow, PeriodStat, RoomRow
from roomwatch.collector.reports.model import Hazard, Series
from roomwatch.collector.reports.period import Period
from roomwatch.collector.reports.settings import HazardSettings
from roomwatch.collector.reports.trend import last_run, linear_fit
from roomwatch.collector.rules.texts import LANGUAGES, fault_words

SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class HazardInput:
    """What the detectors look at, keyed by (device row id, metric key)."""

    period: Period
    devices: Mapping[int, DeviceRow]
    rooms: Mapping[str, RoomRow]
    daily: Mapping[tuple[int, str], Sequence[DayPoint]]  # sorted by day
    stats: Mapping[tuple[int, str], PeriodStat]
    faults: Sequence[Fault]

    def series(self, prefix_or_key: str) -> Iterable[tuple[int, str, Sequence[DayPoint]]]:
        for (pk, metric), days in self.daily.items():
            if _matches(metric, prefix_or_key):
                yield pk, metric, days


def detect_all(data: HazardInput, settings: HazardSettings) -> list[Hazard]:
    hazards = [
        *fill_hazards(data, settings),
        *temperature_hazards(data, settings),
        *interface_error_hazards(data, settings),
        *ups_hazards(data, settings),
        *lamp_hazards(data, settings),
        *repeated_fault_hazards(data, settings),
    ]
    return sorted(hazards, key=lambda h: h.rank)


def fill_hazards(data: HazardInput, settings: HazardSettings) -> list[Hazard]:
    """Days until a disk or recording storage is full, from a line through the daily maxima
    since the last clean-up; reported when it is a clear trend within the horizon."""
    cfg = settings.fill
    found: list[Hazard] = []
    for prefix in cfg.metrics:
        for pk, metric, days in data.series(prefix):
            run = days[last_run([d.max for d in days], cfg.cleanup_drop_pct) :]
            if len(run) < cfg.min_days:
                continue
            fit = linear_fit([d.day for d in run], [d.max for d in run])
            if fit is None or fit.slope < cfg.min_slope_per_day or fit.r2 < cfg.min_r2:
                continue
            last_day = run[-1].day
            full_in = fit.days_until(last_day, cfg.full_pct)
            if full_in is None or full_in > cfg.horizon_days:
                continue
            alarm_in = fit.days_until(last_day, cfg.alarm_pct)
            kind = "storage_full" if metric.startswith("storage.") else "disk_full"
            severity = _severity(full_in, cfg.high_days, cfg.medium_days)
            today = data.period.day_date(last_day)
            params = {
                "label": _label(metric),
                "days": full_in,
                "full_date": (today + timedelta(days=full_in)).isoformat(),
                "alarm_days": alarm_in,
                "alarm_date": (today + timedelta(days=alarm_in or 0)).isoformat(),
                "alarm_pct": cfg.alarm_pct,
                "start": fit.at(run[0].day),
                "end": fit.at(last_day),
                "slope": fit.slope,
                "r2": fit.r2,
                "run_days": len(run),
                "as_of": today.isoformat(),
            }
            series = Series(
                [d.day for d in days],
                [d.max for d in days],
                (fit.intercept, fit.slope),
                cfg.full_pct,
                "%",
            )
            found.append(_hazard(data, kind, severity, pk, params, series))
    return found


def temperature_hazards(data: HazardInput, settings: HazardSettings) -> list[Hazard]:
    """A rising line through the daily maximum temperatures."""
    cfg = settings.temperature
    found: list[Hazard] = []
    for pk, _metric, days in data.series(cfg.metric):
        if len(days) < cfg.min_days:
            continue
        fit = linear_fit([d.day for d in days], [d.max for d in days])
        if fit is None or fit.slope <= 0 or fit.r2 < cfg.min_r2:
            continue
        first, last = days[0].day, days[-1].day
        rise = fit.slope * (last - first)
        critical_in = fit.days_until(last, cfg.critical_c)
        if rise < cfg.rise_c and (critical_in is None or critical_in > cfg.horizon_days):
            continue
        severity = "high" if critical_in is not None and critical_in <= 30 else "medium"
        params = {
            "start": fit.at(first),
            "end": fit.at(last),
            "rise": rise,
            "per_30_days": fit.slope * 30,
            "max": max(d.max for d in days),
            "critical": cfg.critical_c,
            "critical_days": critical_in,
        }
        series = Series(
            [d.day for d in days],
            [d.max for d in days],
            (fit.intercept, fit.slope),
            cfg.critical_c,
            "°C",
        )
        found.append(_hazard(data, "temperature_rise", severity, pk, params, series))
    return found


def interface_error_hazards(data: HazardInput, settings: HazardSettings) -> list[Hazard]:
    """Interface errors per day growing: the last window holds many more than the first."""
    cfg = settings.interface_errors
    per_port: dict[tuple[int, str], dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for prefix in cfg.metrics:
        for pk, metric, days in data.series(prefix):
            port = _label(metric)
            for d in days:
                per_port[(pk, port)][d.day] += d.sum_of_hourly_means * SECONDS_PER_HOUR
    found: list[Hazard] = []
    for (pk, port), by_day in sorted(per_port.items()):
        last_day = max(by_day)
        first_day = min(by_day)
        if last_day - first_day + 1 < 2 * cfg.window_days:
            continue
        early = sum(v for day, v in by_day.items() if day < first_day + cfg.window_days)
        late = sum(v for day, v in by_day.items() if day > last_day - cfg.window_days)
        if late < cfg.min_errors or late < cfg.growth_ratio * max(early, 1.0):
            continue
        ordered = sorted(by_day)
        params = {
            "label": port,
            "early": round(early),
            "late": round(late),
            "window": cfg.window_days,
            "ratio": late / max(early, 1.0),
        }
        series = Series(ordered, [by_day[d] for d in ordered], None, None, "")
        found.append(_hazard(data, "interface_errors", "medium", pk, params, series))
    return found


def ups_hazards(data: HazardInput, settings: HazardSettings) -> list[Hazard]:
    """The UPS asked for a new battery, or its runtime on battery is shrinking."""
    cfg = settings.ups
    found: list[Hazard] = []
    for pk, _metric, days in data.series(cfg.replace_metric):
        flagged = [d for d in days if d.max >= 1]
        if flagged:
            params = {
                "first": data.period.day_date(flagged[0].day).isoformat(),
                "days": len(flagged),
                "metric": cfg.replace_metric,  # named in the reader's language when shown
            }
            found.append(_hazard(data, "ups_battery_replace", "high", pk, params, None))
    for pk, _metric, days in data.series(cfg.runtime_metric):
        if len(days) < 2 * cfg.window_days:
            continue
        early = _mean(d.max for d in days[: cfg.window_days])
        late = _mean(d.max for d in days[-cfg.window_days :])
        decline = 0.0 if early <= 0 else (early - late) / early * 100
        if decline < cfg.runtime_decline_pct and late >= cfg.min_runtime_min:
            continue
        params = {"early": early, "late": late, "decline": decline, "window": cfg.window_days}
        series = Series([d.day for d in days], [d.max for d in days], None, None, "min")
        severity = "high" if late < cfg.min_runtime_min else "medium"
        found.append(_hazard(data, "ups_runtime_decline", severity, pk, params, series))
    return found


def lamp_hazards(data: HazardInput, settings: HazardSettings) -> list[Hazard]:
    """Projector lamp hours near the rated life (``lamp_hours`` vs ``lamp_life_hours``)."""
    cfg = settings.lamp
    found: list[Hazard] = []
    for pk, _metric, days in data.series(cfg.hours_metric):
        life_stat = data.stats.get((pk, cfg.life_metric))
        if life_stat is None or life_stat.max <= 0:
            continue
        life = life_stat.max
        hours = days[-1].max
        fit = linear_fit([d.day for d in days], [d.max for d in days])
        per_day = fit.slope if fit is not None and fit.slope > 0 else 0.0
        left_days = (life - hours) / per_day if per_day > 0 else None
        ratio = hours / life
        near = left_days is not None and left_days <= cfg.horizon_days
        if ratio < cfg.warn_ratio and not near:
            continue
        params = {
            "hours": hours,
            "life": life,
            "pct": ratio * 100,
            "per_day": per_day,
            "left_days": None if left_days is None else max(0, int(left_days)),
        }
        severity = "high" if ratio >= 1 else "medium"
        found.append(_hazard(data, "lamp_end_of_life", severity, pk, params, None))
    return found


def repeated_fault_hazards(data: HazardInput, settings: HazardSettings) -> list[Hazard]:
    """A device (or a room, for faults without a device) with many faults in the period."""
    cfg = settings.repeated_faults
    start, end = data.period.start_utc, data.period.end_utc
    by_target: dict[tuple[str | None, int | None], Counter[str]] = defaultdict(Counter)
    latest: dict[tuple[str | None, int | None, str], Fault] = {}  # words the rule by it
    for fault in data.faults:
        if fault.rule_id in cfg.ignore_rules or not start <= fault.opened_at < end:
            continue
        by_target[(fault.room_id, fault.device_id)][fault.rule_id] += 1
        latest[(fault.room_id, fault.device_id, fault.rule_id)] = fault
    found: list[Hazard] = []
    for (room_id, pk), rules in sorted(by_target.items(), key=lambda kv: str(kv[0])):
        count = sum(rules.values())
        if count < cfg.min_faults:
            continue
        params = {
            "count": count,
            "rules": ", ".join(f"{rule} ×{n}" for rule, n in rules.most_common()),
            "rules_by_language": {
                lang: "; ".join(
                    f"{_rule_words(data, latest[(room_id, pk, rule)], lang)} ×{n}"
                    for rule, n in rules.most_common()
                )
                for lang in LANGUAGES
            },
        }
        severity = "high" if count >= 2 * cfg.min_faults else "medium"
        if pk is not None and pk in data.devices:
            found.append(_hazard(data, "repeated_faults", severity, pk, params, None))
        else:
            room = data.rooms.get(room_id or "")
            found.append(
                Hazard(
                    "repeated_faults",
                    severity,
                    room_id,
                    room.name if room else None,
                    None,
                    params,
                    None,
                )
            )
    return found


def _rule_words(data: HazardInput, fault: Fault, lang: str) -> str:
    """A rule's title in ``lang`` filled from one of its faults (never the bare rule id
    when the rule has texts)."""
    device = data.devices.get(fault.device_id) if fault.device_id is not None else None
    room = data.rooms.get(fault.room_id or "")
    return fault_words(
        fault.rule_id,
        lang,
        title=fault.title,
        evidence=fault.evidence,
        device=device.device if device else None,
        room=room.name if room else fault.room_id,
    ).title


def _hazard(
    data: HazardInput,
    kind: str,
    severity: str,
    pk: int,
    params: Mapping[str, object],
    series: Series | None,
) -> Hazard:
    device = data.devices[pk]
    room = data.rooms.get(device.room_id)
    return Hazard(
        kind=kind,
        severity=severity,
        room_id=device.room_id,
        room_name=room.name if room else device.room_id,
        device=device.device,
        params={"device": device.device, "model": device.model or device.kind, **params},
        series=series,
    )


def _severity(days: int, high: int, medium: int) -> str:
    if days <= high:
        return "high"
    return "medium" if days <= medium else "low"


def _matches(metric: str, prefix_or_key: str) -> bool:
    if prefix_or_key.endswith("{"):
        return metric.startswith(prefix_or_key)
    return metric == prefix_or_key


def _label(metric: str) -> str:
    """``mount=/`` of ``disk.used_pct{mount=/}``."""
    if "{" not in metric:
        return ""
    return metric[metric.index("{") + 1 : -1]


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0

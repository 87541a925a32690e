"""Hidden-hazard detectors on daily series with known shapes (no database needed)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from roomwatch.collector.db.report_queries import DayPoint, DeviceRow, PeriodStat, RoomRow
from roomwatch.collector.reports.hazards import HazardInput, detect_all, fill_hazards
from roomwatch.collector.reports.period import parse_period
from roomwatch.collector.reports.settings import hazard_settings
from roomwatch.collector.reports.trend import last_run, linear_fit

PERIOD = parse_period("2026Q3", "UTC")
DEVICES = {
    1: DeviceRow(1, "r1", "host", "host", "RS-8000", None, None, True),
    2: DeviceRow(2, "r1", "ups", "ups", "UPS-1K", None, None, True),
    3: DeviceRow(3, "r1", "proj", "projector", "PJ-X", None, None, True),
    4: DeviceRow(4, "r1", "sw", "switch", "S1850", None, None, True),
    5: DeviceRow(5, "r1", "enc", "encoder", "ENC-9", None, None, True),
}
ROOMS = {"r1": RoomRow("r1", "录播教室 101", "A")}


def series(pk: int, metric: str, values: list[float], per_hour: float = 0.0) -> dict[Any, Any]:
    return {
        (pk, metric): [
            DayPoint(pk, metric, day, value, per_hour * 24, 24) for day, value in enumerate(values)
        ]
    }


def data(
    daily: dict[Any, Any], stats: dict[Any, Any] | None = None, faults: Any = ()
) -> HazardInput:
    return HazardInput(PERIOD, DEVICES, ROOMS, daily, stats or {}, list(faults))


def kinds(found: list[Any]) -> list[tuple[str, str | None]]:
    return [(h.kind, h.device) for h in found]


@pytest.mark.parametrize(
    ("start", "per_day", "days"),
    [(50.0, 0.4, 34), (20.0, 0.8, 9), (10.0, 0.5, 89), (30.0, 1.0, 0)],
)
def test_disk_full_in_n_days_counts_whole_days_from_the_last_day(start, per_day, days):
    values = [min(100.0, start + per_day * d) for d in range(92)]
    found = fill_hazards(data(series(1, "disk.used_pct{mount=/}", values)), hazard_settings())
    (hazard,) = found
    last = values[-1]
    expected = 0 if last >= 100 else math.floor(round((100 - last) / per_day, 6))
    assert hazard.params["days"] == expected == days
    assert hazard.kind == "disk_full" and hazard.params["label"] == "mount=/"
    expected_date = PERIOD.start + timedelta(days=91 + days)
    assert hazard.params["full_date"] == expected_date.isoformat()


def test_a_clean_up_starts_a_new_run_and_slow_or_flat_disks_are_no_hazard():
    # filled to 85 %, old recordings deleted on day 60 (down to 40 %), filling at 1 %/day since
    values = [25 + d for d in range(60)] + [40 + (d - 60) for d in range(60, 92)]
    (hazard,) = fill_hazards(data(series(1, "disk.used_pct{mount=D:}", values)), hazard_settings())
    assert hazard.params["run_days"] == 32
    assert hazard.params["days"] == math.floor(100 - values[-1])
    flat = [60.0 + (0.5 if d % 2 else 0) for d in range(92)]
    slow = [60 + 0.01 * d for d in range(92)]  # 180+ days away and below the slope
    for values in (flat, slow):
        assert (
            fill_hazards(data(series(1, "disk.used_pct{mount=/}", values)), hazard_settings()) == []
        )


def test_storage_of_an_encoder_is_its_own_kind():
    values = [70 + 0.3 * d for d in range(92)]
    (hazard,) = fill_hazards(
        data(series(5, "storage.used_pct{storage=/record}", values)), hazard_settings()
    )
    assert hazard.kind == "storage_full" and hazard.device == "enc"
    assert hazard.severity == "high"  # full within 30 days


def test_the_other_detectors():
    daily: dict[Any, Any] = {}
    daily |= series(1, "temperature_c", [45 + 0.08 * d for d in range(92)])  # +7.3 °C
    daily |= series(2, "battery_replace", [0.0] * 85 + [1.0] * 7)
    daily |= series(2, "battery_minutes_remaining", [40 - 0.2 * d for d in range(92)])
    daily |= series(3, "lamp_hours", [1700 + 3 * d for d in range(92)])
    errors = [0.0] * 62 + [0.002] * 30  # errors per second, last 30 days
    daily |= {
        (4, "interfaces.in_errors_per_s{ifname=ge1}"): [
            DayPoint(4, "m", d, e, e * 24, 24) for d, e in enumerate(errors)
        ]
    }
    stats = {(3, "lamp_life_hours"): PeriodStat(3, "lamp_life_hours", 2208, 2208, 0, 2000, 2000, 0)}
    opened = datetime(2026, 7, 5, tzinfo=UTC)
    faults = [
        SimpleNamespace(
            rule_id="device_unreachable",
            opened_at=opened + timedelta(days=i),
            room_id="r1",
            device_id=4,
            title="cam1 in room r1 unreachable",
            evidence={"metric": "reachable", "value": 0},
        )
        for i in range(4)
    ] + [
        SimpleNamespace(
            rule_id="vendor_advisory",
            opened_at=opened,
            room_id="r1",
            device_id=1,
            title="Vendor advisory",
            evidence={},
        )
    ]
    found = detect_all(data(daily, stats, faults), hazard_settings())
    assert set(kinds(found)) == {
        ("temperature_rise", "host"),
        ("ups_battery_replace", "ups"),
        ("ups_runtime_decline", "ups"),
        ("lamp_end_of_life", "proj"),
        ("interface_errors", "sw"),
        ("repeated_faults", "sw"),
    }
    by_kind = {h.kind: h for h in found}
    assert by_kind["interface_errors"].params["late"] == round(0.002 * 86400 * 30)
    assert by_kind["lamp_end_of_life"].params["pct"] == pytest.approx(1973 / 20)
    assert by_kind["repeated_faults"].params["count"] == 4  # the advisory is not counted
    assert found[0].severity == "high"  # most severe first


def test_a_stable_system_has_no_hazards():
    daily: dict[Any, Any] = {}
    daily |= series(1, "temperature_c", [45 + (d % 3) for d in range(92)])
    daily |= series(2, "battery_replace", [0.0] * 92)
    daily |= series(2, "battery_minutes_remaining", [40.0] * 92)
    daily |= series(3, "lamp_hours", [900 + 2 * d for d in range(92)])
    stats = {(3, "lamp_life_hours"): PeriodStat(3, "lamp_life_hours", 1, 1, 0, 3000, 3000, 0)}
    assert detect_all(data(daily, stats), hazard_settings()) == []


def test_linear_fit_and_runs():
    fit = linear_fit([0, 1, 2, 3], [1, 3, 5, 7])
    assert fit is not None and (fit.intercept, fit.slope, fit.r2) == (1, 2, 1)
    assert fit.days_until(3, 100) == 46  # (100 - 7) / 2 = 46.5
    assert fit.days_until(3, 5) == 0
    assert linear_fit([1, 1], [2, 3]) is None
    assert last_run([1, 2, 3, 1, 2], drop=1.5) == 3

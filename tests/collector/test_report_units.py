"""Small pieces of the report: periods, the 15 % spare quota, firmware ranges, texts,
charts and p95 in SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert

from roomwatch.collector.db import report_queries
from roomwatch.collector.db.models import Device, RollupHourly
from roomwatch.collector.db.session import Database
from roomwatch.collector.reports import charts
from roomwatch.collector.reports.advisories import firmware_in_range, version_key
from roomwatch.collector.reports.checklist import default_items
from roomwatch.collector.reports.errors import ReportError
from roomwatch.collector.reports.i18n import LANGUAGES, Messages, _flat
from roomwatch.collector.reports.period import add_months, cycle_period, parse_period
from roomwatch.collector.reports.spares import required_spares


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("2026Q3", date(2026, 7, 1), date(2026, 10, 1), "2026Q3"),
        ("2026-q4", date(2026, 10, 1), date(2027, 1, 1), "2026Q4"),
        ("2026-02", date(2026, 2, 1), date(2026, 3, 1), "2026-02"),
        ("2026-07-01..2026-10-01", date(2026, 7, 1), date(2026, 10, 1), "2026Q3"),
        ("2026-03-15..2026-04-15", date(2026, 3, 15), date(2026, 4, 15), "2026-03-15..2026-04-15"),
    ],
)
def test_periods(text, start, end, label):
    period = parse_period(text, "Asia/Shanghai")
    assert (period.start, period.end, period.label) == (start, end, label)
    assert period.start_utc == datetime.combine(start, datetime.min.time(), UTC) - timedelta(
        hours=8
    )


def test_previous_periods_and_schedule_cycles():
    assert parse_period("2026Q1", "UTC").previous().label == "2025Q4"
    assert parse_period("2026-03", "UTC").previous().label == "2026-02"
    custom = parse_period("2026-03-15..2026-04-15", "UTC").previous()
    assert (custom.start, custom.end) == (date(2026, 2, 15), date(2026, 3, 15))
    assert cycle_period(date(2026, 2, 1), 4, date(2026, 12, 31), "UTC").label == (
        "2026-10-01..2027-02-01"
    )
    assert cycle_period(date(2026, 2, 1), 4, date(2026, 1, 31), "UTC").start == date(2025, 10, 1)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    with pytest.raises(ReportError, match="expected a quarter"):
        parse_period("Q3", "UTC")


@pytest.mark.parametrize(
    ("procured", "required"), [(0, 0), (1, 1), (6, 1), (7, 2), (20, 3), (100, 15), (101, 16)]
)
def test_spare_quota_is_15_percent_rounded_up(procured, required):
    # 0.15 * 20 == 3.0000000000000004 in floats, whose ceil would be 4
    assert required_spares(procured) == required


@pytest.mark.parametrize(
    ("firmware", "low", "high", "inside"),
    [
        ("2.3.1", None, "2.3.4", True),
        ("2.3.4", None, "2.3.4", True),
        ("2.3.5", None, "2.3.4", False),
        ("2.10.0", "2.3", "2.9.9", False),  # numeric, not string, compare
        ("V2.3.1 build 250101", None, "2.3.4", True),
        ("V5.5.0 build 200511", "5.4", "5.5.0 build 200601", True),
        ("1.0.0rc1", "1.0.0rc1", "1.0.0", True),  # PEP 440 when every string parses
        ("unknown", None, "9", False),
    ],
)
def test_firmware_ranges(firmware, low, high, inside):
    assert firmware_in_range(firmware, low, high) is inside
    assert version_key("V5.5.0 build 200511") == (5, 5, 0, 200511)


def test_every_text_exists_in_both_languages_and_formats():
    zh, en = _flat("zh-CN"), _flat("en")
    assert set(zh) == set(en)
    for key in en:
        if key.startswith("hazard."):
            for lang in LANGUAGES:
                Messages(lang).t(key)  # missing values print as "—", never raise
    assert Messages("zh-CN").t("hazard.disk_full.title", device="host", label="/", days=3) == (
        "host 磁盘（/）预计 3 天后写满"
    )
    assert Messages("en").t("goals.edited", who=None, when=None) == "Edited by — on —."
    assert all(item.zh and item.en for item in default_items())
    with pytest.raises(ReportError):
        Messages("fr")


def test_charts_are_svg_with_escaped_labels():
    svg = charts.line_chart(
        [0, 1, 2], [50.0, 60.0, 70.0], first_day=date(2026, 7, 1), unit="%", fit=(50, 10), limit=100
    )
    assert svg.startswith("<svg") and "polyline" in svg and "stroke-dasharray" in svg
    bars = charts.bar_chart(["<Room & 1>"], [0.99], lo=0.9, hi=1.0, threshold=0.995)
    assert "&lt;Room &amp; 1&gt;" in bars and "99.00%" in bars
    assert charts.line_chart([], [], first_day=date(2026, 7, 1)) == ""


def test_p95_of_hourly_means_is_nearest_rank_in_sql(placed_database: Database):
    with placed_database.session() as session:
        device = session.query(Device).filter_by(room_id="r1", device="host").one()
        start = datetime(2026, 7, 1, tzinfo=UTC)
        rows = [
            {
                "device_id": device.id,
                "metric": "cpu_pct",
                "hour": start + timedelta(hours=h),
                "count": 2,
                "sum": 2.0 * v,
                "min": v,
                "max": v,
            }
            for h, v in enumerate([float(x) for x in range(1, 21)])  # hourly means 1..20
        ]
        session.execute(insert(RollupHourly), rows)
        p95 = report_queries.p95_of_hourly_means(
            session,
            "s1",
            start,
            start + timedelta(days=1),
            report_queries.MetricFilter(exact=("cpu_pct",)),
        )
    assert p95 == {(device.id, "cpu_pct"): 19.0}  # rank ceil(0.95 * 20) = 19

"""Daily rollups: folded from the hourly ones, refolded after late data, built for existing
history by the migration's marks — and the report's figures read through them equal what
the hourly rows give (the p95 within the sketch's stated error)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import event, func, insert, select

from roomwatch.collector.db import daily_sketch
from roomwatch.collector.db import report_queries as rq
from roomwatch.collector.db.daily_fold import fold_pending
from roomwatch.collector.db.daily_models import RollupDaily, RollupDailyPending
from roomwatch.collector.db.folded_days import day_windows, foldable_days
from roomwatch.collector.db.models import Device, RollupHourly
from roomwatch.collector.db.report_daily import gather
from roomwatch.collector.db.report_queries import MetricFilter
from roomwatch.collector.db.rollups import RollupBatch
from roomwatch.collector.db.session import MIGRATIONS_DIR, Database, open_database
from roomwatch.collector.inventory import Inventory, sync_inventory
from tests.collector.conftest import small_inventory, sqlite_url

ZONE = "Asia/Shanghai"
FIRST_HOUR = datetime(2025, 3, 1, tzinfo=UTC)
START = datetime(2025, 3, 1, 16, tzinfo=UTC)  # 2025-03-02 00:00 in Shanghai
END = START + timedelta(days=14)
NOW = datetime(2025, 3, 16, 6, tzinfo=UTC)  # marks up to 2025-03-14 have settled
# Table metrics are read by prefix: as key ranges on SQLite, where a LIKE wildcard in a key
# ("ge_1%") and a key that only shares the text before the brace must not be mixed up.
TABLES = ("disk.used_pct{mount=/}", "disk.used_pct{mount=D:}", "net.err{port=ge_1%}")
OUTSIDE = ("disk.used_pctx", "net.errors", "net.err|", "DISK.used_pct{mount=/}")
WANTED = MetricFilter(
    exact=("cpu_pct", "reachable", "rtt_ms", "temperature_c"),
    prefixes=("disk.used_pct{", "net.err{"),
)
# A prefix inside another: its keys are read once.
DAILY = MetricFilter(
    exact=("reachable", "temperature_c"), prefixes=("disk.used_pct{", "disk.used_pct{mount=")
)
# A p95 of one key under a prefix, and of a whole prefix.
P95 = MetricFilter(
    exact=("cpu_pct", "rtt_ms", "temperature_c", "disk.used_pct{mount=/}"),
    prefixes=("net.err{",),
)


def _other_school() -> Inventory:
    """A second site in another zone (other local midnights), synced first so that its
    devices have the lower ids: the report of s1 must neither read nor wait on its rows."""
    return Inventory.model_validate(
        {
            "sites": [
                {
                    "id": "s0",
                    "name": "School Zero",
                    "timezone": "Asia/Kolkata",
                    "rooms": [
                        {
                            "id": "z1",
                            "name": "Room Z1",
                            "agents": ["agent-z"],
                            "devices": [
                                {"id": "host", "kind": "host"},
                                {"id": "cam", "kind": "camera"},
                            ],
                        }
                    ],
                }
            ]
        }
    )


def _write_history(db: Database, hours: int, seed: int = 3) -> None:
    """Hours of samples for every device of every site, through ingest's rollup batch."""
    rng = random.Random(seed)
    with db.session() as session:
        devices = list(session.scalars(select(Device.id)))
        batch = RollupBatch()
        for h in range(hours):
            hour = FIRST_HOUR + timedelta(hours=h)
            for device in devices:
                for _ in range(rng.randint(1, 4)):
                    batch.add_value(device, "reachable", hour, float(rng.random() > 0.05))
                    batch.add_value(device, "rtt_ms", hour, rng.choice([0.0, rng.expovariate(1)]))
                    batch.add_value(device, "cpu_pct", hour, rng.uniform(1, 100))
                    batch.add_value(device, "temperature_c", hour, rng.uniform(-20, 60))
                    for key in (*TABLES, *OUTSIDE):
                        batch.add_value(device, key, hour, rng.uniform(0, 100))
        batch.flush(session)


def _by_hourly(db: Database) -> tuple[dict, dict, dict]:
    with db.session() as session:
        days = rq.daily_stats(session, "s1", START, END, WANTED)
        p95 = rq.p95_of_hourly_means(session, "s1", START, END, P95)
    stats = {(s.device_pk, s.metric): s for s in rq.period_from_daily(days)}
    daily = {(d.device_pk, d.metric, d.day): d for d in days if DAILY.matches(d.metric)}
    return stats, daily, p95


def _assert_same(db: Database) -> int:
    """The daily path's figures equal the hourly path's; returns the days read as daily."""
    stats, daily, p95 = _by_hourly(db)
    with db.session() as session:
        got = gather(session, "s1", START, END, WANTED, DAILY, P95, chart_metric="reachable")
    chart: dict[int, tuple[float, int]] = {}
    for (_, metric, day), ref_day in daily.items():
        if metric == "reachable":
            means, hours = chart.get(day, (0.0, 0))
            chart[day] = (means + ref_day.sum_of_hourly_means, hours + ref_day.hours)
    assert set(got.chart) == set(chart)
    for day, (means, hours) in got.chart.items():
        assert hours == chart[day][1]
        assert means == pytest.approx(chart[day][0], rel=1e-9)
    assert {(s.device_pk, s.metric) for s in got.stats} == set(stats)
    assert {metric for _, metric in stats} >= set(TABLES)
    assert not {metric for _, metric in stats} & set(OUTSIDE)
    for row in got.stats:
        ref = stats[(row.device_pk, row.metric)]
        assert (row.hours, row.samples, row.min, row.max) == (
            ref.hours,
            ref.samples,
            ref.min,
            ref.max,
        )
        assert row.total == pytest.approx(ref.total, rel=1e-9, abs=1e-9)
        assert row.sum_of_hourly_means == pytest.approx(ref.sum_of_hourly_means, rel=1e-9)
    got_days = [d for rows in got.series.values() for d in rows]
    for (pk, metric), rows in got.series.items():
        assert all((d.device_pk, d.metric) == (pk, metric) for d in rows)
        assert [d.day for d in rows] == sorted({d.day for d in rows})  # in day order, once
    assert {(d.device_pk, d.metric, d.day) for d in got_days} == set(daily)
    for d in got_days:
        ref_day = daily[(d.device_pk, d.metric, d.day)]
        assert (d.hours, d.max) == (ref_day.hours, ref_day.max)
        assert d.sum_of_hourly_means == pytest.approx(ref_day.sum_of_hourly_means, rel=1e-9)
    assert set(got.p95) == set(p95)
    assert {m for _, m in p95} >= {"disk.used_pct{mount=/}", "net.err{port=ge_1%}"}
    for key, value in got.p95.items():
        exact = p95[key]
        bound = daily_sketch.ALPHA * abs(exact) + daily_sketch.MIN_VALUE
        assert abs(value - exact) <= bound * (1 + 1e-9), (key, value, exact)
    return got.daily_days


def test_report_figures_from_daily_rows_equal_the_hourly_ones_and_late_data_refolds(
    database: Database,
):
    sync_inventory(database, _other_school())
    sync_inventory(database, small_inventory())
    _write_history(database, hours=17 * 24)
    assert _assert_same(database) == 0  # nothing folded yet: all hourly
    with database.session(write=True) as session:
        assert fold_pending(session, NOW, ZONE) > 0
    # The last report day touches 2025-03-15 UTC, not settled at NOW: read hourly.
    assert _assert_same(database) == 13

    # A late hour inside a folded day: that day is read hourly until it is refolded.
    with database.session() as session:
        device = session.scalars(select(Device.id).where(Device.room_id == "r1")).first()
        assert device is not None
        batch = RollupBatch()
        batch.add_value(device, "cpu_pct", START + timedelta(days=4, hours=3), 1e6)
        batch.add_value(device, "temperature_c", START + timedelta(days=4, hours=3), -1e3)
        batch.flush(session)
    # Marks are per UTC date, which two Shanghai days share: both are read hourly.
    assert _assert_same(database) == 11
    with database.session(write=True) as session:
        fold_pending(session, NOW, ZONE)
        left = session.scalar(
            select(func.count())
            .select_from(RollupDailyPending)
            .where(
                RollupDailyPending.device_id.in_(select(Device.id).where(Device.room_id != "z1"))
            )
        )
    assert _assert_same(database) == 13
    assert left == 4 * 3  # every s1 device's UTC dates 03-15 .. 03-17: not settled


def test_the_migration_marks_existing_history_and_the_fold_builds_it(tmp_path):
    url = sqlite_url(tmp_path)
    db = open_database(url)
    sync_inventory(db, small_inventory())
    with db.session() as session:
        devices = list(session.scalars(select(Device.id)))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0011_rollups_daily-1")
    # History written before daily rollups existed (no marks).
    with db.session() as session:
        rows = [
            {"device_id": d, "metric": "cpu_pct", "hour": FIRST_HOUR + timedelta(hours=h),
             "count": 2, "sum": 2.0 * h, "min": h - 1.0, "max": h + 1.0}
            for d in devices for h in range(20 * 24)
        ]  # fmt: skip
        session.execute(insert(RollupHourly), rows)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with db.session(write=True) as session:
        marked = session.scalar(select(func.count()).select_from(RollupDailyPending))
        assert marked == len(devices) * 20
        fold_pending(session, NOW, ZONE)
        folded = session.scalar(select(func.count()).select_from(RollupDaily))
    assert folded == len(devices) * 15  # local days 2025-03-01 .. 03-15 touch dates ≤ 03-14
    with db.session() as session:
        got = gather(session, "s1", START, END, WANTED, None, P95)
        ref = rq.p95_of_hourly_means(session, "s1", START, END, P95)
    assert got.daily_days == 13
    p95 = got.p95[(devices[0], "cpu_pct")]
    assert math.isclose(p95, ref[(devices[0], "cpu_pct")], rel_tol=daily_sketch.ALPHA)
    db.dispose()


def test_sketch_codes_are_ordered_and_within_the_stated_error():
    values = [-1e9, -3.5, -1e-3, 0.0, 5e-7, 1e-5, 0.5, 1.0, 99.9, 1e12]
    codes = [daily_sketch.code_of(v) for v in values]
    assert codes == sorted(codes)
    for value in values:
        back = daily_sketch.value_of(daily_sketch.code_of(value))
        assert abs(back - value) <= daily_sketch.ALPHA * abs(value) + daily_sketch.MIN_VALUE
    assert list(daily_sketch.decode(daily_sketch.encode(values))) == codes


def test_finding_a_sites_folded_days_seeks_the_day_index_without_statistics(tmp_path):
    """roomwatch never runs ANALYZE: without statistics SQLite must still answer "does
    this site hold this day" by a seek in the day index per device, not by walking each
    device's whole history (seconds per report on a database with a year of rows)."""
    db = open_database(sqlite_url(tmp_path))
    sync_inventory(db, small_inventory())
    _write_history(db, hours=4 * 24)
    with db.session(write=True) as session:
        fold_pending(session, NOW, ZONE)
    plans: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def explain(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "EXISTS" in statement and statement.lstrip().upper().startswith("SELECT"):
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plans.append(" | ".join(str(row[3]) for row in rows))

    with db.session() as session:
        assert foldable_days(session, "s1", day_windows(START, START + timedelta(days=2)))
    db.dispose()
    assert plans, "no lookup ran"
    for plan in plans:
        assert "ix_rollups_daily_day (day_start=? AND day_end=? AND device_id=?)" in plan, plan

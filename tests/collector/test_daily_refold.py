"""``refold_all`` marks every (device, UTC date) with hourly rows, on SQLite and on a real
PostgreSQL (its date expression differs), and the fold then rebuilds the same daily rows;
with no hourly rows it marks nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from roomwatch.collector.db.daily_fold import fold_pending, refold_all
from roomwatch.collector.db.daily_models import RollupDaily, RollupDailyPending
from roomwatch.collector.db.models import Device
from roomwatch.collector.db.rollups import RollupBatch
from roomwatch.collector.db.session import Database
from roomwatch.collector.inventory import sync_inventory
from tests.collector.conftest import small_inventory

ZONE = "Asia/Shanghai"
FIRST_HOUR = datetime(2025, 3, 1, 20, tzinfo=UTC)  # 20:00 UTC: the next Shanghai day
NOW = datetime(2025, 3, 20, tzinfo=UTC)


def _daily_rows(db: Database) -> list[tuple]:
    with db.session() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    RollupDaily.device_id,
                    RollupDaily.metric,
                    RollupDaily.day_start,
                    RollupDaily.hours,
                    RollupDaily.count,
                    RollupDaily.max,
                    RollupDaily.sketch,
                ).order_by(RollupDaily.device_id, RollupDaily.metric, RollupDaily.day_start)
            )
        ]


def test_refold_all_marks_every_utc_date_and_rebuilds_the_same_rows(database: Database):
    with database.session(write=True) as session:
        assert refold_all(session) == 0  # nothing to mark, and no error
    sync_inventory(database, small_inventory())
    with database.session() as session:
        devices = list(session.scalars(select(Device.id)))
        batch = RollupBatch()
        for h in range(3 * 24):  # 2025-03-01 20:00 .. 03-04 19:00 UTC: four UTC dates
            for device in devices:
                batch.add_value(device, "cpu_pct", FIRST_HOUR + timedelta(hours=h), h % 50)
        batch.flush(session)
    with database.session(write=True) as session:
        assert fold_pending(session, NOW, ZONE) > 0
    folded = _daily_rows(database)
    assert folded
    with database.session(write=True) as session:
        assert refold_all(session) == len(devices) * 4
        marks = set(session.execute(select(RollupDailyPending.device_id, RollupDailyPending.day)))
    assert {day.isoformat() for _, day in marks} == {
        "2025-03-01",
        "2025-03-02",
        "2025-03-03",
        "2025-03-04",
    }
    with database.session(write=True) as session:
        assert fold_pending(session, NOW, ZONE) > 0
        left = session.scalar(select(func.count()).select_from(RollupDailyPending))
    assert left == 0
    assert _daily_rows(database) == folded

"""Hourly rollups on SQLite and PostgreSQL: count, min, avg and max per device metric."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from roomwatch.agent.wire import DeviceSample, TableRow
from roomwatch.collector.db import ingest_store
from roomwatch.collector.db.models import Device, RollupHourly
from roomwatch.collector.db.rollups import RollupBatch, hour_of, metric_key
from roomwatch.collector.db.session import Database
from tests.collector.conftest import T0, wire_metrics

HOUR = datetime(2025, 3, 3, 8, tzinfo=UTC)


def _host(cpu: float, reachable: bool = True, rtt: float | None = 1.0) -> DeviceSample:
    disks = [
        TableRow(labels={"mount": "D:", "disk": "1"}, metrics={"used_pct": cpu / 2}),
        TableRow(labels={"mount": "C:", "disk": "0"}, metrics={"used_pct": 50.0}),
    ]
    return DeviceSample(
        device="host",
        kind="host",
        reachable=reachable,
        rtt_ms=rtt,
        metrics={"cpu_pct": cpu},
        tables={"disk": disks},
    )


def _store(db: Database, seq: int, at: datetime, sample: DeviceSample) -> Device:
    message = wire_metrics("agent-1", seq, at, sample)
    with db.session() as session:
        device = ingest_store.ensure_devices(session, "r1", message.devices)["host"]
        ingest_store.add_to_rollups(session, device, message.devices[0], message.ts)
        return device


def _rollups(db: Database, metric: str) -> list[tuple[datetime, int, float, float, float]]:
    with db.session() as session:
        rows = session.scalars(
            select(RollupHourly).where(RollupHourly.metric == metric).order_by(RollupHourly.hour)
        )
        return [(r.hour, r.count, r.min, r.sum / r.count, r.max) for r in rows]


def test_three_samples_in_one_hour_make_one_row(placed_database: Database):
    for seq, (minute, cpu) in enumerate([(10, 20.0), (30, 50.0), (59, 35.0)]):
        _store(placed_database, seq, HOUR.replace(minute=minute), _host(cpu))
    assert _rollups(placed_database, "cpu_pct") == [(HOUR, 3, 20.0, 35.0, 50.0)]
    assert _rollups(placed_database, "reachable") == [(HOUR, 3, 1.0, 1.0, 1.0)]
    assert _rollups(placed_database, "disk.used_pct{disk=1,mount=D:}") == [
        (HOUR, 3, 10.0, 17.5, 25.0)
    ]
    assert _rollups(placed_database, "disk.used_pct{disk=0,mount=C:}") == [
        (HOUR, 3, 50.0, 50.0, 50.0)
    ]


def test_two_hours_make_two_rows(placed_database: Database):
    _store(placed_database, 1, HOUR + timedelta(minutes=59), _host(10.0))
    _store(placed_database, 2, HOUR + timedelta(minutes=61), _host(30.0, reachable=False, rtt=None))
    assert _rollups(placed_database, "cpu_pct") == [
        (HOUR, 1, 10.0, 10.0, 10.0),
        (HOUR + timedelta(hours=1), 1, 30.0, 30.0, 30.0),
    ]
    assert [row[1:] for row in _rollups(placed_database, "reachable")] == [
        (1, 1.0, 1.0, 1.0),
        (1, 0.0, 0.0, 0.0),
    ]
    assert len(_rollups(placed_database, "rtt_ms")) == 1  # no rtt, nothing to fold


def test_a_batch_folds_samples_before_writing_and_adds_to_stored_rows(placed_database: Database):
    device = _store(placed_database, 1, HOUR, _host(40.0))
    batch = RollupBatch()
    for minute, cpu in [(1, 10.0), (2, 90.0), (3, float("inf"))]:
        batch.add_sample(device.id, _host(cpu), HOUR.replace(minute=minute))
    assert batch.skipped == 2  # inf, and inf/2 in the disk table
    with placed_database.session() as session:
        written = batch.flush(session)
    assert written == 5  # reachable, rtt_ms, cpu_pct and two disk rows, all in one hour
    assert len(batch) == 0
    assert _rollups(placed_database, "cpu_pct") == [(HOUR, 3, 10.0, 140.0 / 3, 90.0)]


def test_a_flush_adds_to_a_row_the_orm_wrote(placed_database: Database):
    """The batch writes the hour exactly as the ORM does, so both meet in one row."""
    device = _store(placed_database, 1, HOUR, _host(40.0))
    with placed_database.session() as session:
        session.add(
            RollupHourly(
                device_id=device.id,
                metric="fan_rpm",
                hour=HOUR,
                count=2,
                sum=3000.0,
                min=1000.0,
                max=2000.0,
            )
        )
    batch = RollupBatch()
    batch.add_value(device.id, "fan_rpm", HOUR, 500.0)
    batch.add_value(device.id, "fan_rpm", HOUR, 2500.0)
    with placed_database.session() as session:
        assert batch.flush(session) == 1
    assert _rollups(placed_database, "fan_rpm") == [(HOUR, 4, 500.0, 1500.0, 2500.0)]


def test_hour_buckets_are_utc_hours():
    shanghai = datetime(2025, 3, 3, 16, 45, tzinfo=UTC).astimezone()
    assert hour_of(shanghai) == datetime(2025, 3, 3, 16, tzinfo=UTC)
    assert hour_of(T0) == HOUR


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("cpu_pct",), "cpu_pct"),
        (("used_pct", "disk", {"mount": "D:"}), "disk.used_pct{mount=D:}"),
        (
            ("in_errors", "interface", {"port": "3", "ifname": "ge1/0/3"}),
            "interface.in_errors{ifname=ge1/0/3,port=3}",
        ),
    ],
)
def test_metric_keys(args, key):
    assert metric_key(*args) == key

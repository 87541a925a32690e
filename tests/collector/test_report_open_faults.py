"""A report of the quarter still running: a fault still open counts up to now, not to the
end of the quarter. An agent offline since an hour ago is one offline hour; the room's
availability is the hours it was up over the hours that have passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from roomwatch.collector.db.models import Device, Fault
from roomwatch.collector.db.session import Database
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.reports.build import build_report
from roomwatch.collector.reports.period import parse_period
from tests.collector.conftest import write_hourly_rollups

ZONE = "Asia/Shanghai"
PERIOD = parse_period("2026Q3", ZONE)  # 2026-07-01 .. 2026-10-01 local
NOW = datetime(2026, 8, 16, 12, 0, tzinfo=UTC)  # mid-quarter: 1,084 hours have passed
OFFLINE_SINCE = NOW - timedelta(hours=1)


def _site(db: Database) -> None:
    sync_inventory(
        db,
        Inventory.model_validate(
            {
                "sites": [
                    {
                        "id": "s1",
                        "name": "School",
                        "timezone": ZONE,
                        "rooms": [
                            {
                                "id": "r1",
                                "name": "Room 1",
                                "agents": ["agent-1"],
                                "devices": [{"id": "cam1", "kind": "camera", "model": "CAM-A"}],
                            }
                        ],
                    }
                ]
            }
        ),
    )
    with db.session() as session:
        cam = session.scalars(select(Device).where(Device.device == "cam1")).one()
        hours = int((OFFLINE_SINCE - PERIOD.start_utc).total_seconds() // 3600)
        rows: list[dict[str, object]] = [
            {
                "device_id": cam.id,
                "metric": "reachable",
                "hour": PERIOD.start_utc + timedelta(hours=h),
                "count": 60,
                "sum": 60.0,
                "min": 1.0,
                "max": 1.0,
            }
            for h in range(hours)  # up every hour until the agent went silent
        ]
        write_hourly_rollups(session, rows)
        session.add(
            Fault(
                rule_id="agent_offline",
                target="r1/agent",
                open_key="agent_offline|r1/agent",
                room_id="r1",
                device_id=None,
                agent_id="agent-1",
                level=1,
                status="open",
                title="agent-1 offline",
                opened_at=OFFLINE_SINCE,
                last_seen_at=OFFLINE_SINCE,
            )
        )


@pytest.fixture
def observed_hours(database: Database) -> int:
    _site(database)
    return int((OFFLINE_SINCE - PERIOD.start_utc).total_seconds() // 3600)


def test_an_open_agent_offline_fault_counts_until_now_not_until_the_quarter_ends(
    database: Database, observed_hours: int
):
    with database.session() as session:
        report = build_report(session, "s1", PERIOD, "en", NOW)
    room = report.rooms[0]
    assert room.offline_hours == pytest.approx(1.0)
    # up every observed hour, down the one offline hour; the future is not counted
    expected = observed_hours / (observed_hours + 1)
    assert room.availability == pytest.approx(expected)
    assert room.availability > 0.99


def test_a_past_period_counts_an_open_fault_until_its_end(database: Database, observed_hours: int):
    # The report of 2026-08-16 (a past day) made a week later: the fault opened at 19:00
    # local and is still open, so 5 hours of that day, not a week.
    day = parse_period("2026-08-16..2026-08-17", ZONE)
    with database.session() as session:
        report = build_report(session, "s1", day, "en", NOW + timedelta(days=7))
    hours_left = (day.end_utc - OFFLINE_SINCE).total_seconds() / 3600
    assert report.rooms[0].offline_hours == pytest.approx(hours_left)

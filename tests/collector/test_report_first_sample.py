"""A device is charged the room's agent-offline hours only from its first sample on.

The agent reports itself as the ``agent`` device. A room whose agent was offline for a day
of the quarter shows that day against each of its devices; a device that first reported
after that day (an agent that started reporting itself later, a camera added mid-quarter)
was not there to be down. Its availability is its online hours over the hours since it
first reported, and the room's stays the mean of its devices'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from roomwatch.agent.selfhealth import AgentCounters
from roomwatch.collector.db.ingest_store import ensure_devices
from roomwatch.collector.db.models import Device, Fault
from roomwatch.collector.db.session import Database
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.reports.build import build_report
from roomwatch.collector.reports.model import InspectionReport
from roomwatch.collector.reports.period import parse_period
from tests.collector.conftest import write_hourly_rollups

ZONE = "Asia/Shanghai"
QUARTER = parse_period("2026Q4", ZONE)  # 2026-10-01 .. 2027-01-01 local
NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
HOURS_SO_FAR = int(QUARTER.hours_until(NOW))  # 1,600: NOW is on a whole hour
OFFLINE_HOURS = 24


def _site(db: Database) -> dict[str, int]:
    """Room r1 with a camera from the inventory and the agent's own device, as ingest
    makes it from the agent's first message; device id → row id."""
    camera = {"id": "cam1", "kind": "camera", "model": "CAM-A"}
    room = {"id": "r1", "name": "Room 1", "agents": ["agent-1"], "devices": [camera]}
    site = {"id": "s1", "name": "School", "timezone": ZONE, "rooms": [room]}
    sync_inventory(db, Inventory.model_validate({"sites": [site]}))
    with db.session(write=True) as session:
        ensure_devices(session, "r1", [AgentCounters().to_sample()])
    with db.session() as session:
        return {d.device: d.id for d in session.scalars(select(Device))}


def _up_hours(db: Database, device_pk: int, first: datetime, skip: range) -> None:
    """``reachable`` = 1 every hour from ``first`` to NOW, but none in the ``skip`` hours
    (counted from the quarter's start): the agent sent nothing then."""
    rows: list[dict[str, object]] = []
    hour = first
    while hour < NOW:
        if int((hour - QUARTER.start_utc).total_seconds() // 3600) not in skip:
            row = {"device_id": device_pk, "metric": "reachable", "hour": hour}
            rows.append({**row, "count": 12, "sum": 12.0, "min": 1.0, "max": 1.0})
        hour += timedelta(hours=1)
    with db.session(write=True) as session:
        write_hourly_rollups(session, rows)


def _agent_offline(db: Database, from_hour: int) -> None:
    """An agent_offline fault of OFFLINE_HOURS, ``from_hour`` hours into the quarter."""
    opened = QUARTER.start_utc + timedelta(hours=from_hour)
    with db.session(write=True) as session:
        session.add(
            Fault(
                rule_id="agent_offline",
                target="r1/agent",
                open_key="agent_offline|r1/agent",
                room_id="r1",
                agent_id="agent-1",
                level=1,
                status="closed",
                title="agent-1 offline",
                opened_at=opened,
                last_seen_at=opened,
                resolved_at=opened + timedelta(hours=OFFLINE_HOURS),
            )
        )


def _report(db: Database) -> InspectionReport:
    with db.session() as session:
        return build_report(session, "s1", QUARTER, "zh-CN", NOW)


def test_an_agent_that_first_reported_itself_after_an_offline_day_is_not_charged_that_day(
    database: Database,
):
    pks = _site(database)
    offline = range(500, 500 + OFFLINE_HOURS)
    _up_hours(database, pks["cam1"], QUARTER.start_utc, offline)
    agent_since = 1500  # hours into the quarter, long after the offline day
    _up_hours(database, pks["agent"], QUARTER.start_utc + timedelta(hours=agent_since), range(0))
    _agent_offline(database, offline.start)

    room = _report(database).rooms[0]
    assert room.offline_hours == pytest.approx(OFFLINE_HOURS)
    # the camera was there: down the offline day, up every other hour so far; the agent's
    # row: online all 100 hours since it first reported (not 100 of 124)
    camera = (HOURS_SO_FAR - OFFLINE_HOURS) / HOURS_SO_FAR
    assert {d.device: d.availability for d in room.devices} == {
        "cam1": pytest.approx(camera),
        "agent": pytest.approx(1.0),
    }
    assert room.availability == pytest.approx((camera + 1.0) / 2)


def test_an_agent_offline_at_the_quarters_start_is_down_those_hours_in_its_own_row(
    database: Database,
):
    # Both devices reported in the quarter before; the agent went offline at the first
    # hour of this one. Its row and the camera's read online hours / hours so far, and the
    # room's offline hours are the hours that are missing.
    pks = _site(database)
    offline = range(0, OFFLINE_HOURS)
    before = QUARTER.start_utc - timedelta(days=3)
    for device in ("cam1", "agent"):
        _up_hours(database, pks[device], before, offline)
    _agent_offline(database, offline.start)

    report = _report(database)
    room = report.rooms[0]
    online = (HOURS_SO_FAR - OFFLINE_HOURS) / HOURS_SO_FAR
    assert room.offline_hours == pytest.approx(OFFLINE_HOURS)
    assert {d.device: d.availability for d in room.devices} == {
        "agent": pytest.approx(online),
        "cam1": pytest.approx(online),
    }
    assert room.availability == pytest.approx(online)
    assert report.availability == pytest.approx(online)

"""Maintenance windows: one-off, weekly (also past midnight) and date ranges, evaluated in
the site's time zone; scope by site, room or device (and the devices behind it); the API
creates, lists (with ``active_now``), changes and deletes them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from roomwatch.collector.api.app import create_app
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.workflow_models import MaintenanceWindow
from roomwatch.collector.graph import RoomGraph
from roomwatch.collector.maintenance import MaintenanceCalendar, WindowSpec, covers, is_active
from tests.collector.auth_support import auth_headers
from tests.collector.scenario_support import T0, Clock

SHANGHAI = ZoneInfo("Asia/Shanghai")


def window(**fields) -> MaintenanceWindow:
    spec = WindowSpec(name="w", **fields)
    return MaintenanceWindow(**spec.model_dump(), created_by="t", created_at=T0)


def at_local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def test_a_one_off_window_covers_its_start_but_not_its_end():
    w = window(
        kind="once",
        room_id="r1",
        starts_at=at_local("2026-09-07 08:00"),
        ends_at=at_local("2026-09-07 10:00"),
    )
    assert is_active(w, at_local("2026-09-07 08:00"), SHANGHAI)
    assert not is_active(w, at_local("2026-09-07 10:00"), SHANGHAI)


def test_a_weekly_window_is_in_local_time_and_may_run_past_midnight():
    nightly = window(
        kind="weekly", site_id="s1", weekdays=[4], start_time="22:00", end_time="02:00"
    )  # Friday night
    assert is_active(nightly, at_local("2026-09-11 23:30"), SHANGHAI)  # Friday
    assert is_active(nightly, at_local("2026-09-12 01:59"), SHANGHAI)  # Saturday morning
    assert not is_active(nightly, at_local("2026-09-12 02:00"), SHANGHAI)
    assert not is_active(nightly, at_local("2026-09-10 23:30"), SHANGHAI)  # Thursday
    # 23:30 Friday in Shanghai is 15:30 UTC: the same instant read in UTC would miss it.
    assert not is_active(nightly, at_local("2026-09-11 23:30"), ZoneInfo("UTC"))


def test_a_term_holiday_covers_whole_local_days():
    summer = window(
        kind="dates", room_id="r1", date_from=date(2026, 7, 10), date_to=date(2026, 8, 31)
    )
    assert is_active(summer, at_local("2026-07-10 00:00"), SHANGHAI)
    assert is_active(summer, at_local("2026-08-31 23:59"), SHANGHAI)
    assert not is_active(summer, at_local("2026-09-01 00:00"), SHANGHAI)
    summer.enabled = False
    assert not is_active(summer, at_local("2026-07-20 12:00"), SHANGHAI)


def test_scope_of_a_device_window_includes_the_devices_behind_it():
    graph = RoomGraph.from_links([("sw-1", None), ("cam-1", "sw-1"), ("host", None)])
    switch_work = window(
        kind="dates",
        room_id="r1",
        device="sw-1",
        date_from=date(2026, 1, 1),
        date_to=date(2026, 1, 2),
    )
    assert covers(switch_work, "s1", "r1", "cam-1", graph)
    assert not covers(switch_work, "s1", "r1", "host", graph)
    assert not covers(switch_work, "s1", "r2", "cam-1", graph)
    site_wide = window(
        kind="dates", site_id="s1", date_from=date(2026, 1, 1), date_to=date(2026, 1, 2)
    )
    assert covers(site_wide, "s1", "r9", "anything", None)
    assert not covers(site_wide, "s2", "r9", "anything", None)


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "once", "room_id": "r1"},
        {
            "kind": "weekly",
            "room_id": "r1",
            "weekdays": [0],
            "start_time": "25:00",
            "end_time": "26:00",
        },
        {"kind": "dates", "date_from": "2026-01-01", "date_to": "2026-01-02"},
        {
            "kind": "dates",
            "device": "cam-1",
            "site_id": "s1",
            "date_from": "2026-01-01",
            "date_to": "2026-01-02",
        },
        {"kind": "dates", "room_id": "r1", "date_from": "2026-02-01", "date_to": "2026-01-02"},
    ],
)
def test_an_incomplete_window_is_refused(fields):
    with pytest.raises(ValidationError):
        WindowSpec(name="bad", **fields)


def test_windows_through_the_api(placed_database: Database):
    app = create_app(placed_database, CollectorRegistry(), clock=Clock(T0))
    engineer = auth_headers(placed_database, "engineer")
    with TestClient(app, headers=engineer) as client:
        body = {
            "name": "Monday reboot",
            "kind": "weekly",
            "room_id": "r1",
            "weekdays": [0],
            "start_time": "08:30",
            "end_time": "09:30",
            "reason": "OS updates",
        }
        created = client.post("/api/maintenance-windows", json=body)
        assert created.status_code == 201, created.text
        window_id = created.json()["id"]
        assert created.json()["active_now"] is True  # T0 is Monday 09:00 in the site's zone
        assert created.json()["created_by"] == "test-engineer"
        missing = client.post("/api/maintenance-windows", json={**body, "room_id": "nope"})
        assert missing.status_code == 404
        moved = client.put(
            f"/api/maintenance-windows/{window_id}",
            json={**body, "start_time": "10:00", "end_time": "11:00"},
        )
        assert moved.status_code == 200 and moved.json()["active_now"] is False
        assert [w["id"] for w in client.get("/api/maintenance-windows?room=r1").json()] == [
            window_id
        ]
        assert client.get(f"/api/maintenance-windows/{window_id}/firings").json() == []
        assert client.delete(f"/api/maintenance-windows/{window_id}").status_code == 204
        assert client.get(f"/api/maintenance-windows/{window_id}").status_code == 404


def test_the_calendar_uses_the_site_zone_from_the_inventory(placed_database: Database):
    calendar = MaintenanceCalendar("Asia/Shanghai")
    with placed_database.session() as session:
        session.add(
            window(kind="weekly", room_id="r1", weekdays=[0], start_time="08:00", end_time="10:00")
        )
        session.flush()
        assert calendar.active_window(session, "r1", "cam1", T0) is not None
        assert calendar.active_window(session, "r2", "host", T0) is None

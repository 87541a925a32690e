"""Class timetables: periods with their lead time, school days from the holiday calendar
(public holidays off, make-up working days 调休 on), terms, and the inventory file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from roomwatch.agent.errors import ConfigError
from roomwatch.collector.db.models import Room, Site
from roomwatch.collector.db.session import Database
from roomwatch.collector.inventory import load_inventory, sync_inventory
from roomwatch.collector.timetable import Timetable

ZONE = "Asia/Shanghai"
DAY = Timetable(periods=["08:00-08:45", "14:00-14:45"], lead_min=5)


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(ZONE))


@pytest.mark.parametrize(
    ("moment", "in_class"),
    [
        ("2026-11-27 07:54", False),  # Friday, before the lead time
        ("2026-11-27 07:55", True),  # the recorder must run 5 min before the period
        ("2026-11-27 08:44", True),
        ("2026-11-27 08:45", False),  # the period is over
        ("2026-11-27 12:00", False),  # between periods
        ("2026-11-27 14:30", True),
        ("2026-11-28 08:10", False),  # Saturday
        ("2026-10-01 08:10", False),  # National Day
        ("2026-02-14 08:10", True),  # a Saturday worked to make up for Spring Festival (调休)
    ],
)
def test_a_class_is_in_session_within_its_period_on_a_school_day(moment: str, in_class: bool):
    assert DAY.in_class(local(moment), ZONE) is in_class


def test_the_site_time_zone_decides_and_utc_instants_work():
    utc = datetime.fromisoformat("2026-11-27T00:10:00+00:00")  # 08:10 in Shanghai
    assert DAY.in_class(utc, ZONE)
    assert not DAY.in_class(utc, "Europe/Berlin")  # 01:10 there


def test_terms_leave_the_vacations_without_classes():
    autumn = Timetable(
        periods=["08:00-08:45"], terms=[{"start": "2026-09-01", "end": "2027-01-16"}]
    )
    assert autumn.in_class(local("2026-11-27 08:10"), ZONE)
    assert not autumn.in_class(local("2026-08-27 08:10"), ZONE)  # summer vacation
    assert not autumn.in_class(local("2027-01-18 08:10"), ZONE)  # winter vacation


def test_without_a_holiday_calendar_only_the_weekdays_count():
    plain = Timetable(periods=["08:00-08:45"], holidays=None, days=["mon", "sat"])
    assert plain.in_class(local("2026-10-03 08:10"), ZONE)  # a Saturday, holiday or not
    assert not plain.in_class(local("2026-11-27 08:10"), ZONE)  # Friday is not listed


@pytest.mark.parametrize(
    ("timetable", "message"),
    [
        ("{periods: ['8:00-8:45']}", "periods.0"),
        ("{periods: ['09:00-08:00']}", "ends before it starts"),
        ("{periods: []}", "periods"),
        ("{periods: ['08:00-08:45'], holidays: XX}", "unknown holidays country"),
        ("{periods: ['08:00-08:45'], days: [monday]}", "days.0"),
        ("{periods: ['08:00-08:45'], lessons: 7}", "lessons"),
    ],
)
def test_a_bad_timetable_in_the_inventory_names_the_key(
    tmp_path: Path, timetable: str, message: str
):
    path = tmp_path / "inventory.yaml"
    path.write_text(
        f"sites:\n  - id: campus\n    name: Campus\n    timetable: {timetable}\n    rooms: []\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_inventory(path)
    assert "timetable" in str(raised.value) and message in str(raised.value)


def test_the_inventory_stores_the_site_and_room_timetables(database: Database, tmp_path: Path):
    path = tmp_path / "inventory.yaml"
    path.write_text(
        "sites:\n"
        "  - id: campus\n"
        "    name: Campus\n"
        "    timetable: {periods: ['08:00-08:45', '08:55-09:40']}\n"
        "    rooms:\n"
        "      - {id: r1, name: Room 1}\n"
        "      - id: lab\n"
        "        name: Evening lab\n"
        "        timetable: {periods: ['19:00-21:00'], days: [tue, thu], lead_min: 10}\n"
    )
    sync_inventory(database, load_inventory(path))
    with database.session() as session:
        site = session.scalars(select(Site)).one()
        rooms = {r.id: r for r in session.scalars(select(Room))}
        assert Timetable.model_validate(site.timetable).periods == ["08:00-08:45", "08:55-09:40"]
        assert rooms["r1"].timetable is None
        lab = Timetable.model_validate(rooms["lab"].timetable)
    assert lab.days == ["tue", "thu"] and lab.in_class(local("2026-11-26 18:55"), ZONE)

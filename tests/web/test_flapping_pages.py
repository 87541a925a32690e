"""A flapping fault says so on the grid tile, the room page, the fault board and the fault
page ("held until" while it stays clear), in both languages."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from roomwatch.collector.db import faults_store
from roomwatch.collector.db.session import Database
from tests.web.test_pages import NOW, Site, text_of


@pytest.fixture
def flapping(database: Database) -> Site:
    site = Site(database)
    with database.session() as session:
        fault = faults_store.get_fault(session, site.fault_id)
        fault.flapping = True
        fault.clear_since = NOW - timedelta(minutes=4)
    return site


def test_every_page_says_flapping_and_when_it_is_held_until(flapping: Site):
    pages = ["/ui/", "/ui/rooms/r1", "/ui/faults", f"/ui/faults/{flapping.fault_id}"]
    for page in pages:
        english = text_of(flapping.client.get(page, params={"lang": "en"}).text)
        assert "flapping" in english, page
        chinese = text_of(flapping.client.get(page, params={"lang": "zh-CN"}).text)
        assert "抖动中" in chinese, page
    fault_page = text_of(
        flapping.client.get(f"/ui/faults/{flapping.fault_id}", params={"lang": "en"}).text
    )
    held_at = NOW - timedelta(minutes=4) + timedelta(minutes=10)  # the default hold time
    held = held_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    assert f"Held until {held}" in fault_page


def test_a_fault_that_is_not_flapping_says_nothing_of_it(database: Database):
    site = Site(database)
    html = text_of(site.client.get(f"/ui/faults/{site.fault_id}", params={"lang": "en"}).text)
    assert "flapping" not in html and "Held until" not in html

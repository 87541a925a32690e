"""The Today page (今日课堂) and the roster page in a real browser (Debian chromium), on a
phone's width, in Chinese and English: the rooms at risk are listed under each period with
their faults, SLA deadline and assignee, the agent offline and the disk filling up, each
in the reader's language; the projector's fault is not; nothing overflows and the content
security policy refuses nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from roomwatch.collector.api.app import create_app
from roomwatch.collector.db.session import Database, open_database
from tests.collector.conftest import sqlite_url
from tests.collector.dispatch_support import (
    camera_down,
    disk_filling,
    host,
    open_fault,
    report,
    set_up_school,
    workflow,
)
from tests.collector.sla_support import FakeClock, cst
from tests.web.conftest import LiveServer
from tests.web.visible_text import foreign_words

pytestmark = pytest.mark.e2e
MONDAY_2200 = cst(2025, 3, 3, 22)  # night-li on duty; the next school day is Tuesday
# r1: the camera's rule fault; r2: its agent offline and its disk full before 08:45
# (80, 85, 90 % an hour apart: full at 23:33)
WORDS = {
    "zh-CN": (
        "Room 101 的 cam1 无法访问",
        "代理离线: 该教室没有在线的代理",
        "存储将在下课前写满 (host): D: 已用 90 %，预计 2025-03-03 23:33 写满",
    ),
    "en": (
        "cam1 unreachable in Room 101",
        "Agent offline: no agent of the room is online",
        "Storage full before the period ends (host): D: 90 % used, full at 2025-03-03 23:33",
    ),
}
# What the inventory and people typed: names, ids, a fault's title, a disk's label.
TYPED = {"First", "Other", "School", "Room", "host", "sw", "night-li", "switch", "down", "D"}


@pytest.fixture(scope="module")
def school_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    db: Database = open_database(sqlite_url(Path(tmp_path_factory.mktemp("today"))))
    clock = FakeClock(MONDAY_2200)
    set_up_school(db, MONDAY_2200)
    report(db, "agent-1", MONDAY_2200, host())
    disk_filling(db, "agent-2", MONDAY_2200)
    fault_id = open_fault(db, clock, "r1", "sw", "PoE switch down")
    camera_down(db, clock, "r1", "agent-1", "cam1")
    open_fault(db, clock, "r1", "proj", "Projector lamp", 3)
    app = create_app(
        db, CollectorRegistry(), database_gauges=False, workflow=workflow(clock), clock=clock
    )
    server = LiveServer(app)
    server.start()
    try:
        yield server.url, fault_id
    finally:
        server.stop()
        db.dispose()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_today_on_a_phone_lists_the_room_at_risk(browser: Any, school_site, lang: str):
    url, fault_id = school_site
    context = browser.new_context(viewport={"width": 390, "height": 844})
    refused: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "console", lambda m: refused.extend([m.text] if "Content Security" in m.text else [])
        )
        page.goto(f"{url}/ui/today?lang={lang}")
        site = page.locator(".today-site[data-site=s1]")
        assert site.locator("h3").first.inner_text() == "2025-03-04"  # Tuesday
        first = site.locator(".today-period").first
        assert first.get_attribute("data-period") == "08:00-08:45"
        rooms = first.locator(".today-room")
        assert rooms.evaluate_all("rs => rs.map(r => r.dataset.room)") == ["r1", "r2"]
        risk = rooms.first.locator(".risk-fault", has_text="PoE switch down")
        assert "night-li" in risk.inner_text()
        assert risk.locator("a").get_attribute("href") == f"/ui/faults/{fault_id}"
        assert "Projector" not in site.inner_text()
        shown = " ".join(first.inner_text().split())
        for words in WORDS[lang]:
            assert words in shown, (words, shown)
        heading = "今日课堂" if lang == "zh-CN" else "Today"
        assert page.locator("h1").inner_text() == heading
        assert foreign_words(page.locator("main").inner_text(), lang, TYPED) == {}
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.goto(f"{url}/ui/roster?lang={lang}")
        assert page.locator(".roster-site[data-site=s1] .on-duty").inner_text() == "night-li"
        assert page.locator(".roster-site[data-site=s1] li[data-shift]").count() == 2
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
    assert refused == []

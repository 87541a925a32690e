"""The workflow steps of a fault in a real browser (Debian chromium) at a phone's width, in
Chinese and English, each signed in as the role that does it: a school's staff report a
fault by phone and complain; the engineer takes the fault, gives it on, records a remote
session and the substitute unit's delivery, and writes the maintenance log from the
prefilled draft (in the page's language, on the site's clock) with parts replaced and
spares used — checked in the stored log (API) and in the report's spare table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from roomwatch.collector.api.app import create_app
from roomwatch.collector.api.auth import create_user
from roomwatch.collector.db import users_store
from roomwatch.collector.db.scope import bind_sites
from roomwatch.collector.db.session import Database, open_database
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.sla.service import SlaService
from tests.collector.conftest import sqlite_url
from tests.collector.dispatch_support import open_fault, report, school, workflow
from tests.collector.sla_support import FakeClock, cst, load_shipped
from tests.web.conftest import LiveServer

pytestmark = pytest.mark.e2e
MONDAY_2200 = cst(2025, 3, 3, 22)
PASSWORD = "step-pass-12345"
CAMERA_MODEL = "DS-2DE4425IW"
HEADERS = {"X-Requested-With": "roomwatch-web"}


def inventory() -> Inventory:
    """The dispatch tests' school, its camera of a procured model (so the report's spare
    table has a line for it)."""
    data = school().model_dump(mode="json", exclude_none=True)
    for device in data["sites"][0]["rooms"][0]["devices"]:
        if device["id"] == "cam1":
            device["model"] = CAMERA_MODEL
    return Inventory.model_validate(data)


class Site:
    def __init__(self, url: str, db: Database, faults: dict[str, int]) -> None:
        self.url, self.db, self.faults = url, db, faults


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db = open_database(sqlite_url(Path(tmp_path_factory.mktemp("steps"))))
    clock = FakeClock(MONDAY_2200)
    sync_inventory(db, inventory())
    load_shipped(db, MONDAY_2200)
    report(db, "agent-1", MONDAY_2200)
    with db.session() as session:
        for name, role in (("wang", "engineer"), ("li", "engineer"), ("zhou", "school")):
            create_user(session, name, role, MONDAY_2200, password=PASSWORD)
        zhou = users_store.find_user(session, "zhou")
        assert zhou is not None
        bind_sites(session, zhou, ["s1"])
    faults = {
        "camera": open_fault(db, clock, "r1", "cam1", "Camera 1 shows no picture"),
        "switch": open_fault(db, clock, "r1", "sw", "PoE switch down"),
    }
    clock.now = MONDAY_2200 + timedelta(hours=9)  # the L1 fix deadlines (8 h) have passed:
    with db.session() as session:  # the substitute units' clocks start
        SlaService(clock=clock).due_escalations(session, clock.now)
    app = create_app(
        db, CollectorRegistry(), database_gauges=False, workflow=workflow(clock), clock=clock
    )
    server = LiveServer(app)
    server.start()
    try:
        yield Site(server.url, db, faults)
    finally:
        server.stop()
        db.dispose()


@pytest.fixture
def phone(browser: Any, site: Site) -> Iterator[Any]:
    """``phone(user, lang)``: a page 390 px wide, signed in; CSP refusals and script errors
    are collected on it."""
    contexts: list[Any] = []

    def open_as(user: str, lang: str) -> Any:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.problems = []
        page.on("pageerror", lambda exc: page.problems.append(str(exc)))
        page.on(
            "console",
            lambda m: page.problems.extend([m.text] if "Content Security" in m.text else []),
        )
        page.goto(f"{site.url}/ui/lang/{lang}?next=/ui/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{site.url}/ui/")
        return page

    yield open_as
    for context in contexts:
        context.close()


def fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= 390"))


def submit(page: Any, form: str) -> str:
    """Submit a form and wait for the page's answer (saved, or the error)."""
    page.evaluate("document.getElementById('action-result').hidden = true")
    page.click(f"#{form} button[type=submit]")
    result = page.locator("#action-result:not([hidden])")
    result.wait_for()
    return str(result.inner_text())


def api(page: Any, path: str) -> Any:
    response = page.request.get(f"{page.url.split('/ui/')[0]}{path}")
    assert response.ok, (path, response.status)
    return response.json()


def test_maintenance_log_round_trip_with_parts_and_spares(phone: Any, site: Site):
    fault_id = site.faults["camera"]
    page = phone("wang", "zh-CN")
    page.goto(f"{site.url}/ui/faults/{fault_id}")
    form = page.locator("#log-form")
    phenomenon = form.locator("textarea[name=phenomenon]").input_value()
    # The draft in the page's language, on the site's clock (22:00 in Beijing, not 14:00 UTC)
    assert "2025-03-03 22:00 (Asia/Shanghai)" in phenomenon and "出现" in phenomenon
    assert "Opened" not in phenomenon
    assert fits(page)
    form.locator("textarea[name=cause]").fill("摄像机电源适配器损坏。")
    form.locator("textarea[name=solution]").fill("更换摄像机电源适配器。")
    parts = form.locator("#parts-replaced .part-row").last
    parts.locator("[data-field=name]").fill("电源适配器")
    parts.locator("[data-field=model]").fill("PA-12V")
    parts.locator("[data-field=serial]").fill("SN-0042")
    spares = form.locator("#spares-used")
    spares.locator(".part-row").last.locator("[data-field=model]").fill(CAMERA_MODEL)
    spares.locator(".part-row [data-field=quantity]").last.fill("2")
    spares.locator("button.add-row").click()
    spares.locator(".part-row").last.locator("[data-field=model]").fill("PA-12V")
    assert submit(page, "log-form") == "已保存。"
    assert "电源适配器 PA-12V SN-0042" in page.locator("#log-parts").inner_text()
    assert f"{CAMERA_MODEL} ×2" in page.locator("#log-spares").inner_text()

    stored = api(page, f"/api/faults/{fault_id}/log")
    assert stored["parts_replaced"] == [
        {"name": "电源适配器", "model": "PA-12V", "serial": "SN-0042", "quantity": 1}
    ]
    assert stored["spares_used"] == [
        {"name": CAMERA_MODEL, "model": CAMERA_MODEL, "quantity": 2},
        {"name": "PA-12V", "model": "PA-12V", "quantity": 1},
    ]
    generated = page.request.post(
        f"{site.url}/api/reports?wait=60",
        data={"site": "s1", "period": "2025Q1", "lang": "en", "pdf": False},
        headers=HEADERS,
    )
    assert generated.status == 201, generated.text()
    html = page.request.get(f"{site.url}/api/reports/{generated.json()['id']}/html").text()
    spare_table = html.split('id="s-spares"')[1].split("</table>")[0]
    row = next(r for r in spare_table.split("<tr>") if f"<td>{CAMERA_MODEL}</td>" in r)
    cells = [c.split("</td>")[0] for c in row.split('<td class="num">')[1:]]
    assert cells[-1] == "2"  # used in the period: the two spares logged in the form
    assert page.problems == []

    english = phone("wang", "en")
    english.goto(f"{site.url}/ui/faults/{site.faults['switch']}")
    draft = english.locator("#log-form textarea[name=phenomenon]").input_value()
    assert draft.startswith("PoE switch down (L1 system stopped)")
    assert "Opened 2025-03-03 22:00 (Asia/Shanghai)" in draft
    assert english.problems == []


def test_engineer_takes_gives_works_remotely_and_delivers_a_substitute(phone: Any, site: Site):
    fault_id = site.faults["switch"]
    page = phone("wang", "en")
    page.goto(f"{site.url}/ui/faults/{fault_id}")
    assert submit(page, "take-form") == "Saved."
    assert page.locator("#assignee b").inner_text() == "wang"
    page.select_option("#give-form select[name=assignee]", "li")
    assert submit(page, "give-form") == "Saved."
    assert page.locator("#assignee b").inner_text() == "li"
    page.fill("#remote-form input[name=duration_min]", "25")
    page.fill("#remote-form input[name=note]", "Restarted the switch over VPN")
    assert submit(page, "remote-form") == "Saved."
    assert page.locator("#substitute-form").count() == 1
    page.fill("#substitute-form input[name=note]", "Spare switch brought by Li")
    assert submit(page, "substitute-form") == "Saved."
    assert page.locator("#substitute-form").count() == 0  # the replace clock stopped
    assert fits(page)
    detail = api(page, f"/api/faults/{fault_id}")
    assert detail["assignee"] == "li" and detail["remote_sessions"] == 1
    replace = [c for c in api(page, f"/api/sla/faults/{fault_id}/clocks") if c["kind"] == "replace"]
    assert replace and replace[0]["stopped_at"] is not None
    mine = api(page, "/api/faults?assignee=me")
    assert fault_id not in [f["id"] for f in mine["items"]]  # given to li
    li = phone("li", "zh-CN")
    li.goto(f"{site.url}/ui/faults")
    li.click("#tab-mine")
    li.wait_for_url("**/ui/faults?view=mine")
    assert li.locator(f"a[href='/ui/faults/{fault_id}']").count() >= 1
    assert li.locator(f"a[href='/ui/faults/{site.faults['camera']}']").count() == 0
    assert fits(li) and li.problems == []
    assert page.problems == []


def test_school_reports_by_phone_and_complains_in_chinese(phone: Any, site: Site):
    page = phone("zhou", "zh-CN")
    page.click("nav a[href='/ui/report-fault']")
    page.select_option("#report-room", "r1")
    assert page.locator("#report-device option[data-room=r2]").first.is_hidden()
    page.select_option("#report-device", "proj")
    page.select_option("#report-form select[name=level]", "3")
    page.fill("#report-form input[name=title]", "投影仪画面发黄")
    page.fill("#report-form input[name=reporter]", "周老师")
    page.click("#report-form button[type=submit]")
    page.wait_for_url(f"{site.url}/ui/faults/*")
    fault_id = int(page.url.rsplit("/", 1)[1])
    assert "投影仪画面发黄" in page.locator("h1").inner_text()
    # School staff complain, but neither take faults nor write logs
    assert page.locator("#take-form, #remote-form, #log-form").count() == 0
    page.fill("#complaint-form textarea[name=text]", "两天了还没有修好")
    assert submit(page, "complaint-form") == "已保存。"
    assert fits(page)
    stored = api(page, f"/api/faults/{fault_id}")
    assert stored["reporter"] == "周老师" and stored["device"] == "proj" and stored["level"] == 3
    steps = api(page, f"/api/sla/faults/{fault_id}/escalations")
    assert any("两天了还没有修好" in (s.get("reason") or s.get("note") or str(s)) for s in steps)
    # An error reads in the page's language: a colleague recorded the delivery meanwhile
    engineer = phone("wang", "zh-CN")
    engineer.goto(f"{site.url}/ui/faults/{site.faults['camera']}")
    done = engineer.request.post(
        f"{site.url}/api/sla/faults/{site.faults['camera']}/substitute-delivered",
        data={"note": ""},
        headers=HEADERS,
    )
    assert done.ok
    assert submit(engineer, "substitute-form") == "当前状态下不能执行此操作。"
    assert page.problems == [] and engineer.problems == []

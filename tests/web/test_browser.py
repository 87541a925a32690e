"""The dashboard in a real browser (Debian's chromium) against a collector fed by the real
pipeline: snmpd devices → agent → mosquitto → collector → VictoriaMetrics + SQLite.

What an engineer would check: the room turns red when a camera is unplugged (live, without
a reload) and green again when it is back; the failed part is highlighted in the room graph;
acknowledging the fault stops its SLA response clock; a viewer has no write controls; the
language switch works; the grid fits a phone. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from roomwatch.collector.demo.procs import wait_for
from tests.web.conftest import ROOM, SITE_TZ, WebStack

pytestmark = pytest.mark.e2e
CAMERA = "cam-2"


class CameraIncident:
    """Unplug / plug the room's second camera; ``unplug`` returns the open L1 fault's id."""

    def __init__(self, stack: WebStack) -> None:
        self.stack = stack
        self.fault_id: int | None = None

    def open_fault(self) -> dict[str, Any] | None:
        assert self.stack.service is not None
        from roomwatch.collector.db import dashboard_queries

        with self.stack.service.db.session() as session:
            for fault in dashboard_queries.open_faults(session):
                if fault.rule_id == "device_unreachable" and fault.device == CAMERA:
                    return {"id": fault.id, "status": fault.status}
        return None

    def unplug(self) -> int:
        if self.fault_id is None or self.open_fault() is None:
            self.stack.room.devices[CAMERA].unplug()
            wait_for(lambda: self.open_fault() is not None, 40, "L1 fault of the camera")
            found = self.open_fault()
            assert found is not None
            self.fault_id = found["id"]
        return self.fault_id

    def plug(self) -> None:
        self.stack.room.devices[CAMERA].plug()
        self.fault_id = None


@pytest.fixture(scope="module")
def camera(web_stack: WebStack) -> Iterator[CameraIncident]:
    incident = CameraIncident(web_stack)
    yield incident
    incident.plug()


def tile(page: Any, room: str) -> Any:
    return page.locator(f"#tile-{room}")


def test_grid_shows_each_room_in_the_colour_of_its_state(page_as: Callable[..., Any], shot):
    page = page_as("viewer")
    expect(tile(page, ROOM)).to_have_attribute("data-state", "ok", timeout=40_000)
    expect(tile(page, ROOM)).to_have_class(re.compile(r"\bst-ok\b"))
    # Rooms without an agent are grey: not known to be healthy.
    expect(tile(page, "room-102")).to_have_attribute("data-state", "unmonitored")
    expect(tile(page, "room-102")).to_have_css("background-color", "rgb(156, 163, 175)")
    expect(tile(page, ROOM)).to_have_css("background-color", "rgb(22, 163, 74)")
    # Filters: the west campus alone, then a search.
    page.select_option("select[name=site]", "west")
    expect(tile(page, ROOM)).to_be_hidden()
    expect(tile(page, "room-201")).to_be_visible()
    assert "site=west" in page.url
    page.select_option("select[name=site]", "")
    page.fill("input[name=q]", "102")
    expect(tile(page, "room-102")).to_be_visible()
    expect(tile(page, ROOM)).to_be_hidden()
    page.fill("input[name=q]", "")
    shot(page, "grid-healthy")
    assert page.script_errors == []


def test_unplugged_camera_turns_its_room_red_without_a_reload(
    page_as: Callable[..., Any], camera: CameraIncident, shot
):
    page = page_as("viewer")
    expect(tile(page, ROOM)).to_have_attribute("data-state", "ok", timeout=40_000)
    expect(page.locator("body")).to_have_attribute("data-live-ready", "1")
    page.evaluate("window.__sameDocument = true")
    camera.unplug()
    expect(tile(page, ROOM)).to_have_attribute("data-state", "l1", timeout=20_000)
    expect(tile(page, ROOM)).to_have_class(
        re.compile(r"\bst-l1\b.*\bchanged\b|\bchanged\b.*\bst-l1\b")
    )
    expect(tile(page, ROOM)).to_have_css("background-color", "rgb(220, 38, 38)")
    expect(tile(page, ROOM).locator("[data-field=top_fault]")).to_contain_text(CAMERA)
    expect(page.locator('[data-count="l1"]')).to_have_text("1")
    assert page.evaluate("window.__sameDocument") is True  # updated live, never reloaded
    shot(page, "grid-l1")


def test_room_page_highlights_the_failed_camera_in_the_room_graph(
    page_as: Callable[..., Any], camera: CameraIncident, shot
):
    camera.unplug()
    page = page_as("viewer")
    page.goto(f"{page.url}rooms/{ROOM}")
    node = page.locator(f'.room-graph a[data-device="{CAMERA}"]')
    expect(node).to_have_class("node node-down node-failed")
    expect(page.locator('.room-graph a[data-device="cam-1"]')).to_have_class("node node-ok")
    row = page.locator(f'#open-faults tr.fault-row[data-fault="{camera.fault_id}"]')
    expect(row).to_be_visible()
    expect(row.locator(".clock")).to_have_count(3)
    expect(page.locator(f'#recent-faults tr[data-fault="{camera.fault_id}"]')).to_be_visible()
    # Times are in the site's time zone (the collector's default here is UTC).
    opened = row.locator("time")
    at = datetime.fromisoformat(opened.get_attribute("datetime").replace("Z", "+00:00"))
    assert opened.inner_text() == at.astimezone(ZoneInfo(SITE_TZ)).strftime("%m-%d %H:%M")
    expect(page.locator("tr[data-device=cam-1] .kv").first).to_be_visible()
    shot(page, "room")


def test_a_viewer_sees_no_acknowledge_button(
    page_as: Callable[..., Any], camera: CameraIncident, shot
):
    fault_id = camera.unplug()
    page = page_as("viewer")
    page.goto(f"{page.url}faults/{fault_id}")
    expect(page.locator("h1")).to_contain_text(CAMERA)
    expect(page.locator("#ack-button")).to_have_count(0)
    expect(page.locator("form.api-form")).to_have_count(0)
    expect(page.locator("#actions")).to_contain_text("只读")
    expect(page.locator(".user")).to_have_attribute("data-role", "viewer")
    # The API refuses the viewer too: the page only hides what the API would reject.
    response = page.request.post(
        f"{page.url.split('/ui/')[0]}/api/faults/{fault_id}/acknowledge",
        data={"note": ""},
        headers={"X-Requested-With": "test"},
    )
    assert response.status == 403
    shot(page, "fault-viewer")


def test_acknowledging_in_the_ui_stops_the_sla_response_clock(
    page_as: Callable[..., Any], camera: CameraIncident, web_stack: WebStack, shot
):
    fault_id = camera.unplug()
    page = page_as("engineer")
    page.goto(f"{page.url}faults/{fault_id}")
    respond = page.locator('.clock-list .clock[data-kind="respond"]')
    expect(respond).to_have_attribute("data-state", "running")
    expect(respond).to_have_class("clock u-ok")
    before = respond.locator(".clock-left").inner_text()
    page.wait_for_timeout(1500)
    assert respond.locator(".clock-left").inner_text() != before  # counting down live
    page.fill("#ack-form input[name=note]", "on my way")
    page.click("#ack-button")
    expect(page.locator("#fault-status")).to_have_text("已确认")
    expect(respond).to_have_attribute("data-state", "met")
    expect(respond).to_have_class("clock u-done")
    expect(page.locator('.clock-list .clock[data-kind="fix"]')).to_have_attribute(
        "data-state", "running"
    )
    expect(page.locator(".events")).to_contain_text("on my way")
    expect(page.locator("#ack-button")).to_have_count(0)
    # The SLA engine agrees: the response clock stopped, met, at the acknowledgement.
    assert web_stack.service is not None
    from roomwatch.collector.sla.service import SlaService

    with web_stack.service.db.session() as session:
        clocks = {c.kind: c for c in SlaService(notify=False).clocks(session, fault_id)}
    assert clocks["respond"].state == "met" and clocks["respond"].stopped_by == "acknowledged"
    assert clocks["fix"].state == "running"
    shot(page, "fault-engineer")
    assert page.script_errors == []


def test_fault_board_lists_open_faults_with_their_clocks(
    page_as: Callable[..., Any], camera: CameraIncident, shot
):
    fault_id = camera.unplug()
    page = page_as("engineer")
    page.goto(f"{page.url}faults")
    row = page.locator(f'tr.fault-row[data-fault="{fault_id}"]')
    expect(row).to_be_visible()
    expect(row.locator(".badge")).to_have_text("L1")
    expect(row.locator('.clock[data-kind="fix"]')).to_have_attribute("data-live", "1")
    page.click("text=历史")
    expect(page.locator(f'tr.fault-row[data-fault="{fault_id}"]')).to_be_visible()
    page.select_option("select[name=level]", "4")
    page.click("form.filters button[type=submit]")
    expect(page.locator(f'tr.fault-row[data-fault="{fault_id}"]')).to_have_count(0)
    page.goto(page.url.split("?")[0])
    shot(page, "faults")


def test_device_page_charts_history_with_fault_periods_shaded(
    page_as: Callable[..., Any], camera: CameraIncident, shot
):
    camera.unplug()
    page = page_as("viewer")
    page.goto(f"{page.url}rooms/{ROOM}/devices/{CAMERA}?range=1h")
    expect(page.locator(".source")).to_have_attribute("data-source", "tsdb")
    reachable = page.locator('figure[data-metric="reachable"]')
    expect(reachable.locator("polyline, circle").first).to_be_attached()
    expect(reachable.locator("rect.shade-l1")).to_have_count(1)
    page.goto(f"{page.url.split('?')[0]}?range=7d")
    expect(page.locator(".source")).to_have_attribute("data-source", "rollups")
    expect(page.locator('figure[data-metric="reachable"] rect.shade-l1')).to_have_count(1)
    page.goto(f"{page.url.split('/devices/')[0]}/devices/cam-1?range=1h")
    temperature = page.locator('figure[data-metric="temperature_c"]')
    expect(temperature.locator("polyline").first).to_be_attached()
    shot(page, "device")


def test_language_switch_changes_every_text_and_sticks(browser: Any, web_stack: WebStack, shot):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{web_stack.url}/ui/")
        # Users exist, so an anonymous visitor is sent to sign in; Chinese by default.
        expect(page).to_have_url(f"{web_stack.url}/ui/login?next=%2Fui%2F")
        expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        expect(page.locator("h1")).to_have_text("登录")
        page.click(".lang-switch a[data-lang=en]")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("h1")).to_have_text("Sign in")
        page.fill("input[name=username]", "viewer")
        page.fill("input[name=password]", "wrong password")
        page.click("button[type=submit]")
        expect(page.locator(".flash.error")).to_have_text("Wrong user name or password.")
        page.fill("input[name=password]", "viewer-pass-1")
        page.click("button[type=submit]")
        expect(page.locator("nav.nav a").first).to_have_text("Rooms")
        expect(page.locator(".count.st-ok span")).to_have_text("Healthy")
        page.goto(f"{web_stack.url}/ui/faults")
        expect(page.locator("h1")).to_have_text("Fault board")
        shot(page, "faults-en")
        page.click(".lang-switch a[data-lang=zh-CN]")
        expect(page.locator("h1")).to_have_text("故障看板")
        expect(page.locator("nav.nav a").first).to_have_text("教室")
    finally:
        context.close()


def test_grid_fits_a_phone(page_as: Callable[..., Any], shot):
    page = page_as("viewer", width=390, height=844)
    expect(tile(page, ROOM)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    first, second = (tile(page, r).bounding_box() for r in (ROOM, "room-102"))
    assert first and second and first["y"] == second["y"]  # two tiles a row
    shot(page, "grid-phone")


def test_plugging_the_camera_back_turns_the_room_green_live(
    page_as: Callable[..., Any], camera: CameraIncident
):
    fault_id = camera.unplug()
    page = page_as("viewer")
    board = page_as("engineer")
    board.goto(f"{board.url}faults")
    row = board.locator(f'tr.fault-row[data-fault="{fault_id}"]')
    expect(row).to_be_visible()
    expect(tile(page, ROOM)).to_have_attribute("data-state", "l1")
    for live in (page, board):
        expect(live.locator("body")).to_have_attribute("data-live-ready", "1")
    board.evaluate("window.__sameDocument = true")
    camera.plug()
    expect(tile(page, ROOM)).to_have_attribute("data-state", "ok", timeout=40_000)
    expect(page.locator('[data-count="l1"]')).to_have_text("0")
    expect(row).to_have_count(0, timeout=10_000)  # the board reloaded its table by itself
    assert board.evaluate("window.__sameDocument") is True


def test_pages_run_under_their_security_policy_and_refuse_to_be_framed(
    page_as: Callable[..., Any], camera: CameraIncident
):
    fault_id = camera.unplug()
    page = page_as("engineer")
    base = page.url
    for path in (
        "",
        f"rooms/{ROOM}",
        f"rooms/{ROOM}/devices/host?range=1h",  # charts with a legend: one line per disk
        "faults",
        f"faults/{fault_id}",
    ):
        page.goto(f"{base}{path}")
        expect(page.locator("#main")).to_be_visible()
        if "devices/host" in path:
            expect(page.locator(".chart-legend .swatch").first).to_be_visible()
    expect(page.locator("form.api-form").first).to_be_attached()
    assert page.policy_violations == [] and page.script_errors == []
    # Another site framing the fault page to trick a click on its buttons gets nothing.
    framer = page.context.new_page()
    with framer.expect_console_message(lambda m: "frame-ancestors" in m.text):
        framer.set_content(f'<iframe src="{base}faults/{fault_id}"></iframe>')
    expect(framer.frame_locator("iframe").locator("form.api-form")).to_have_count(0)

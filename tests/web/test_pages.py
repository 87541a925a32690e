"""The dashboard's pages over a real database (SQLite and PostgreSQL), served by the
collector's own app: what each role sees, sign-in, languages, time zones, fallbacks.
The browser tests (``test_browser.py``) drive the same pages with a real pipeline."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from roomwatch.agent.wire import DeviceSample, TableRow
from roomwatch.collector.api.app import create_app
from roomwatch.collector.api.auth import create_user, issue_token
from roomwatch.collector.db import ingest_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.web import WebSettings
from roomwatch.collector.web.feed import LiveFeed

NOW = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
SITE_TZ = "Asia/Shanghai"


def inventory() -> Inventory:
    return Inventory.model_validate(
        {
            "sites": [
                {
                    "id": "s1",
                    "name": "School One",
                    "timezone": SITE_TZ,
                    "rooms": [
                        {
                            "id": "r1",
                            "name": "Room 1",
                            "building": "A",
                            "agents": ["agent-1"],
                            "devices": [
                                {"id": "host", "kind": "host", "model": "RS-8000"},
                                {"id": "sw", "kind": "switch"},
                                {"id": "cam1", "kind": "camera", "parent": "sw"},
                            ],
                        },
                        {"id": "r2", "name": "Room 2", "building": "B", "agents": ["agent-2"]},
                    ],
                },
                {"id": "s2", "name": "School Two", "rooms": [{"id": "r3", "name": "Room 3"}]},
            ]
        }
    )


SAMPLES = [
    DeviceSample(
        device="host",
        kind="host",
        reachable=True,
        metrics={"cpu_pct": 37.5},
        tables={"disk": [TableRow(labels={"mount": "D:"}, metrics={"used_pct": 62.0})]},
    ),
    DeviceSample(device="sw", kind="switch", reachable=True, rtt_ms=1.5, metrics={}),
    DeviceSample(device="cam1", kind="camera", reachable=False, error="timeout"),
]


class Site:
    """A collector app over a database with the inventory, one report and one open fault."""

    def __init__(self, db: Database) -> None:
        self.db = db
        sync_inventory(db, inventory())
        self.now = NOW
        self.app = create_app(
            db,
            CollectorRegistry(),
            web=WebSettings(tsdb_url=None, timezone="UTC", live_poll_s=0.05),
            clock=lambda: self.now,
        )
        self.client = TestClient(self.app)
        with db.session() as session:
            devices = ingest_store.ensure_devices(session, "r1", SAMPLES)
            for hours in range(6, -1, -1):
                at = NOW - timedelta(hours=hours)
                for sample in SAMPLES:
                    ingest_store.store_latest(session, devices[sample.device], sample, at)
                    ingest_store.add_to_rollups(session, devices[sample.device], sample, at)
            ingest_store.set_agent_status(session, "agent-1", True, NOW, version="1.0.0")
            ingest_store.touch_agent(session, "agent-1", NOW)
            fault = self.app.state.workflow.open_rule_fault(
                session,
                open_key="device_unreachable|r1/cam1",
                at=NOW - timedelta(minutes=10),
                rule_id="device_unreachable",
                target="r1/cam1",
                room_id="r1",
                device_id=devices["cam1"].id,
                agent_id="agent-1",
                level=1,
                title="cam1 unreachable in r1",
                description="",
                evidence={"metric": "reachable", "value": 0.0},
            )
            self.fault_id = fault.id

    def add_user(self, role: str, password: str | None = "password-1") -> dict[str, str]:
        with self.db.session() as session:
            user = create_user(session, role, role, NOW, password=password)
            token = issue_token(session, user, NOW, name="test").secret
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def site(database: Database) -> Iterator[Site]:
    yield Site(database)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_until_someone_can_sign_in_the_dashboard_is_open_read_only(site: Site):
    site.add_user("admin", password=None)  # a token-only user is a program, not a person
    response = site.client.get("/", follow_redirects=True)
    assert response.status_code == 200 and response.url.path == "/ui/"
    assert "open-banner" in response.text and "user add" in response.text
    assert 'data-api="' not in site.client.get(f"/ui/faults/{site.fault_id}").text


def test_with_users_every_page_needs_a_signed_in_user(site: Site):
    site.add_user("viewer")
    for path in ("/ui/", "/ui/rooms/r1", "/ui/faults", f"/ui/faults/{site.fault_id}"):
        response = site.client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/ui/login?next=%2Fui%2F")
    assert site.client.get("/ui/live").status_code == 401
    assert site.client.get("/ui/login").status_code == 200


def test_grid_colours_rooms_by_state_and_filters_on_the_server(site: Site):
    html = site.client.get("/ui/").text
    assert re.search(r'class="tile st-l1"[^>]*id="tile-r1"', html)
    assert re.search(r'class="tile st-offline"[^>]*id="tile-r2"', html)  # agent never seen
    assert re.search(r'class="tile st-unmonitored"[^>]*id="tile-r3"', html)
    assert "Room 1 的 cam1 无法访问" in html  # the rule's title in the page's language
    filtered = site.client.get("/ui/", params={"state": "grey", "site": "s1"}).text
    assert re.search(r'id="tile-r1"[^>]*\bhidden\b', filtered)
    assert not re.search(r'id="tile-r2"[^>]*\bhidden\b', filtered)
    assert re.search(r'id="tile-r3"[^>]*\bhidden\b', filtered)


def test_an_offline_room_tile_shows_its_devices_as_not_known(site: Site):
    html = site.client.get("/ui/").text
    r2 = html[html.index('id="tile-r2"') :].split("</a>", 1)[0]
    assert '<b data-field="devices_up">?</b>' in r2  # not "n/n" for a room nobody watches


def test_room_page_shows_the_graph_devices_and_times_in_the_site_zone(site: Site):
    html = site.client.get("/ui/rooms/r1").text
    assert re.search(r'class="node node-down node-failed" data-device="cam1"', html)
    assert 'data-device="sw"' in html and "node node-ok" in html
    assert "CPU" in html and "37.5%" not in html  # formatted: 38%
    assert "38%" in html and "磁盘占用 (D:)" in html
    # The fault opened at 01:50 UTC: 09:50 on the site's clock (the collector default is UTC).
    assert "03-03 09:50" in html
    assert 'class="clock u-ok" data-kind="respond"' in html
    assert site.client.get("/ui/rooms/nope").status_code == 404


def test_device_page_falls_back_to_rollups_without_a_tsdb(site: Site):
    html = site.client.get("/ui/rooms/r1/devices/host", params={"range": "24h"}).text
    assert 'data-source="rollups"' in html and "未配置时序数据库查询" in html
    assert 'data-metric="cpu_pct"' in html and 'data-metric="disk.used_pct"' in html
    assert html.count("<polyline") >= 2
    cam = site.client.get("/ui/rooms/r1/devices/cam1", params={"range": "90d"}).text
    assert 'class="shade shade-l1"' in cam
    assert 'class="active" data-range="90d"' in cam
    bogus = site.client.get("/ui/rooms/r1/devices/host", params={"range": "5y"})
    assert bogus.status_code == 200 and 'class="active" data-range="1h"' in bogus.text
    assert site.client.get("/ui/rooms/r1/devices/nope").status_code == 404


def test_the_viewer_sees_no_write_controls_and_the_engineer_does(site: Site):
    viewer = site.add_user("viewer")
    page = site.client.get(f"/ui/faults/{site.fault_id}", headers=viewer).text
    assert 'data-api="' not in page and "ack-button" not in page
    engineer = site.add_user("engineer")
    page = site.client.get(f"/ui/faults/{site.fault_id}", headers=engineer).text
    assert f'data-api="/api/faults/{site.fault_id}/acknowledge"' in page
    assert f'data-api="/api/faults/{site.fault_id}/log" data-method="PUT"' in page
    assert '<option value="on_site">' in page
    assert f'data-api="/api/faults/{site.fault_id}/level"' in page


def test_an_engineer_changes_the_level_from_the_fault_page(site: Site):
    engineer = site.add_user("engineer")
    page = site.client.get(f"/ui/faults/{site.fault_id}", headers=engineer).text
    level = page.index('id="level-form"')
    assert '<option value="1" selected>' in page[level:]  # the camera fault is L1
    # What the page's script sends: the form's fields as JSON, the level as a string.
    form = {"level": "3", "note": "Only the backup camera; lessons still record"}
    response = site.client.post(f"/api/faults/{site.fault_id}/level", json=form, headers=engineer)
    assert response.status_code == 200, response.text
    page = site.client.get(f"/ui/faults/{site.fault_id}", headers=engineer).text
    assert 'class="page-head lvl-head-3"' in page
    assert "Only the backup camera" in page  # the reason is in the event list


def test_sign_in_form_holds_a_guesser_off_after_five_failures(site: Site):
    site.add_user("engineer", password="engineer-pass")
    form = {"username": "engineer", "next": "/ui/faults"}
    for n in range(5):
        wrong = site.client.post("/ui/login", data={**form, "password": f"guess-{n}"})
        assert wrong.status_code == 401
    held = site.client.post("/ui/login", data={**form, "password": "engineer-pass"})
    assert held.status_code == 429 and "登录失败次数过多，请 15 分钟后再试" in held.text
    assert held.headers["retry-after"] == "900"
    assert "roomwatch_session" not in held.cookies


def test_sign_in_form_sets_the_api_session_that_acknowledges(site: Site):
    site.add_user("engineer", password="engineer-pass")
    client = site.client
    wrong = client.post(
        "/ui/login", data={"username": "engineer", "password": "nope-nope", "next": "/ui/faults"}
    )
    assert wrong.status_code == 401 and "用户名或密码错误" in wrong.text
    signed = client.post(
        "/ui/login",
        data={"username": "engineer", "password": "engineer-pass", "next": "/ui/faults"},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/ui/faults"
    # What the page's script does: JSON to the API, with the session cookie and the header.
    site.now = NOW + timedelta(minutes=5)
    response = client.post(
        f"/api/faults/{site.fault_id}/acknowledge",
        json={"note": "taking it"},
        headers={"X-Requested-With": "roomwatch-web"},
    )
    assert response.status_code == 200, response.text
    page = client.get(f"/ui/faults/{site.fault_id}").text
    assert 'id="fault-status">已确认' in page
    assert re.search(r'class="clock u-done" data-kind="respond" data-state="met"', page)
    assert "taking it" in page
    out = client.post("/ui/logout", follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_sla_clocks_turn_amber_before_the_deadline_and_red_once_breached(site: Site):
    from roomwatch.collector.sla.service import SlaService

    with site.db.session() as session:
        clocks = SlaService(clock=lambda: site.now, notify=False).clocks(session, site.fault_id)
    respond = next(c for c in clocks if c.kind == "respond")
    assert respond.measure == "wall"
    pattern = r'class="clock u-(\w+)" data-kind="respond" data-state="(\w+)"'
    site.now = respond.deadline_at - timedelta(seconds=respond.budget_s * 0.1)
    assert re.search(pattern, site.client.get("/ui/faults").text).groups() == ("amber", "running")
    site.now = respond.deadline_at + timedelta(minutes=3)
    board = site.client.get("/ui/faults").text
    assert re.search(pattern, board).groups() == ("red", "breached")
    assert "已超时 3分" in board


def test_sign_in_never_redirects_off_the_dashboard(site: Site):
    site.add_user("viewer", password="viewer-pass")
    response = site.client.post(
        "/ui/login",
        data={"username": "viewer", "password": "viewer-pass", "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/ui/"
    lang = site.client.get("/ui/lang/en", params={"next": "//evil.example"}, follow_redirects=False)
    assert lang.headers["location"] == "/ui/"


def test_language_switch_sets_a_cookie_and_english_texts(site: Site):
    response = site.client.get("/ui/lang/en", params={"next": "/ui/faults"}, follow_redirects=False)
    assert (
        response.headers["location"] == "/ui/faults"
        and "rw_lang=en" in response.headers["set-cookie"]
    )
    html = site.client.get("/ui/faults").text
    assert '<html lang="en">' in html and "Fault board" in html and "Sorted by urgency" in html
    assert "respond" in text_of(html)
    assert '<html lang="zh-CN">' in site.client.get("/ui/faults", params={"lang": "zh-CN"}).text


def test_fault_board_sorts_by_urgency_and_history_filters(site: Site):
    with site.db.session() as session:
        for level, title in ((3, "disk filling"), (1, "agent offline")):
            site.app.state.workflow.open_rule_fault(
                session,
                open_key=f"rule|{title}",
                at=NOW - timedelta(minutes=level),
                rule_id="x",
                target=f"r2/{title}",
                room_id="r2",
                device_id=None,
                agent_id="agent-2",
                level=level,
                title=title,
                description="",
                evidence={},
            )
    board = site.client.get("/ui/faults", params={"lang": "en"}).text
    order = [t for t in ("cam1 unreachable", "agent offline", "disk filling") if t in board]
    assert sorted(order, key=board.index) == ["cam1 unreachable", "agent offline", "disk filling"]
    history = site.client.get(
        "/ui/faults", params={"view": "history", "level": 3, "room": "r2"}
    ).text
    assert "disk filling" in history and "agent offline" not in history
    found = site.client.get(
        "/ui/faults", params={"view": "history", "q": "CAM1", "lang": "en"}
    ).text
    assert "cam1 unreachable" in found and "disk filling" not in found
    later = site.client.get(
        "/ui/faults", params={"view": "history", "since": "2025-03-04", "until": "2025-03-05"}
    ).text
    assert "fault-row" not in later


def test_live_feed_sends_a_snapshot_and_then_every_change():
    snapshots = iter([{"n": 1}, {"n": 1}, {"n": 2}] + [{"n": 2}] * 100)

    async def read_two() -> list[str]:
        feed = LiveFeed(lambda: next(snapshots), poll_s=0.01, keepalive_s=5)
        stream = feed.stream()
        events = []
        async for chunk in stream:
            if chunk.startswith("event:"):
                events.append(chunk)
            if len(events) == 2:
                break
        await stream.aclose()
        return events

    # A thread of its own: Playwright's sync API may hold this thread's event loop.
    found: list[list[str]] = []
    worker = threading.Thread(target=lambda: found.append(asyncio.run(read_two())), daemon=True)
    worker.start()
    worker.join(10)
    [events] = found
    assert events == ['event: rooms\ndata: {"n": 1}\n\n', 'event: rooms\ndata: {"n": 2}\n\n']


def test_static_assets_are_served_locally(site: Site):
    html = site.client.get("/ui/").text
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for asset in ("app.css", "app.js", "favicon.svg"):
        assert site.client.get(f"/ui/static/{asset}").status_code == 200

"""Per-school accounts on the dashboard: a user bound to site A never sees site B on a page.

Every ``/ui`` route is enumerated from the app, so a page added later fails here unless it
carries the scope guard (``collector.web.scope.guard_page``) and shows nothing of B: a page
naming B's room, device or fault answers the 404 page; a list page answers without anything
of B; a query naming B's room or site answers 404. The live feed sends a bound reader only
its sites' tiles. And the ``school`` role reads its faults with their SLA deadlines and has
no engineer action, on the page or through the API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from roomwatch.collector.api.app import create_app
from roomwatch.collector.api.auth import create_user, issue_token
from roomwatch.collector.db import scope
from roomwatch.collector.db.session import Database
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.web.feed import LiveFeed
from roomwatch.collector.web.pages.grid import live_snapshot
from roomwatch.collector.web.scope import guard_page, project_snapshot
from roomwatch.collector.web.settings import WebSettings
from tests.collector.auth_support import bearer
from tests.collector.conftest import sqlite_database  # noqa: F401 - the fixture
from tests.collector.scenario_support import T0, Clock
from tests.web.conftest import LiveServer

A, B = "alpha-school", "beta-school"
MARK_B = "beta-"  # every id and name of site B starts with it; nothing of A contains it
# Pages that hold no site's data: signing in and out, the language switch.
GLOBAL_PAGES = {"/ui/login", "/ui/logout", "/ui/lang/{lang}"}
# Pages a role may not open at all (answered 403 before anything is read).
ENGINEER_PAGES = {"/ui/roster", "/ui/windows", "/ui/spares", "/ui/users", "/ui/contacts"}
# Pages for admins bound to no site only (user management): 403 for anyone bound.
GROUP_ADMIN_PAGES = {"/ui/users"}
SCOPED_QUERY = {"room", "room_id", "site", "site_id"}
GRAFANA = "https://grafana.example.org/"
# Views of one page chosen by a query, each a list of its own.
VIEWS = {"/ui/faults": [{"view": "history"}, {"view": "history", "status": "open"}]}


def two_schools() -> Inventory:
    def site(site_id: str) -> dict[str, Any]:
        prefix = site_id.split("-")[0]
        room = {
            "id": f"{prefix}-room",
            "name": f"{prefix}-room name",
            "building": f"{prefix}-hall",
            "agents": [f"{prefix}-agent"],
            "devices": [{"id": "cam", "kind": "camera", "model": f"{prefix}-cam"}],
        }
        return {"id": site_id, "name": f"{prefix}-school name", "rooms": [room]}

    return Inventory.model_validate({"sites": [site(A), site(B)]})


@dataclass
class World:
    client: TestClient
    db: Database
    tokens: dict[str, str]
    faults: dict[str, int]

    def as_(self, who: str) -> dict[str, str]:
        return bearer(self.tokens[who])


def _user(db: Database, name: str, role: str, sites: list[str]) -> str:
    with db.session() as session:
        # A password: the dashboard is closed (pages need a signed-in user).
        user = create_user(session, name, role, T0, password=f"{name}-password-1")
        scope.bind_sites(session, user, sites)
        return issue_token(session, user, T0, name="test").secret


@pytest.fixture
def world(sqlite_database: Database) -> Iterator[World]:  # noqa: F811 - the fixture
    db = sqlite_database
    sync_inventory(db, two_schools())
    tokens = {
        "admin": _user(db, "root", "admin", []),
        "admin-a": _user(db, "admin-a", "admin", [A]),
        "engineer-a": _user(db, "engineer-a", "engineer", [A]),
        "school-a": _user(db, "school-a", "school", [A]),
        "school-b": _user(db, "beta-staff", "school", [B]),  # a user of B: /ui/users
    }
    web = WebSettings(timezone="UTC", grafana_url=GRAFANA)
    app = create_app(db, CollectorRegistry(), clock=Clock(T0), web=web)
    with TestClient(app) as client:
        faults = {}
        for site in (A, B):
            prefix = site.split("-")[0]
            body = {
                "room_id": f"{prefix}-room",
                "level": 2,
                "title": f"{prefix}-fault no picture",
                "reporter": "p",
            }
            response = client.post("/api/faults", json=body, headers=bearer(tokens["admin"]))
            assert response.status_code == 201, response.text
            faults[site] = response.json()["id"]
        yield World(client, db, tokens, faults)


def _value(world: World, name: str) -> str:
    b_values = {
        "room_id": "beta-room",
        "room": "beta-room",
        "site_id": B,
        "site": B,
        "fault_id": str(world.faults[B]),
        "device_id": "cam",
    }
    return b_values.get(name, "x")


@dataclass(frozen=True)
class PageRoute:
    path: str
    methods: set[str]
    dependant: Dependant


def _pages(client: TestClient) -> list[PageRoute]:
    """Every route of the app under /ui that runs a function (not the static files)."""
    found = []
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        path, dependant = getattr(route, "path_format", ""), getattr(route, "dependant", None)
        if dependant is not None and (path == "/ui" or path.startswith("/ui/")):
            found.append(PageRoute(path, set(route.methods or ()), dependant))
    return found


def _guarded(route: PageRoute) -> bool:
    return any(dep.call is guard_page for dep in route.dependant.dependencies)


@pytest.mark.parametrize("who", ["admin-a", "school-a"])
def test_every_page_is_scoped_for_a_user_of_another_site(world: World, who: str):
    """Enumerated from the app: B's objects answer the 404 page, lists hold nothing of B."""
    headers = world.as_(who)
    checked = []
    for route in _pages(world.client):
        if route.path in GLOBAL_PAGES:
            continue
        assert _guarded(route), f"{route.path}: page without the site scope guard"
        if "GET" not in route.methods or route.path == "/ui/live":
            continue  # the live feed is a stream: test_the_live_feed_sends_only_own_sites
        names = [p.name for p in route.dependant.path_params]
        url = re.sub(r"{(\w+)}", lambda m: _value(world, m.group(1)), route.path)
        response = world.client.get(url, headers=headers)
        if names:
            assert response.status_code == 404, (route.path, response.status_code)
            assert "text/html" in response.headers["content-type"], route.path
            assert MARK_B not in _shown(response.text), route.path
            checked.append(route.path)
            continue
        if route.path in GROUP_ADMIN_PAGES:
            assert response.status_code == 403, (route.path, response.status_code)
            assert MARK_B not in _shown(response.text), route.path
            continue
        if route.path in ENGINEER_PAGES and who == "school-a":
            assert response.status_code == 403, (route.path, response.status_code)
            continue
        assert response.status_code == 200, (route.path, response.status_code)
        assert MARK_B not in _shown(response.text), (route.path, _around(response.text, MARK_B))
        for view in VIEWS.get(route.path, []):
            shown = world.client.get(route.path, params=view, headers=headers)
            assert shown.status_code == 200 and MARK_B not in _shown(shown.text), (route.path, view)
        for param in route.dependant.query_params:
            name = param.alias or param.name
            if name in SCOPED_QUERY:
                asked = world.client.get(
                    route.path, params={name: _value(world, name)}, headers=headers
                )
                assert asked.status_code == 404, (route.path, name, asked.status_code)
                assert MARK_B not in _shown(asked.text), (route.path, name)
        checked.append(route.path)
    # the pages this test was written against are among those it checked
    assert {"/ui/", "/ui/rooms/{room_id}", "/ui/faults", "/ui/faults/{fault_id}"} <= set(checked)
    assert "/ui/rooms/{room_id}/devices/{device_id}" in checked


def _shown(text: str) -> str:
    """The page without the links back to itself (the language switch and sign-in carry
    the asked URL in ``next``: what the reader typed, not what the site holds)."""
    return re.sub(r"next=[^\"&]*", "", text)


def _around(text: str, mark: str) -> str:
    at = text.find(mark)
    return text[max(0, at - 120) : at + 80]


def test_the_same_pages_show_b_to_an_unbound_admin(world: World):
    """The test above can fail: B's rooms and faults are there for whoever sees every site."""
    root = world.as_("admin")
    for url in ("/ui/", "/ui/faults", "/ui/faults?view=history"):
        assert "beta-room name" in world.client.get(url, headers=root).text, url
    response = world.client.get(f"/ui/faults/{world.faults[B]}", headers=root)
    assert response.status_code == 200 and "beta-fault" in response.text
    response = world.client.get("/ui/rooms/beta-room/devices/cam", headers=root)
    assert response.status_code == 200


def test_the_users_page_is_for_unbound_admins_only(world: World):
    """A bound admin neither sees other schools' users and tokens nor gets a link to them
    (the API refuses it every user-management call)."""
    bound = world.as_("admin-a")
    page = world.client.get("/ui/users", headers=bound)
    assert page.status_code == 403 and "beta-staff" not in page.text
    assert 'id="go-users"' not in world.client.get("/ui/service", headers=bound).text
    root = world.as_("admin")
    page = world.client.get("/ui/users", headers=root)
    assert page.status_code == 200 and "beta-staff" in page.text
    assert 'id="go-users"' in world.client.get("/ui/service", headers=root).text


def test_a_bound_user_sees_own_sites_pages(world: World):
    headers = world.as_("school-a")
    grid = world.client.get("/ui/", headers=headers).text
    assert "alpha-room name" in grid
    board = world.client.get("/ui/faults", headers=headers).text
    assert "alpha-fault no picture" in board
    response = world.client.get(f"/ui/faults/{world.faults[A]}", headers=headers)
    assert response.status_code == 200 and "alpha-fault no picture" in response.text
    assert world.client.get("/ui/rooms/alpha-room/devices/cam", headers=headers).status_code == 200


def test_an_unknown_page_of_a_scoped_site_reads_like_a_missing_one(world: World):
    """404 of another site's fault and of a fault that does not exist are the same page."""
    headers = world.as_("school-a")
    other = world.client.get(f"/ui/faults/{world.faults[B]}", headers=headers)
    missing = world.client.get("/ui/faults/999999", headers=headers)
    assert other.status_code == missing.status_code == 404
    title = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
    assert title.findall(other.text) == title.findall(missing.text)


def test_the_live_feed_sends_only_own_sites(world: World):
    """One snapshot read for every stream; a stream of a user bound to A carries only A."""
    assert _guarded(next(r for r in _pages(world.client) if r.path == "/ui/live"))
    settings = WebSettings(timezone="UTC")

    def snapshot() -> dict[str, Any]:
        with world.db.session() as session:
            return live_snapshot(session, settings)

    async def first_event(sees: Any) -> str:
        feed = LiveFeed(snapshot, poll_s=0.01, keepalive_s=5, project=project_snapshot)
        stream = feed.stream(sees)
        try:
            async for chunk in stream:
                if chunk.startswith("event: rooms"):
                    return chunk
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        raise AssertionError("no event")

    def run(coroutine: Any) -> str:  # a loop of its own, whatever the calling thread runs
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coroutine).result(timeout=30)

    own = json.loads(run(first_event(frozenset({A}))).split("data: ", 1)[1])
    assert [t["id"] for t in own["tiles"]] == ["alpha-room"] and MARK_B not in json.dumps(own)
    assert sum(own["counts"].values()) == 1  # the counts are of A's rooms only
    every = json.loads(run(first_event(None)).split("data: ", 1)[1])
    assert [t["id"] for t in every["tiles"]] == ["alpha-room", "beta-room"]
    assert sum(every["counts"].values()) == 2 and every["faults"] != own["faults"]


def test_the_school_role_reads_deadlines_and_has_no_engineer_action(world: World):
    headers = world.as_("school-a")
    fault_id = world.faults[A]
    page = world.client.get(f"/ui/faults/{fault_id}", headers=headers).text
    assert 'class="clock-list"' in page  # the SLA clocks with their deadlines
    assert 'id="ack-button"' not in page and 'id="transition-form"' not in page
    assert 'id="log-form"' not in page
    refused = world.client.post(f"/api/faults/{fault_id}/acknowledge", json={}, headers=headers)
    assert refused.status_code == 403
    board = world.client.get("/ui/faults", headers=headers).text
    assert "/acknowledge" not in board


def test_export_links_on_the_history_download_only_own_sites(world: World):
    headers = world.as_("school-a")
    page = world.client.get("/ui/faults", params={"view": "history"}, headers=headers).text
    links = dict(re.findall(r'href="([^"]+)" data-export="([\w-]+)"', page))
    assert sorted(links.values()) == sorted(
        f"{k}-{f}" for k in ("faults", "logs", "devices") for f in ("csv", "xlsx")
    )
    faults_csv = next(h for h, name in links.items() if name == "faults-csv")
    response = world.client.get(faults_csv.replace("&amp;", "&"), headers=headers)
    assert response.status_code == 200, response.text
    assert "alpha-fault no picture" in response.text and MARK_B not in response.text


def test_grafana_links_carry_only_the_readers_sites(world: World):
    def link(url: str, who: str) -> str:
        found = re.search(
            r'href="([^"]+)" id="grafana-link"', world.client.get(url, headers=world.as_(who)).text
        )
        assert found is not None, url
        return found.group(1).replace("&amp;", "&")

    assert link("/ui/", "school-a") == f"{GRAFANA}d/roomwatch-fleet-vm?var-site={A}"
    assert link("/ui/", "admin") == f"{GRAFANA}d/roomwatch-fleet-vm"  # every site
    assert link("/ui/rooms/alpha-room", "school-a") == (
        f"{GRAFANA}d/roomwatch-room-vm?var-site={A}&var-room=alpha-room"
    )
    assert link("/ui/rooms/alpha-room/devices/cam", "school-a").endswith(
        f"var-site={A}&var-room=alpha-room&var-device=cam"
    )


@pytest.mark.e2e
def test_a_school_user_on_a_phone_in_chinese(browser: Any, world: World):
    """Debian chromium at 390 px, zh-CN, signed in through the form as school-a: the grid
    holds only A's room, B's fault page is the not-found page, A's fault shows its SLA
    deadline and no engineer control; nothing overflows and the CSP refuses nothing."""
    server = LiveServer(world.client.app)
    server.start()
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    refused: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "console", lambda m: refused.extend([m.text] if "Content Security" in m.text else [])
        )
        page.goto(f"{server.url}/ui/login?lang=zh-CN")
        page.fill("input[name=username]", "school-a")
        page.fill("input[name=password]", "school-a-password-1")
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/ui/")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        text = page.locator("main").inner_text()
        assert "alpha-room name" in text and MARK_B not in text
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        response = page.goto(f"{server.url}/ui/faults/{world.faults[B]}")
        assert response is not None and response.status == 404
        assert MARK_B not in page.locator("main").inner_text()
        page.goto(f"{server.url}/ui/faults/{world.faults[A]}")
        assert page.locator(".clock-list").count() == 1  # SLA deadlines
        assert page.locator("#ack-button, #transition-form, #log-form").count() == 0
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.goto(f"{server.url}/ui/faults")
        assert page.locator(".ack-row").count() == 0
        assert MARK_B not in page.locator("main").inner_text()
    finally:
        context.close()
        server.stop()
    assert refused == []

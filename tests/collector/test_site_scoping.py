"""Per-school accounts: a user bound to site A never sees site B.

Every route of the app is enumerated from its OpenAPI document, so a route added later
without scoping fails here: a route naming a site, room, fault, report, window, device or
report job answers 404 for B's object; a list answers without anything of B; a body naming
B's room or site answers 404. Routes that carry no site's data are listed as such.
And the ``school`` role: it reports faults, complains and answers surveys for its rooms, and
may write nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from roomwatch.collector.api.app import create_app
from roomwatch.collector.api.auth import create_user, issue_token
from roomwatch.collector.db import quarantine_store, report_store, scope
from roomwatch.collector.db.session import Database
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.sla.policies import shipped_policies
from tests.collector.auth_support import bearer
from tests.collector.scenario_support import T0, Clock

A, B = "alpha-school", "beta-school"
MARK_B = "beta-"  # every id of site B starts with it; nothing of A contains it
RULE = "disk_nearly_full"

# Routes whose answers hold no site's data (global settings, the caller's own account).
GLOBAL_ROUTES = {
    "/healthz",
    "/metrics",
    "/api/auth/login",
    "/api/auth/logout",
    "/api/auth/me",
    "/api/sla/calendar/days",
    "/api/rules",
    "/api/advisories",
    "/api/advisories/{code}",
    "/api/advisories/apply",
}
# User management and the settings every site shares: an admin bound to sites gets 403
# (another user's account or an unbound admin would reach every site). The reads of these
# settings (policies, default policy, calendar and rule overrides) are lists checked below.
GROUP_ADMIN_ROUTES = {
    ("get", "/api/users"),
    ("post", "/api/users"),
    ("patch", "/api/users/{username}"),
    ("get", "/api/users/{username}/tokens"),  # another user's ({username} is root)
    ("post", "/api/users/{username}/tokens"),
    ("delete", "/api/users/{username}/tokens/{token_id}"),
    ("get", "/api/users/{username}/sites"),
    ("put", "/api/users/{username}/sites"),
    ("put", "/api/sla/policies/{policy_id}"),
    ("delete", "/api/sla/policies/{policy_id}"),
    ("put", "/api/sla/default-policy"),
    ("put", "/api/sla/calendar/overrides/{day}"),
    ("delete", "/api/sla/calendar/overrides/{day}"),
}
# Writes without an id in the path whose body names a room or site: (body, B's value path).
BODY_ROUTES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/faults"): {"room_id": "beta-room", "level": 3, "title": "x", "reporter": "x"},
    ("post", "/api/maintenance-windows"): {
        "name": "x",
        "kind": "once",
        "room_id": "beta-room",
        "starts_at": T0.isoformat(),
        "ends_at": (T0 + timedelta(hours=1)).isoformat(),
    },
    ("post", "/api/reports"): {"site": B, "period": "2025Q1", "pdf": False},
    ("post", "/api/sla/contacts"): {"name": "x", "role": "engineer", "site": B},
}
SCOPED_PARAMS = {"room_id", "room", "site_id", "site", "fault_id", "report_id", "window_id"}
SCOPED_PARAMS |= {"device_id", "job_id", "contact_id", "shift_id"}
# Writes without an id or body naming a site that act on every site the caller sees (a job
# run now): a bound caller's answer holds nothing of B.
SCOPED_ACTIONS = {("post", "/api/inspections/reminders")}


def two_schools() -> Inventory:
    def room(site: str) -> dict[str, Any]:
        prefix = site.split("-")[0]
        return {
            "id": f"{prefix}-room",
            "name": f"{prefix} room",
            "agents": [f"{prefix}-agent"],
            "devices": [{"id": "cam", "kind": "camera", "model": f"{prefix}-cam"}],
        }

    return Inventory.model_validate(
        {"sites": [{"id": s, "name": s, "rooms": [room(s)]} for s in (A, B)]}
    )


@dataclass
class World:
    client: TestClient
    db: Database
    tokens: dict[str, str]
    faults: dict[str, int]
    reports: dict[str, int]
    windows: dict[str, int]
    contacts: dict[str, int]
    shifts: dict[str, int]

    def as_(self, who: str) -> dict[str, str]:
        return bearer(self.tokens[who])


def _user(db: Database, name: str, role: str, sites: list[str]) -> str:
    with db.session() as session:
        user = create_user(session, name, role, T0)
        scope.bind_sites(session, user, sites)
        return issue_token(session, user, T0, name="test").secret


@pytest.fixture
def world(sqlite_database: Database) -> Iterator[World]:
    db = sqlite_database
    sync_inventory(db, two_schools())
    tokens = {
        "admin": _user(db, "root", "admin", []),
        "admin-a": _user(db, "admin-a", "admin", [A]),
        "engineer-a": _user(db, "engineer-a", "engineer", [A]),
        "school-a": _user(db, "school-a", "school", [A]),
        "school-none": _user(db, "school-none", "school", []),
    }
    app = create_app(db, CollectorRegistry(), clock=Clock(T0))
    with TestClient(app) as client:
        root = bearer(tokens["admin"])
        faults, reports, windows, contacts, shifts = {}, {}, {}, {}, {}
        policy = shipped_policies().policies[1].model_dump(mode="json")
        response = client.put(f"/api/sla/policies/{policy['id']}", json=policy, headers=root)
        assert response.status_code == 200, response.text
        for site in (A, B):
            prefix = site.split("-")[0]
            body = {"room_id": f"{prefix}-room", "level": 2, "title": "no picture", "reporter": "p"}
            response = client.post("/api/faults", json=body, headers=root)
            assert response.status_code == 201, response.text
            faults[site] = response.json()["id"]
            window = {**BODY_ROUTES[("post", "/api/maintenance-windows")]}
            window["room_id"] = f"{prefix}-room"
            response = client.post("/api/maintenance-windows", json=window, headers=root)
            assert response.status_code == 201, response.text
            windows[site] = response.json()["id"]
            contact = {"name": f"{prefix}-lead", "role": "project_lead", "site": site}
            response = client.post("/api/sla/contacts", json=contact, headers=root)
            assert response.status_code == 201, response.text
            contacts[site] = response.json()["id"]
            shift = {"person": "root", "weekdays": ["mon"], "start": "08:00", "end": "18:00"}
            response = client.post(f"/api/roster/{site}/shifts", json=shift, headers=root)
            assert response.status_code == 201, response.text
            shifts[site] = response.json()["id"]
            mapped = client.put(
                f"/api/sla/sites/{site}", json={"policy_id": "contract"}, headers=root
            )
            assert mapped.status_code == 200, mapped.text
            url = f"/api/rules/{RULE}/overrides/{site}"
            override = client.put(url, json={"enabled": False}, headers=root)
            assert override.status_code == 200, override.text
            with db.session() as session:
                reports[site] = report_store.archive_report(
                    session,
                    site_id=site,
                    period_label="2025Q1",
                    period_start=date(2025, 1, 1),
                    period_end=date(2025, 4, 1),
                    lang="en",
                    generated_at=T0,
                    generated_by="root",
                    html=f"<p>report of {site}</p>",
                ).id
        yield World(client, db, tokens, faults, reports, windows, contacts, shifts)


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    spec = client.app.openapi()  # type: ignore[attr-defined]
    return [
        (method, path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def _path_value(world: World, name: str) -> str:
    b_values = {
        "room_id": "beta-room",
        "room": "beta-room",
        "site_id": B,
        "site": B,
        "fault_id": str(world.faults[B]),
        "report_id": str(world.reports[B]),
        "window_id": str(world.windows[B]),
        "device_id": "2",  # sync_inventory: alpha's camera first, then beta's
        "job_id": "beta-job",
        "contact_id": str(world.contacts[B]),
        "shift_id": str(world.shifts[B]),
    }
    others = {"day": "2025-03-03", "period": "2025Q1", "token_id": "1", "username": "root"}
    others["policy_id"] = "contract"  # mapped to A and to B
    others["kind"] = "faults"  # /api/exports/{kind}
    return b_values.get(name, others.get(name, "x"))


def test_every_route_is_scoped_or_holds_no_sites_data(world: World):
    """For admin-a (admin, bound to A): B's objects answer 404, lists hold nothing of B."""
    unclassified = []
    for method, path, operation in _operations(world.client):
        params = {p["name"]: p["in"] for p in operation.get("parameters", [])}
        in_path = [n for n, where in params.items() if where == "path"]
        scoped_query = [n for n, where in params.items() if where == "query" and n in SCOPED_PARAMS]
        if path in GLOBAL_ROUTES:
            continue
        if (method, path) in GROUP_ADMIN_ROUTES:
            url = re.sub(r"{(\w+)}", lambda m: _path_value(world, m.group(1)), path)
            response = world.client.request(method, url, json={}, headers=world.as_("admin-a"))
            assert response.status_code == 403, (method, url, response.text)
            assert response.json()["error"] == "forbidden", response.text
            continue
        if any(name in SCOPED_PARAMS for name in in_path):
            url = re.sub(r"{(\w+)}", lambda m: _path_value(world, m.group(1)), path)
            response = world.client.request(method, url, json={}, headers=world.as_("admin-a"))
            assert response.status_code == 404, (method, url, response.status_code, response.text)
            continue
        if (method, path) in SCOPED_ACTIONS:
            response = world.client.request(method, path, headers=world.as_("admin-a"))
            assert response.status_code == 200, (method, path, response.text)
            assert MARK_B not in response.text, (method, path, response.text)
            continue
        if (method, path) in BODY_ROUTES:
            body = BODY_ROUTES[(method, path)]
            response = world.client.request(method, path, json=body, headers=world.as_("admin-a"))
            assert response.status_code == 404, (method, path, response.text)
            continue
        if method == "get":  # a list (its path parameters are not ids of a site's objects)
            for name in scoped_query:  # asking for B by name: 404
                query = {**_required_query(params, operation), name: _path_value(world, name)}
                url = re.sub(r"{(\w+)}", lambda m: _path_value(world, m.group(1)), path)
                response = world.client.get(url, params=query, headers=world.as_("admin-a"))
                assert response.status_code == 404, (path, name, response.text)
            url = re.sub(r"{(\w+)}", lambda m: _path_value(world, m.group(1)), path)
            response = world.client.get(
                url, params=_required_query(params, operation), headers=world.as_("admin-a")
            )
            if response.status_code == 404 and "site" in _required_query(params, operation):
                continue  # the site is required and B's was asked above
            assert response.status_code == 200, (path, response.text)
            assert MARK_B not in response.text, (path, response.text)
            continue
        unclassified.append((method, path))
    assert unclassified == [], f"routes not scoped nor listed as global: {unclassified}"
    shared = {
        (method, path)
        for method, path, _ in _operations(world.client)
        if path.startswith(("/api/users", "/api/sla/policies", "/api/sla/calendar/overrides"))
        and method != "get"
    }
    assert shared <= GROUP_ADMIN_ROUTES, "a new user or shared-setting write: classify it"


def _required_query(params: dict[str, str], operation: dict[str, Any]) -> dict[str, str]:
    required = {
        p["name"]
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    values = {
        "start": "2025-01-01T00:00:00Z",
        "end": "2026-01-01T00:00:00Z",
        "site": A,
        "period": "2025Q1",
    }
    return {name: values.get(name, "x") for name in required}


def test_the_same_lists_show_b_to_an_unbound_admin(world: World):
    """The lists checked above do hold B's objects for someone who may see them."""
    for path in ("/api/rooms", "/api/faults", "/api/reports", "/api/maintenance-windows"):
        response = world.client.get(path, headers=world.as_("admin"))
        assert response.status_code == 200 and MARK_B in response.text, path
    fault_b = world.faults[B]
    assert world.client.get(f"/api/faults/{fault_b}", headers=world.as_("admin")).is_success


def test_a_bound_user_sees_own_sites_objects(world: World):
    headers = world.as_("engineer-a")
    faults = world.client.get("/api/faults", headers=headers).json()
    assert [f["id"] for f in faults["items"]] == [world.faults[A]]
    rooms = world.client.get("/api/rooms", headers=headers).json()
    assert [r["id"] for r in rooms] == ["alpha-room"]
    report = world.client.get(f"/api/reports/{world.reports[A]}/html", headers=headers)
    assert report.status_code == 200 and A in report.text
    assert world.client.get("/api/auth/me", headers=headers).json()["sites"] == [A]


def test_a_school_user_bound_to_no_site_sees_nothing(world: World):
    headers = world.as_("school-none")
    assert world.client.get("/api/faults", headers=headers).json()["items"] == []
    assert world.client.get("/api/rooms", headers=headers).json() == []
    assert world.client.get(f"/api/faults/{world.faults[A]}", headers=headers).status_code == 404


def test_the_school_role_reports_complains_and_answers_for_its_rooms(world: World):
    headers = world.as_("school-a")
    body = {"room_id": "alpha-room", "level": 3, "title": "mic crackles", "reporter": "desk"}
    created = world.client.post("/api/faults", json=body, headers=headers)
    assert created.status_code == 201, created.text
    detail = world.client.get(f"/api/faults/{created.json()['id']}", headers=headers).json()
    assert detail["reporter"] == "desk" and "sla_clocks" in detail  # the expected fix time
    other = world.client.post("/api/faults", json={**body, "room_id": "beta-room"}, headers=headers)
    assert other.status_code == 404
    fault_a = world.faults[A]
    complaint = world.client.post(
        f"/api/sla/faults/{fault_a}/complaints", json={"text": "still dark"}, headers=headers
    )
    assert complaint.status_code != 403, complaint.text
    answer = world.client.post(
        f"/api/faults/{fault_a}/survey/answer", json={"score": 5}, headers=headers
    )
    assert answer.status_code != 403, answer.text  # allowed; 404/409 while none was sent
    html = world.client.get(f"/api/reports/{world.reports[A]}/html", headers=headers)
    assert html.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/faults/{a}/acknowledge", {}),
        ("post", "/api/faults/{a}/transition", {"to": "on_site"}),
        ("put", "/api/faults/{a}/log", {"phenomenon": "x", "cause": "y", "solution": "z"}),
        ("post", "/api/faults/{a}/survey/sent", {}),
        ("post", "/api/sla/faults/{a}/substitute-delivered", {}),
        ("post", "/api/reports", {"site": A, "period": "2025Q1"}),
        ("put", "/api/spares/" + A + "/cam", {"procured": 3, "in_stock": 1}),
        ("put", "/api/inspections/" + A + "/schedule", {"months": 3}),
        ("post", "/api/users", {"username": "x", "role": "viewer"}),
    ],
)
def test_the_school_role_writes_nothing_else(world: World, method: str, path: str, body: dict):
    url = path.replace("{a}", str(world.faults[A]))
    response = world.client.request(method, url, json=body, headers=world.as_("school-a"))
    assert response.status_code == 403, (url, response.text)


def test_maintenance_windows_of_b_are_not_listed_for_a(world: World):
    listed = world.client.get("/api/maintenance-windows", headers=world.as_("engineer-a")).json()
    assert [w["id"] for w in listed] == [world.windows[A]]


def test_the_quarantine_shows_a_bound_admin_only_its_sites_agents(world: World):
    """Quarantine is filtered, not admin-wide: a message names its agent, and the agent's
    room its site; an agent the inventory does not place belongs to no site."""
    agents = ["alpha-agent", "beta-agent", "stray-agent"]
    with world.db.session() as session:
        quarantine_store.add_many(
            session,
            [
                quarantine_store.Quarantined(
                    T0, f"roomwatch/v1/{a}/metrics", a, 1, "wire", "bad", 3, "{x"
                )
                for a in agents
            ],
        )
    seen = {
        who: [
            q["agent_id"]
            for q in world.client.get("/api/admin/quarantine", headers=world.as_(who)).json()[
                "items"
            ]
        ]
        for who in ("admin", "admin-a")
    }
    assert sorted(seen["admin"]) == sorted(agents)
    assert seen["admin-a"] == ["alpha-agent"]


def test_a_bound_admin_cannot_unbind_itself_or_reach_other_users(world: World):
    """admin-a must not widen its reach through user management: every way answers 403,
    the same for a user of its own site as for root (nothing to learn from the answer)."""
    headers = world.as_("admin-a")
    c = world.client
    unbind = c.put("/api/users/admin-a/sites", json={"sites": []}, headers=headers)
    assert unbind.status_code == 403, unbind.text
    assert c.get("/api/auth/me", headers=headers).json()["sites"] == [A]
    created = c.post(
        "/api/users", json={"username": "x", "role": "admin", "password": "p" * 12}, headers=headers
    )
    assert created.status_code == 403, created.text
    for name in ("root", "school-a"):
        patched = c.patch(f"/api/users/{name}", json={"password": "q" * 12}, headers=headers)
        assert patched.status_code == 403, (name, patched.text)
        token = c.post(f"/api/users/{name}/tokens", json={"name": "t"}, headers=headers)
        assert token.status_code == 403, (name, token.text)
    own = c.post("/api/users/admin-a/tokens", json={"name": "mine"}, headers=headers)
    assert own.status_code == 201, own.text
    assert c.get("/api/users/admin-a/tokens", headers=headers).status_code == 200
    root = world.as_("admin")
    assert c.put("/api/users/admin-a/sites", json={"sites": [A, B]}, headers=root).is_success


def test_shared_settings_are_for_unbound_admins_and_reads_are_filtered(world: World):
    headers, root, c = world.as_("admin-a"), world.as_("admin"), world.client
    policy = shipped_policies().policies[1].model_dump(mode="json")
    put = c.put("/api/sla/policies/contract", json=policy, headers=headers)
    assert put.status_code == 403 and put.json()["error"] == "forbidden", put.text
    assert c.put("/api/sla/policies/contract", json=policy, headers=root).status_code == 200
    default = c.put("/api/sla/default-policy", json={"policy_id": "contract"}, headers=headers)
    assert default.status_code == 403
    holiday = c.put(
        "/api/sla/calendar/overrides/2025-10-09", json={"working": False}, headers=headers
    )
    assert holiday.status_code == 403
    assert c.delete("/api/sla/policies/contract", headers=headers).status_code == 403
    every = c.put(f"/api/rules/{RULE}/overrides/*", json={"enabled": False}, headers=headers)
    assert every.status_code == 404, every.text  # "*" belongs to no site: unbound only
    assert c.delete(f"/api/rules/{RULE}/overrides/*", headers=headers).status_code == 404
    mine = c.put(f"/api/rules/{RULE}/overrides/{A}", json={"enabled": True}, headers=headers)
    assert mine.status_code == 200, mine.text
    assert c.put(f"/api/rules/{RULE}/overrides/*", json={"enabled": True}, headers=root).is_success

    for who, expected in (("school-a", [A]), ("admin-a", [A]), ("admin", [A, B])):
        listed = c.get("/api/sla/policies", headers=world.as_(who)).json()
        mapped = next(p["sites"] for p in listed if p["policy"]["id"] == "contract")
        assert sorted(mapped) == expected, who
        overrides = c.get("/api/rules/overrides", headers=world.as_(who)).json()
        assert sorted(o["site_id"] for o in overrides) == sorted(["*", *expected]), who

"""Exports read back: the CSV and the XLSX hold the period's faults (with SLA outcome),
maintenance logs and device statistics of the site asked for, nothing of another site, and
a cell that a spreadsheet would run as a formula is text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from prometheus_client import CollectorRegistry

from roomwatch.collector.api.app import create_app
from roomwatch.collector.db.session import Database
from roomwatch.collector.inventory import sync_inventory
from tests.collector.auth_support import bearer, token_for
from tests.collector.scenario_support import T0, Clock
from tests.collector.test_site_scoping import A, B, two_schools

PERIOD = {
    "start": (T0 - timedelta(days=1)).isoformat(),
    "end": (T0 + timedelta(days=1)).isoformat(),
}
HOSTILE = '=HYPERLINK("http://x","y")'


@pytest.fixture
def client(sqlite_database: Database) -> Iterator[tuple[TestClient, dict[str, str]]]:
    sync_inventory(sqlite_database, two_schools())
    clock = Clock(T0)
    app = create_app(sqlite_database, CollectorRegistry(), clock=clock)
    root = bearer(token_for(sqlite_database, "root", "admin"))
    with TestClient(app) as client:
        for room, title in (
            ("alpha-room", HOSTILE),
            ("alpha-room", "no sound"),
            ("beta-room", "x"),
        ):
            body = {"room_id": room, "level": 2, "title": title, "reporter": "+86 10 1234"}
            assert client.post("/api/faults", json=body, headers=root).status_code == 201
        fault = client.get("/api/faults", params={"room": "alpha-room"}, headers=root).json()
        first = min(f["id"] for f in fault["items"])
        log = {
            "phenomenon": "no picture",
            "cause": "-cable",
            "solution": "replaced cable",
            "engineer": "li",
            "parts_replaced": [{"name": "HDMI cable", "model": "H-2", "quantity": 2}],
        }
        response = client.put(f"/api/faults/{first}/log", json=log, headers=root)
        assert response.status_code == 200, response.text
        yield client, root


def _csv(client: TestClient, headers: dict[str, str], kind: str) -> list[dict[str, str]]:
    response = client.get(f"/api/exports/{kind}", params={**PERIOD, "site": A}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_faults_csv_holds_the_sites_faults_with_sla_and_formula_cells_as_text(client):
    http, root = client
    rows = _csv(http, root, "faults")
    assert sorted(r["title"] for r in rows) == sorted(["'" + HOSTILE, "no sound"])
    assert {r["site"] for r in rows} == {A} and {r["room"] for r in rows} == {"alpha-room"}
    assert all(r["reporter"] == "'+86 10 1234" for r in rows)
    assert all("respond" in r["sla"] for r in rows), rows  # the 7x24 default starts clocks


def test_logs_and_device_statistics_csv(client):
    http, root = client
    logs = _csv(http, root, "logs")
    assert len(logs) == 1
    assert logs[0]["cause"] == "'-cable" and logs[0]["parts_replaced"] == "HDMI cable (H-2) ×2"
    devices = _csv(http, root, "devices")
    assert {d["room"] for d in devices} == {"alpha-room"}
    assert sum(int(d["faults"]) for d in devices) == sum(int(d["L2"]) for d in devices) == 2
    assert sum(int(d["parts_replaced"]) for d in devices) == 1  # one kind of part


def test_faults_xlsx_reads_back_as_text_cells(client):
    http, root = client
    params = {**PERIOD, "site": A, "format": "xlsx"}
    response = http.get("/api/exports/faults", params=params, headers=root)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    header, *rows = list(sheet.iter_rows(values_only=True))
    titles = sorted(row[header.index("title")] for row in rows)
    assert titles == sorted([HOSTILE, "no sound"])  # the text itself, stored as a string
    cell = next(c for c in sheet["G"] if c.value == HOSTILE)
    assert cell.data_type == "s"


def test_exports_are_scoped(client, sqlite_database: Database):
    http, _root = client
    from roomwatch.collector.db import scope
    from roomwatch.collector.db.users_store import find_user

    school = bearer(token_for(sqlite_database, "school-a", "school"))
    with sqlite_database.session() as session:
        user = find_user(session, "school-a")
        assert user is not None
        scope.bind_sites(session, user, [A])
    other = http.get("/api/exports/faults", params={**PERIOD, "site": B}, headers=school)
    assert other.status_code == 404
    everything = http.get("/api/exports/faults", params=PERIOD, headers=school)
    rows = list(csv.DictReader(io.StringIO(everything.content.decode("utf-8-sig"))))
    assert {r["site"] for r in rows} == {A} and len(rows) == 2

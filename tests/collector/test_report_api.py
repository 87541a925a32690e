"""The inspection report through the API and the ``roomwatch report`` command."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from roomwatch.collector.api.app import create_app
from roomwatch.collector.cli import main
from roomwatch.collector.db.session import Database
from tests.collector.auth_support import auth_headers
from tests.collector.conftest import sqlite_url
from tests.collector.test_report import NOW, QUARTER, ROOM_ZH, History, build_quarter_history


@pytest.fixture
def history(database: Database) -> History:
    return build_quarter_history(database)


@pytest.fixture
def clients(database: Database, history: History) -> Iterator[tuple[TestClient, TestClient]]:
    app = create_app(database, CollectorRegistry(), clock=lambda: NOW)
    viewer = TestClient(app, headers=auth_headers(database, "viewer"))
    engineer = TestClient(app, headers=auth_headers(database, "engineer", "wang"))
    with viewer, engineer:
        yield viewer, engineer


def test_generate_list_and_download(clients: tuple[TestClient, TestClient]):
    viewer, engineer = clients
    assert viewer.post("/api/reports", json={"site": "s1", "period": QUARTER}).status_code == 403
    created = engineer.post("/api/reports", json={"site": "s1", "period": QUARTER, "lang": "en"})
    assert created.status_code == 201, created.text
    report = created.json()
    assert report["params"]["period"] == "2026Q3" and report["generated_by"] == "wang"
    assert report["summary"]["spare_shortages"] == ["CAM-A", "ENC-9"]

    listed = viewer.get("/api/reports", params={"site": "s1"}).json()
    assert [r["id"] for r in listed] == [report["id"]]
    pdf = viewer.get(f"/api/reports/{report['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert "inspection-s1-2026Q3-en.pdf" in pdf.headers["content-disposition"]
    html = viewer.get(f"/api/reports/{report['id']}/html")
    assert ROOM_ZH in html.text and "full in 34 days" in html.text

    again = engineer.post(f"/api/reports/{report['id']}/regenerate")
    assert again.status_code == 201 and again.json()["regenerated_from"] == report["id"]
    assert viewer.get("/api/reports/999/pdf").status_code == 404


def _finished_job(viewer: TestClient, url: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = viewer.get(url).json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"report job {url} still {job['state']} after 120 s")


def test_a_long_generation_answers_202_and_its_job_names_the_report(
    clients: tuple[TestClient, TestClient],
):
    """A large site's report takes minutes: the request does not wait for it."""
    viewer, engineer = clients
    accepted = engineer.post(
        "/api/reports", params={"wait": 0}, json={"site": "s1", "period": QUARTER}
    )
    # A wrong site or period is said at once, not after the job queue.
    wrong = engineer.post(
        "/api/reports", params={"wait": 0}, json={"site": "nope", "period": QUARTER}
    )
    assert accepted.status_code == 202 and wrong.status_code == 404, accepted.text
    url = accepted.headers["location"]
    assert url == f"/api/reports/jobs/{accepted.json()['id']}"
    assert accepted.json()["state"] in ("queued", "running")
    assert accepted.json()["request"]["site"] == "s1" and accepted.json()["actor"] == "wang"
    job = _finished_job(viewer, url)
    assert job["state"] == "done" and job["error"] is None
    report = viewer.get(job["report_url"]).json()
    assert report["id"] == job["report_id"] and report["params"]["period"] == "2026Q3"
    assert viewer.get(f"/api/reports/{job['report_id']}/pdf").content.startswith(b"%PDF")

    assert viewer.get("/api/reports/jobs/0123456789abcdef").status_code == 404


def test_bad_requests_say_what_is_wrong(clients: tuple[TestClient, TestClient]):
    _viewer, engineer = clients
    bad = engineer.post("/api/reports", json={"site": "s1", "period": "Q3 2026"})
    assert bad.status_code == 422 and "expected a quarter" in bad.json()["detail"]
    unknown = engineer.post("/api/reports", json={"site": "nope", "period": QUARTER})
    assert unknown.status_code == 404


def test_due_schedule_checklist_goals_spares_and_advisories(
    clients: tuple[TestClient, TestClient],
):
    viewer, engineer = clients
    due = viewer.get("/api/inspections/due", params={"on": "2026-10-08"}).json()
    assert [(d["site_id"], d["period_label"], d["days_overdue"]) for d in due] == [
        ("s1", "2026Q3", 7)
    ]
    schedule = engineer.put(
        "/api/inspections/s1/schedule",
        json={"customer": "市教育局", "interval_months": 6, "anchor": "2026-01-01"},
    )
    assert schedule.status_code == 200 and schedule.json()["interval_months"] == 6
    due = viewer.get("/api/inspections/due", params={"on": "2026-10-08"}).json()
    assert [d["period_label"] for d in due] == ["2026-01-01..2026-07-01"]

    item = engineer.put(
        "/api/inspections/s1/checklist/projector_hours",
        json={
            "zh": "投影灯泡小时数 < 1900",
            "en": "Lamp hours < 1900",
            "check": {
                "kinds": ["projector"],
                "metric": "lamp_hours",
                "measure": "max",
                "op": "<",
                "value": 1900,
            },
        },
    )
    assert item.status_code == 200, item.text
    result = engineer.put(
        f"/api/inspections/s1/periods/{QUARTER}/checklist/test_recording",
        json={"status": "pass", "note": "试录 2 节课，回放正常"},
    )
    assert result.status_code == 200 and result.json()["checked_by"] == "wang"
    items = {
        i["key"]: i
        for i in viewer.get("/api/inspections/s1/checklist", params={"period": QUARTER}).json()
    }
    assert items["test_recording"]["result"]["status"] == "pass"
    assert items["projector_hours"]["automatic"]

    draft = viewer.get(f"/api/inspections/s1/periods/{QUARTER}/goals").json()
    assert not draft["edited"] and any("34" in item for item in draft["items"])
    saved = engineer.put(
        f"/api/inspections/s1/periods/{QUARTER}/goals",
        json={"items": ["更换 101 教室 UPS 电池"], "note": ""},
    )
    assert saved.json()["edited"] and saved.json()["edited_by"] == "wang"

    spare = engineer.put("/api/spares/s1/CAM-A", json={"held": 1, "used": 1})
    assert spare.status_code == 200
    assert [s["model"] for s in viewer.get("/api/spares/s1").json()][:1] == ["CAM-A"]

    advisory = engineer.put(
        "/api/advisories/RC-2026-010",
        json={"model": "ENC-9", "firmware_max": "9.9", "severity": "low", "title": "t"},
    )
    assert advisory.status_code == 200
    applied = engineer.post("/api/advisories/apply").json()
    assert applied["opened"] == [] and applied["matched"] == 2  # ENC-9 has no firmware

    report = engineer.post("/api/reports", json={"site": "s1", "period": QUARTER, "pdf": False})
    html = viewer.get(f"/api/reports/{report.json()['id']}/html").text
    assert "更换 101 教室 UPS 电池" in html and "试录 2 节课，回放正常" in html


def test_the_report_command_writes_the_pdf(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from roomwatch.collector.db.session import open_database

    db = open_database(sqlite_url(tmp_path))
    build_quarter_history(db)
    db.dispose()
    config = tmp_path / "collector.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": sqlite_url(tmp_path)}}))
    out = tmp_path / "out" / "s1-2026Q3.pdf"
    code = main(
        [
            "report",
            "--config",
            str(config),
            "--site",
            "s1",
            "--quarter",
            QUARTER,
            "--lang",
            "zh-CN",
            "--out",
            str(out),
            "--by",
            "wang",
        ]
    )
    assert code == 0
    assert out.read_bytes().startswith(b"%PDF")
    assert "archived as #1" in capsys.readouterr().out
    assert main(["report", "--config", str(config), "--due", "--on", "2026-10-08"]) == 0
    assert capsys.readouterr().out == ""  # reported now
    assert main(["report", "--config", str(config), "--site", "s1", "--out", str(out)]) == 2
    assert "--quarter or --period is required" in capsys.readouterr().err
    bad = [
        "report",
        "--config",
        str(config),
        "--site",
        "zz",
        "--quarter",
        QUARTER,
        "--out",
        str(out),
    ]
    assert main(bad) == 2
    assert "site 'zz' does not exist" in capsys.readouterr().err


def test_stopping_keeps_queued_reports_and_refuses_new_ones(
    clients: tuple[TestClient, TestClient],
):
    viewer, engineer = clients
    jobs = engineer.app.state.report_jobs  # type: ignore[attr-defined]
    body = {"site": "s1", "period": QUARTER, "pdf": False}
    running = engineer.post("/api/reports", params={"wait": 0}, json=body).json()
    deadline = time.monotonic() + 30
    while jobs.get(running["id"]).state == "queued" and time.monotonic() < deadline:
        time.sleep(0.01)
    queued = engineer.post("/api/reports", params={"wait": 0}, json=body).json()
    jobs.shutdown()
    refused = engineer.post("/api/reports", params={"wait": 0}, json=body)
    assert refused.status_code == 503 and "stopping" in refused.text
    first = _finished_job(viewer, f"/api/reports/jobs/{running['id']}")
    assert first["state"] == "done"  # the running one ends
    # The queued one waits in SQL for the next collector (tests/collector/test_report_jobs.py).
    assert viewer.get(f"/api/reports/jobs/{queued['id']}").json()["state"] == "queued"

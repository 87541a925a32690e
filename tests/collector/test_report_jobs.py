"""Report jobs in SQL: shared by the collectors of a group (PostgreSQL), kept over a restart,
taken over from a collector that died, scoped to the caller's sites; and reports asked
through the API carry the site's sign-off names and logo, as ``roomwatch report`` does."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from roomwatch.collector.api.app import create_app
from roomwatch.collector.config import CollectorConfig
from roomwatch.collector.db import report_job_store
from roomwatch.collector.db.session import Database, open_database
from roomwatch.collector.inventory import sync_inventory
from roomwatch.collector.reports.jobs import ALIVE_S, ReportJobs
from roomwatch.collector.runner import CollectorService
from tests.collector.auth_support import auth_headers, bearer
from tests.collector.conftest import postgres_database
from tests.collector.scenario_support import Clock
from tests.collector.test_report import NOW, QUARTER, build_quarter_history
from tests.collector.test_report_document import _inventory_file, _pdf_text
from tests.collector.test_site_scoping import A, B, _user, two_schools

BODY = {"site": "s1", "period": QUARTER, "lang": "en", "pdf": False}


def _jobs(app: FastAPI) -> ReportJobs:
    jobs: ReportJobs = app.state.report_jobs
    return jobs


def _finished(client: TestClient, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/reports/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"report job {job_id} still {job.get('state')} after {timeout_s} s")


@pytest.fixture
def group() -> Iterator[tuple[FastAPI, FastAPI, Database, Clock]]:
    """Two collector apps, each with its own connection pool, on one PostgreSQL database
    holding a quarter of history; neither served yet (the test starts them)."""
    clock = Clock(NOW)
    with postgres_database() as url, ExitStack() as stack:
        first, second = open_database(url), open_database(url)
        stack.callback(first.dispose)
        stack.callback(second.dispose)
        build_quarter_history(first)
        apps = [create_app(db, CollectorRegistry(), clock=clock) for db in (first, second)]
        for app in apps:
            _jobs(app).poll_s = 0.05  # an idle worker looks for others' jobs this often
        yield apps[0], apps[1], first, clock


def test_a_job_asked_of_one_collector_runs_once_and_is_seen_from_the_other(group):
    one_app, other_app, db, clock = group
    headers = auth_headers(db, "engineer", "wang")
    with (
        TestClient(one_app, headers=headers) as one,
        TestClient(other_app, headers=headers) as other,
    ):
        asked = [one.post("/api/reports", params={"wait": 0}, json=BODY) for _ in range(3)]
        assert [a.status_code for a in asked] == [202] * 3, asked[0].text
        jobs = [_finished(other, a.json()["id"]) for a in asked]
        assert [j["state"] for j in jobs] == ["done"] * 3, [j["error"] for j in jobs]
        archived = other.get("/api/reports", params={"site": "s1"}).json()
        # Each job ran once: one archived report each, none twice.
        assert sorted(r["id"] for r in archived) == sorted(j["report_id"] for j in jobs)
        runners = {_jobs(one_app).get(j["id"]).runner for j in jobs}  # type: ignore[union-attr]
        assert runners <= {_jobs(one_app).runner, _jobs(other_app).runner}
        assert {_jobs(one_app).get(j["id"]).attempts for j in jobs} == {1}  # type: ignore[union-attr]
        # A collector that runs no worker (not served) still answers 201 within ``wait``
        # when another member of the group generates the report.
        idle = TestClient(create_app(db, CollectorRegistry(), clock=clock))
        done = idle.post("/api/reports", params={"wait": 120}, json=BODY, headers=headers)
        assert done.status_code == 201 and done.json()["params"]["lang"] == "en", done.text


def test_a_job_left_running_by_a_dead_collector_is_finished_by_another(group):
    one_app, other_app, db, clock = group
    headers = auth_headers(db, "engineer", "wang")
    # The first collector queues and claims a job, then dies (nothing keeps the job alive).
    dead = _jobs(one_app)
    job = dead.submit(BODY, "wang")
    claimed = db.transact(
        lambda s: report_job_store.claim(
            s, dead.runner, clock(), clock() + timedelta(seconds=ALIVE_S)
        ),
        write=True,
    )
    assert claimed is not None and claimed.id == job.id
    with TestClient(other_app, headers=headers) as other:
        time.sleep(0.3)  # several polls of the survivor: the job is not yet taken for dead
        seen = other.get(f"/api/reports/jobs/{job.id}").json()
        assert seen["state"] == "running" and seen["report_id"] is None
        clock.now += timedelta(seconds=ALIVE_S + 1)
        finished = _finished(other, job.id)
    assert finished["state"] == "done" and finished["error"] is None, finished
    row = _jobs(other_app).get(job.id)
    assert row is not None and row.runner == _jobs(other_app).runner and row.attempts == 2


def test_a_job_abandoned_twice_fails_with_the_reason(database: Database):
    sync_inventory(database, two_schools())
    clock = Clock(NOW)
    app = create_app(database, CollectorRegistry(), clock=clock)
    client = TestClient(app, headers=auth_headers(database, "viewer"))  # not served: no worker
    job = _jobs(app).submit({"site": A, "period": "2026Q3"}, "wang")
    for runner in ("dead-1", "dead-2"):
        claimed = database.transact(
            lambda s, r=runner: report_job_store.claim(
                s, r, clock(), clock() + timedelta(seconds=60)
            ),
            write=True,
        )
        assert claimed is not None and claimed.id == job.id
        assert client.get(f"/api/reports/jobs/{job.id}").json()["state"] == "running"
        clock.now += timedelta(seconds=61)
        requeued, failed = database.transact(
            lambda s: report_job_store.recover_abandoned(s, clock()), write=True
        )
    assert (requeued, failed) == ([], [job.id])
    answer = client.get(f"/api/reports/jobs/{job.id}").json()
    assert answer["state"] == "failed" and "stopped 2 times" in answer["error"], answer


def test_a_restart_keeps_queued_jobs_and_a_stopping_collector_refuses_new_ones(
    database_url: str,
):
    db = open_database(database_url)
    build_quarter_history(db)
    headers = auth_headers(db, "engineer", "wang")
    stopping = create_app(db, CollectorRegistry(), clock=lambda: NOW)
    client = TestClient(stopping, headers=headers)  # served without its worker: it stops
    queued = client.post("/api/reports", params={"wait": 0}, json=BODY)
    assert queued.status_code == 202 and queued.json()["state"] == "queued"
    _jobs(stopping).shutdown()
    refused = client.post("/api/reports", params={"wait": 0}, json=BODY)
    assert refused.status_code == 503 and "stopping" in refused.json()["detail"]
    db.dispose()

    db = open_database(database_url)  # the collector starts again
    try:
        with TestClient(create_app(db, CollectorRegistry(), clock=lambda: NOW)) as again:
            again.headers.update(headers)
            job = _finished(again, queued.json()["id"])
            assert job["state"] == "done" and job["request"]["lang"] == "en"
            assert again.get(job["report_url"]).json()["generated_by"] == "wang"
            assert again.get("/api/reports/jobs/a%00b").status_code == 404  # not a 500
    finally:
        db.dispose()


def test_a_user_bound_to_a_site_cannot_see_another_sites_job(sqlite_database: Database):
    db = sqlite_database
    sync_inventory(db, two_schools())
    admin, engineer_a = _user(db, "root", "admin", []), _user(db, "eng-a", "engineer", [A])
    app = create_app(db, CollectorRegistry(), clock=lambda: NOW)
    client = TestClient(app)  # not served: the jobs stay queued, which is all this needs
    jobs = {
        site: client.post(
            "/api/reports",
            params={"wait": 0},
            json={"site": site, "period": "2026Q3", "pdf": False},
            headers=bearer(admin),
        ).json()["id"]
        for site in (A, B)
    }
    own = client.get(f"/api/reports/jobs/{jobs[A]}", headers=bearer(engineer_a))
    assert own.status_code == 200 and own.json()["request"]["site"] == A
    other = client.get(f"/api/reports/jobs/{jobs[B]}", headers=bearer(engineer_a))
    assert other.status_code == 404 and B not in other.text
    assert client.get(f"/api/reports/jobs/{jobs[B]}", headers=bearer(admin)).status_code == 200


def test_reports_through_the_api_carry_the_sites_sign_off_names_and_logo(tmp_path: Path):
    """The collector passes its ``inventory_file`` to the API and to its own reports."""
    inventory = _inventory_file(tmp_path)
    config = CollectorConfig.model_validate(
        {
            "database": {"url": f"sqlite:///{tmp_path / 'collector.db'}"},
            "tsdb": {"enabled": False},
            "inventory_file": str(inventory),
        }
    )
    service = CollectorService(config, clock=lambda: NOW)
    try:
        build_quarter_history(service.db)
        headers = auth_headers(service.db, "engineer", "wang")
        with TestClient(service.app(), headers=headers) as client:
            body = {"site": "s1", "period": QUARTER, "lang": "zh-CN"}
            created = client.post("/api/reports", params={"wait": 120}, json=body)
            assert created.status_code == 201, created.text
            pdf = client.get(f"/api/reports/{created.json()['id']}/pdf").content
            html = client.get(f"/api/reports/{created.json()['id']}/html").text
        flat, _path, _lines = _pdf_text(pdf, "api-signed-report-zh-CN.pdf")
        for name in ("李校长", "华南录播系统集成有限公司", "王工"):
            assert name in flat, name
        assert 'src="data:image/png;base64,' in html  # the logo
        own = service.reports.generate("s1", QUARTER, "en", "sched", pdf=False, archive=False)
        assert "李校长" in own.html and "华南录播系统集成有限公司" in own.html
    finally:
        service.db.dispose()

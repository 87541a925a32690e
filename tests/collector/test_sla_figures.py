"""Honest SLA figures, through the real life cycle, SLA engine and database (SQLite and
PostgreSQL): a fault that cleared by itself before anyone responded is "cleared before
response" in the statistics API and in the report — not a met clock, not a response time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from roomwatch.collector.api.app import create_app
from roomwatch.collector.db.session import Database
from roomwatch.collector.maintenance import MaintenanceCalendar
from roomwatch.collector.reports.build import build_report
from roomwatch.collector.reports.period import parse_period
from roomwatch.collector.reports.render import render_html
from roomwatch.collector.sla.service import SlaService
from roomwatch.collector.workflow import LogEntry, Workflow
from roomwatch.collector.workflow.hooks import ServiceHooks
from tests.collector.auth_support import auth_headers
from tests.collector.sla_support import FakeClock, cst, load_shipped, new_fault

OPENED = cst(2025, 9, 2, 10)  # 7x24 L1: respond 30 min, on site 2 h, fix 8 h
NOW = cst(2025, 10, 8, 10)
LOG = LogEntry(
    phenomenon="Camera 1 unreachable.",
    cause="Loose patch cable at the switch.",
    solution="Reseated the cable.",
    engineer="Li Wei",
)


@dataclass
class Quarter:
    db: Database
    client: TestClient
    viewer: dict[str, str]


def _history(db: Database) -> None:
    """Three L1 faults of room r1: one cleared by itself after 1 minute, one cleared by
    itself after 45 minutes (its respond clock breached first), one an engineer answered
    after 10 minutes and fixed within the hour."""
    clock = FakeClock(OPENED)
    sla = SlaService(clock=clock)
    workflow = Workflow(hooks=ServiceHooks(sla), calendar=MaintenanceCalendar())
    with db.session() as session:
        blip = new_fault(session, 1, OPENED, n=1)
        late_blip = new_fault(session, 1, OPENED, n=2)
        handled = new_fault(session, 1, OPENED, n=3)
        for fault in (blip, late_blip, handled):
            sla.start_clocks(session, fault, OPENED)
        workflow.auto_resolve(session, blip, OPENED + timedelta(minutes=1), "cleared")
        workflow.transition(
            session, handled, "acknowledged", "li.wei", OPENED + timedelta(minutes=10)
        )
        sla.due_escalations(session, OPENED + timedelta(minutes=31))
        workflow.auto_resolve(session, late_blip, OPENED + timedelta(minutes=45), "cleared")
        workflow.transition(
            session, handled, "resolved", "li.wei", OPENED + timedelta(minutes=50), log=LOG
        )
        # An engineer closes the blip later with a log: that is no response to it.
        workflow.transition(session, blip, "closed", "li.wei", OPENED + timedelta(days=1), log=LOG)


@pytest.fixture
def quarter(placed_database: Database) -> Iterator[Quarter]:
    load_shipped(placed_database, OPENED)
    _history(placed_database)
    app = create_app(placed_database, CollectorRegistry(), clock=FakeClock(NOW))
    with TestClient(app) as client:
        yield Quarter(placed_database, client, auth_headers(placed_database, "viewer"))


def test_the_statistics_api_counts_self_cleared_faults_apart(quarter: Quarter):
    answer = quarter.client.get("/api/sla/statistics?site=s1&period=2025Q3", headers=quarter.viewer)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    clocks = {c["kind"]: c for c in body["clocks"]}
    assert clocks["respond"] == {
        "kind": "respond",
        "met": 1,  # the engineer's 10 minutes
        "breached": 1,  # nobody answered the second fault within 30 minutes
        "running": 0,
        "cleared": 1,  # the one-minute blip: nobody was measured
        "met_rate": 0.5,
    }
    assert (clocks["fix"]["met"], clocks["fix"]["cleared"], clocks["fix"]["met_rate"]) == (
        1,
        2,
        1.0,
    )
    [l1] = [x for x in body["levels"] if x["level"] == 1]
    assert l1["opened"] == 3 and l1["cleared_before_response"] == 2
    assert l1["mean_respond_min"] == pytest.approx(10)
    assert l1["mean_fix_min"] == pytest.approx(50)
    bad = quarter.client.get("/api/sla/statistics?site=s1&period=soon", headers=quarter.viewer)
    assert bad.status_code == 422
    unknown = quarter.client.get(
        "/api/sla/statistics?site=nowhere&period=2025Q3", headers=quarter.viewer
    )
    assert unknown.status_code == 404


def test_the_report_says_cleared_before_response_in_both_languages(quarter: Quarter):
    period = parse_period("2025Q3", "Asia/Shanghai")
    pages = {}
    with quarter.db.session() as session:
        for language in ("en", "zh-CN"):
            report = build_report(session, "s1", period, language, NOW)
            pages[language] = render_html(report, language)
    lines = {f.title: f for f in report.faults.faults}
    blip = lines["device 1 unreachable"]
    assert blip.cleared_before_response and blip.respond_min is None and blip.fix_min is None
    assert blip.clocks == {"respond": "cleared", "on_site": "cleared", "fix": "cleared"}
    assert lines["device 2 unreachable"].clocks["respond"] == "breached"
    assert lines["device 3 unreachable"].respond_min == pytest.approx(10)
    respond = next(c for c in report.faults.clocks if c.kind == "respond")
    assert (respond.met, respond.breached, respond.cleared) == (1, 1, 1)
    assert "Cleared before response" in pages["en"] and "50.0 %" in pages["en"]
    assert "响应前已自行恢复" in pages["zh-CN"]

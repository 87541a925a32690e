"""Spares that count themselves: a maintenance log's spares leave the stock of their model at
the fault's site, editing or deleting the log moves only the difference, a model below its
quota (ceil 15 % of procured) has one L4 fault that the project lead hears of, and a
restock resolves it. Through the API, the real workflow and SLA service, on SQLite and
PostgreSQL, on the injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from roomwatch.collector.api.app import create_app
from roomwatch.collector.config import CollectorConfig
from roomwatch.collector.db import faults_store, sla_store
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.session import Database
from roomwatch.collector.db.sla_models import OutboxMessage
from roomwatch.collector.inventory import Inventory, sync_inventory
from roomwatch.collector.levels import Level
from roomwatch.collector.maintenance import MaintenanceCalendar
from roomwatch.collector.runner import CollectorService
from roomwatch.collector.sla.policies import ContactDoc
from roomwatch.collector.sla.service import SlaService
from roomwatch.collector.workflow import ManualFault, ServiceHooks, Workflow
from tests.collector.auth_support import auth_headers
from tests.collector.sla_support import FakeClock, cst, load_shipped

START = cst(2026, 3, 2, 9)
MODEL = "PTZ-7"
CAMERAS = 7  # quota = ceil(0.15 * 7) = 2


INVENTORY = {
    "sites": [
        {
            "id": "s1",
            "name": "First School",
            "timezone": "Asia/Shanghai",
            "rooms": [
                {
                    "id": "r1",
                    "name": "Room 101",
                    "devices": [
                        {"id": f"cam{n}", "kind": "camera", "model": MODEL} for n in range(CAMERAS)
                    ],
                }
            ],
        },
        {"id": "s2", "name": "Other School", "rooms": [{"id": "r9", "name": "R9"}]},
    ]
}


def _inventory() -> Inventory:
    return Inventory.model_validate(INVENTORY)


@dataclass
class Setup:
    db: Database
    clock: FakeClock
    client: TestClient
    fault_id: int


@pytest.fixture
def setup(database: Database) -> Iterator[Setup]:
    clock = FakeClock(START)
    sync_inventory(database, _inventory())
    load_shipped(database, clock.now)
    with database.session() as session:
        sla_store.put_contact(
            session, ContactDoc(name="duty", role="engineer_on_duty", email="duty@example.cn")
        )
        sla_store.put_contact(
            session, ContactDoc(name="lead", role="project_lead", email="lead@example.cn")
        )
    workflow = Workflow(hooks=ServiceHooks(SlaService(clock=clock)), calendar=MaintenanceCalendar())
    with database.session() as session:
        fault = workflow.create_manual(
            session,
            ManualFault(
                room_id="r1", device="cam1", level=Level.L1, title="No video", reporter="t"
            ),
            "wang",
            clock.now,
        )
        fault_id = fault.id
    app = create_app(database, CollectorRegistry(), workflow=workflow, clock=clock)
    with TestClient(app, headers=auth_headers(database, "engineer", "wang")) as client:
        yield Setup(database, clock, client, fault_id)


def _log(spares: int) -> dict:
    used = [{"name": "PTZ camera", "model": MODEL, "quantity": spares}] if spares else []
    return {
        "phenomenon": "No picture",
        "cause": "Camera board failed",
        "solution": "Swapped for a spare",
        "engineer": "wang",
        "parts_replaced": [{"name": "PTZ camera", "model": MODEL, "serial": "X1"}],
        "spares_used": used,
    }


def _line(s: Setup) -> dict:
    lines = s.client.get("/api/spares/s1/quota").json()
    return next(line for line in lines if line["model"] == MODEL)


def _spare_faults(s: Setup) -> list[Fault]:
    with s.db.session() as session:
        rows = session.scalars(
            select(Fault).where(Fault.rule_id == "spare_stock_low").order_by(Fault.id)
        ).all()
        session.expunge_all()
        return list(rows)


def _put_log(s: Setup, spares: int) -> None:
    s.clock.advance(timedelta(minutes=5))
    answer = s.client.put(f"/api/faults/{s.fault_id}/log", json=_log(spares))
    assert answer.status_code == 200, answer.text


def test_spares_used_in_a_log_move_the_stock_and_the_quota_fault(setup: Setup):
    s = setup
    assert s.client.put(f"/api/spares/s1/{MODEL}", json={"held": 2}).status_code == 200
    line = _line(s)
    assert (line["procured"], line["quota"], line["held"], line["short"]) == (7, 2, 2, False)

    _put_log(s, 1)  # one spare taken: 1 held < 2 required
    line = _line(s)
    assert (line["held"], line["used"], line["short"]) == (1, 1, True)
    (fault,) = _spare_faults(s)
    assert fault.level == Level.L4 and fault.status == "open" and line["fault_id"] == fault.id
    assert fault.room_id == "r1" and fault.evidence["extra"]["quota"] == 2
    assert MODEL in fault.title and "1 held, 2 required" in fault.title
    with s.db.session() as session:
        told = session.scalars(
            select(OutboxMessage.recipient).where(OutboxMessage.fault_id == fault.id)
        ).all()
    assert "lead@example.cn" in told  # the project lead hears of the shortage

    _put_log(s, 1)  # saved again unchanged: nothing taken twice, still one fault
    assert (_line(s)["held"], len(_spare_faults(s))) == (1, 1)

    _put_log(s, 3)  # more than in stock: accepted, stock stops at 0, the rest is a warning
    line = _line(s)
    assert (line["held"], line["used"]) == (0, 2)
    with s.db.session() as session:
        log_fault = faults_store.get_fault(session, s.fault_id)
        short = [e.detail for e in log_fault.events if e.type == "spares_short"]
    assert short == [{"site": "s1", "missing": {MODEL: 1}}]
    (fault,) = _spare_faults(s)
    assert fault.status == "open" and fault.evidence["extra"]["held"] == 0

    s.clock.advance(timedelta(minutes=5))  # deleted: the two taken go back, back at quota
    assert s.client.delete(f"/api/faults/{s.fault_id}/log").status_code == 204
    line = _line(s)
    assert (line["held"], line["used"], line["short"], line["fault_id"]) == (2, 0, False, None)
    (fault,) = _spare_faults(s)
    assert fault.status == "resolved"

    _put_log(s, 1)  # short again: a new incident, a new fault
    faults = _spare_faults(s)
    assert [f.status for f in faults] == ["resolved", "open"]

    s.clock.advance(timedelta(minutes=5))
    restocked = s.client.post(f"/api/spares/s1/{MODEL}/restock", json={"quantity": 1})
    assert restocked.status_code == 200, restocked.text
    assert restocked.json()["held"] == 2 and restocked.json()["resolved"] == [faults[1].id]
    assert [f.status for f in _spare_faults(s)] == ["resolved", "resolved"]

    moves = s.client.get("/api/spares/s1/movements", params={"model": MODEL}).json()
    assert [m["reason"] for m in reversed(moves)] == [
        "count", "taken", "taken", "returned", "taken", "restock",
    ]  # fmt: skip
    assert sum(m["delta"] for m in moves) == 2


def test_a_model_not_stocked_is_not_watched_and_other_sites_do_not_see_it(setup: Setup):
    s = setup
    _put_log(s, 1)  # no stock row for the model: nothing to take, said as a warning
    assert s.client.get("/api/spares/s1/quota").json() == []
    assert _spare_faults(s) == []
    with s.db.session() as session:
        events = [e.type for e in faults_store.get_fault(session, s.fault_id).events]
    assert "spares_short" in events
    bad = s.client.post(f"/api/spares/s1/{MODEL}/restock", json={"quantity": 0})
    assert bad.status_code == 422
    assert s.client.post("/api/spares/nope/X/restock", json={"quantity": 1}).status_code == 404


def test_the_collectors_site_rule_file_decides_when_the_spare_fault_opens(tmp_path: Path):
    """The collector's rule files reach the spare quota as they reach every other rule: a
    site whose file tolerates one spare short and calls a shortage L3 gets no fault at one
    short, and an L3 one at two."""
    rules = tmp_path / "site-rules.yaml"
    override = {"id": "spare_stock_low", "level": 3, "when": {"op": ">", "value": 1}}
    rules.write_text(yaml.safe_dump({"overrides": [override]}))
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(INVENTORY))
    config = CollectorConfig.model_validate(
        {
            "database": {"url": f"sqlite:///{tmp_path / 'collector.db'}"},
            "tsdb": {"enabled": False},
            "inventory_file": str(inventory),
            "faults": {"rules_files": [str(rules)]},
        }
    )
    clock = FakeClock(START)
    service = CollectorService(config, clock=clock)
    try:
        headers = auth_headers(service.db, "engineer", "wang")
        with TestClient(service.app(), headers=headers) as client:
            assert client.put(f"/api/spares/s1/{MODEL}", json={"held": 2}).status_code == 200
            body = {"room_id": "r1", "level": 1, "title": "No video", "reporter": "t"}
            reported = client.post("/api/faults", json=body)
            assert reported.status_code == 201, reported.text
            s = Setup(service.db, clock, client, reported.json()["id"])

            _put_log(s, 1)  # one spare taken: one short of the quota of 2
            line = _line(s)
            assert (line["held"], line["short"], line["fault_id"]) == (1, True, None)
            assert _spare_faults(s) == []

            s.clock.advance(timedelta(minutes=5))  # counted: none left, two short
            assert client.put(f"/api/spares/s1/{MODEL}", json={"held": 0}).status_code == 200
            (fault,) = _spare_faults(s)
            assert (fault.level, fault.status, _line(s)["fault_id"]) == (Level.L3, "open", fault.id)
    finally:
        service.db.dispose()

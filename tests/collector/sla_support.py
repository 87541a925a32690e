"""Helpers of the SLA and notification tests: Beijing time, a settable clock, faults."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from roomwatch.collector.db import sla_store
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.session import Database
from roomwatch.collector.sla.policies import ContactDoc, shipped_policies

CST = ZoneInfo("Asia/Shanghai")


def cst(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CST)


class FakeClock:
    """The injected clock: tests set and advance it, nothing sleeps."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


def load_shipped(db: Database, at: datetime) -> None:
    with db.session() as session:
        sla_store.sync_policy_file(session, shipped_policies(), at, authoritative=False)


def new_fault(session: Session, level: int, at: datetime, room: str = "r1", n: int = 1) -> Fault:
    fault = Fault(
        rule_id="test.rule",
        target=f"{room}/dev{n}",
        open_key=f"test.rule|{room}/dev{n}",
        room_id=room,
        level=level,
        status="open",
        title=f"device {n} unreachable",
        description="",
        opened_at=at,
        last_seen_at=at,
        fire_count=1,
        evidence={},
    )
    session.add(fault)
    session.flush()
    return fault


CHAIN = [
    ContactDoc(name="Wang Duty", role="engineer_on_duty", email="duty@example.edu.cn"),
    ContactDoc(
        name="Li Lead", role="project_lead", email="lead@example.edu.cn", channels=["ops-hook"]
    ),
    ContactDoc(name="Zhao Senior", role="senior_engineer", email="senior@example.edu.cn"),
    ContactDoc(name="Chen Boss", role="management", email="boss@example.edu.cn"),
]


def add_chain(db: Database) -> None:
    with db.session() as session:
        for contact in CHAIN:
            sla_store.put_contact(session, contact)

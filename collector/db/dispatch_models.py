"""SQL schema of dispatch (on the shared ``Base``; migration ``0009_dispatch``): the duty
roster of each site and the record of each site's pre-class readiness check."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from roomwatch.collector.db.models import Base


class DutyShift(Base):
    """Who is on duty at a site when: ``weekdays`` (mon..sun) with a local time range, or a
    date override (``day`` set, ``weekdays`` empty) that wins over the weekly plan for the
    hours it covers. ``start_hm`` >= ``end_hm`` runs past midnight into the next day.
    ``person`` is a username (what a fault's assignee holds); ``contact_id`` the SLA
    contact the person is reached through."""

    __tablename__ = "duty_shifts"
    __table_args__ = (Index("ix_duty_shift_site_day", "site_id", "day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    person: Mapped[str] = mapped_column(String(100))
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("sla_contacts.id", ondelete="SET NULL")
    )
    label: Mapped[str] = mapped_column(String(64), default="")
    weekdays: Mapped[list[Any]] = mapped_column(JSON, default=list)
    day: Mapped[date | None] = mapped_column(Date)
    start_hm: Mapped[str] = mapped_column(String(5))
    end_hm: Mapped[str] = mapped_column(String(5))
    note: Mapped[str] = mapped_column(Text, default="")


class ReadinessRun(Base):
    """One site's pre-class readiness check of one school day: written in the transaction
    that enqueues its message, so a restart never sends it twice."""

    __tablename__ = "readiness_runs"
    site_id: Mapped[str] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    ran_at: Mapped[datetime]
    not_ready: Mapped[int] = mapped_column(Integer)
    rooms: Mapped[list[Any]] = mapped_column(JSON, default=list)
    recipients: Mapped[int] = mapped_column(Integer, default=0)

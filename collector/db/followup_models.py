"""SQL tables of the plan's follow-through (issue 14): the spare stock ledger, inspection
reminders sent, the school's confirmation of an inspection's checklist, and the return
visits (回访) and training sessions recorded per site."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from roomwatch.collector.db.models import Base

MOVEMENT_REASONS = ("taken", "returned", "restock", "count")
VISIT_KINDS = ("return_visit", "training")


class SpareMovement(Base):
    """One change of a site's stock of one model: taken by a fault's maintenance log (negative),
    given back when a log is edited or deleted, restocked, or set by a count. The sum of a
    fault's movements is what its log took from stock, so editing the log again never counts
    twice."""

    __tablename__ = "spare_movements"
    __table_args__ = (
        Index("ix_spare_movements_site_model", "site_id", "model"),
        Index("ix_spare_movements_fault", "fault_id"),
        CheckConstraint("reason IN ('taken', 'returned', 'restock', 'count')", name="reason"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    model: Mapped[str] = mapped_column(String(200))
    delta: Mapped[int] = mapped_column(Integer, doc="+ into stock, - out of it")
    reason: Mapped[str] = mapped_column(String(16))
    fault_id: Mapped[int | None] = mapped_column(ForeignKey("faults.id"))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")


class InspectionReminder(Base):
    """The reminder of one site's inspection period, sent once (a restart does not repeat it)."""

    __tablename__ = "inspection_reminders"
    __table_args__ = (UniqueConstraint("site_id", "period_start", name="uq_inspection_reminder"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    period_start: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime]
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)


class ChecklistConfirmation(Base):
    """The school confirmed the checklist of one inspection period: who (the school's
    representative) and when, and the account that entered it."""

    __tablename__ = "inspection_confirmations"
    __table_args__ = (
        UniqueConstraint("site_id", "period_start", name="uq_inspection_confirmation"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    period_start: Mapped[date] = mapped_column(Date)
    confirmed_by: Mapped[str] = mapped_column(String(100))
    confirmed_at: Mapped[datetime]
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_role: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


class SiteVisit(Base):
    """A return visit (回访, once per semester) or a training session held at a site."""

    __tablename__ = "site_visits"
    __table_args__ = (
        Index("ix_site_visits_site_day", "site_id", "held_on"),
        CheckConstraint("kind IN ('return_visit', 'training')", name="kind"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    kind: Mapped[str] = mapped_column(String(16))
    held_on: Mapped[date] = mapped_column(Date)
    people: Mapped[list[str]] = mapped_column(JSON, default=list)
    topics: Mapped[str] = mapped_column(Text, default="")
    issues: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime]

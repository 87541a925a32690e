"""SQL tables of the inspection report (issue 7): schedules, checklist items and results,
spare stock, vendor advisories, archived reports and the next period's goals.

Shipped checklist defaults live in ``collector/reports/checklist.yaml``; rows of
``inspection_checklist_items`` are a site's own items and overrides of the defaults (same
``key``), agreed with the customer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from roomwatch.collector.db.models import Base


class InspectionSchedule(Base):
    """How often a site (a customer's school) is inspected. Sites without a row get the
    plan's default: calendar quarters."""

    __tablename__ = "inspection_schedules"
    __table_args__ = (CheckConstraint("interval_months BETWEEN 1 AND 12", name="interval"),)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    customer: Mapped[str | None] = mapped_column(String(200))
    interval_months: Mapped[int] = mapped_column(Integer, default=3)
    anchor: Mapped[date] = mapped_column(Date, doc="first day of some inspection period")
    lead_days: Mapped[int] = mapped_column(Integer, default=14, doc="due this early")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    engineer: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime]


class ChecklistItem(Base):
    """A site's checklist item, or its override of a shipped default with the same key."""

    __tablename__ = "inspection_checklist_items"
    __table_args__ = (UniqueConstraint("site_id", "key", name="uq_checklist_item_site_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    key: Mapped[str] = mapped_column(String(64))
    title_zh: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    check: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, doc="automatic check over rollups; NULL = filled in by the engineer"
    )
    position: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class ChecklistResult(Base):
    """What the engineer recorded on site for one item of one inspection period.

    An entry for an automatic item overrides the automatic verdict (with its note)."""

    __tablename__ = "inspection_checklist_results"
    __table_args__ = (
        UniqueConstraint("site_id", "period_start", "item_key", name="uq_checklist_result"),
        CheckConstraint("status IN ('pass', 'fail', 'n/a')", name="status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    period_start: Mapped[date] = mapped_column(Date)
    item_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))
    value: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    checked_by: Mapped[str] = mapped_column(String(100))
    checked_at: Mapped[datetime]


class SpareStock(Base):
    """Spares of one model kept for a site: held now, and used so far."""

    __tablename__ = "spare_stock"
    __table_args__ = (
        UniqueConstraint("site_id", "model", name="uq_spare_stock_site_model"),
        CheckConstraint("held >= 0 AND used >= 0", name="counts"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    model: Mapped[str] = mapped_column(String(200))
    held: Mapped[int] = mapped_column(Integer, default=0)
    used: Mapped[int] = mapped_column(Integer, default=0)
    location: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class VendorAdvisory(Base):
    """A vendor's bug notice for a model and a firmware range (bounds inclusive, NULL =
    open). Matching devices get an L4 fault (rule ``vendor_advisory``)."""

    __tablename__ = "vendor_advisories"
    __table_args__ = (
        UniqueConstraint("code", name="uq_vendor_advisories_code"),
        CheckConstraint("severity IN ('low', 'medium', 'high', 'critical')", name="severity"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), doc="the vendor's id, e.g. RC-2026-004")
    vendor: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str] = mapped_column(String(200))
    firmware_min: Mapped[str | None] = mapped_column(String(64))
    firmware_max: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(Text, default="", doc="what the vendor recommends")
    url: Mapped[str | None] = mapped_column(String(500))
    published: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class InspectionGoals(Base):
    """The next period's work and goals, as the engineer edited them for one report period."""

    __tablename__ = "inspection_goals"
    __table_args__ = (UniqueConstraint("site_id", "period_start", name="uq_inspection_goals"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    period_start: Mapped[date] = mapped_column(Date)
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    edited_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]


class ArchivedReport(Base):
    """A generated inspection report: its parameters (to regenerate it), a summary, the
    HTML and the PDF as delivered."""

    __tablename__ = "inspection_reports"
    __table_args__ = (
        Index("ix_inspection_reports_site_period", "site_id", "period_start"),
        CheckConstraint("lang IN ('zh-CN', 'en')", name="lang"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    period_label: Mapped[str] = mapped_column(String(32))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date, doc="exclusive")
    lang: Mapped[str] = mapped_column(String(8))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    generated_at: Mapped[datetime]
    generated_by: Mapped[str] = mapped_column(String(100))
    html: Mapped[str] = mapped_column(Text)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    regenerated_from: Mapped[int | None] = mapped_column(ForeignKey("inspection_reports.id"))


# The follow-through tables (spare ledger, reminders, confirmations, visits) sit beside these.
from roomwatch.collector.db import followup_models as _followup_models  # noqa: E402,F401

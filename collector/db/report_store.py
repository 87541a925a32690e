"""SQL of the inspection report's own tables: schedules, checklist items and results, spare
stock, vendor advisories, goals and archived reports. Reads of rollups and faults for a
report are in ``report_queries``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from roomwatch.collector.db.models import Site
from roomwatch.collector.db.report_models import (
    ArchivedReport,
    ChecklistItem,
    ChecklistResult,
    InspectionGoals,
    InspectionSchedule,
    SpareStock,
    VendorAdvisory,
)
from roomwatch.collector.db.scope import EVERY_SITE, SiteScope, narrow
from roomwatch.collector.errors import NotFoundError


def require_site(session: Session, site_id: str) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFoundError(f"site {site_id!r} does not exist")
    return site


def all_sites(session: Session) -> Sequence[Site]:
    return session.scalars(select(Site).order_by(Site.id)).all()


# --- schedules ------------------------------------------------------------------------------


def get_schedule(session: Session, site_id: str) -> InspectionSchedule | None:
    return session.get(InspectionSchedule, site_id)


def schedules(session: Session) -> dict[str, InspectionSchedule]:
    return {row.site_id: row for row in session.scalars(select(InspectionSchedule))}


def put_schedule(session: Session, site_id: str, at: datetime, **fields: Any) -> InspectionSchedule:
    require_site(session, site_id)
    row = session.get(InspectionSchedule, site_id)
    if row is None:
        row = InspectionSchedule(site_id=site_id, updated_at=at, **fields)
        session.add(row)
    else:
        for name, value in fields.items():
            setattr(row, name, value)
        row.updated_at = at
    session.flush()
    return row


def reported_periods(session: Session) -> set[tuple[str, date]]:
    """(site, period start) of every archived report."""
    rows = session.execute(select(ArchivedReport.site_id, ArchivedReport.period_start).distinct())
    return {(site, start) for site, start in rows}


# --- checklist ------------------------------------------------------------------------------


def checklist_items(session: Session, site_id: str) -> Sequence[ChecklistItem]:
    query = select(ChecklistItem).where(ChecklistItem.site_id == site_id)
    return session.scalars(query.order_by(ChecklistItem.position, ChecklistItem.key)).all()


def put_checklist_item(session: Session, site_id: str, key: str, **fields: Any) -> ChecklistItem:
    require_site(session, site_id)
    query = select(ChecklistItem).where(ChecklistItem.site_id == site_id, ChecklistItem.key == key)
    row = session.scalar(query)
    if row is None:
        row = ChecklistItem(site_id=site_id, key=key, **fields)
        session.add(row)
    else:
        for name, value in fields.items():
            setattr(row, name, value)
    session.flush()
    return row


def checklist_results(
    session: Session, site_id: str, period_start: date
) -> dict[str, ChecklistResult]:
    query = select(ChecklistResult).where(
        ChecklistResult.site_id == site_id, ChecklistResult.period_start == period_start
    )
    return {row.item_key: row for row in session.scalars(query)}


def put_checklist_result(
    session: Session, site_id: str, period_start: date, item_key: str, **fields: Any
) -> ChecklistResult:
    require_site(session, site_id)
    row = checklist_results(session, site_id, period_start).get(item_key)
    if row is None:
        row = ChecklistResult(
            site_id=site_id, period_start=period_start, item_key=item_key, **fields
        )
        session.add(row)
    else:
        for name, value in fields.items():
            setattr(row, name, value)
    session.flush()
    return row


# --- spares ---------------------------------------------------------------------------------


def spare_stock(session: Session, site_id: str) -> dict[str, SpareStock]:
    query = select(SpareStock).where(SpareStock.site_id == site_id)
    return {row.model: row for row in session.scalars(query)}


def put_spare_stock(
    session: Session, site_id: str, model: str, at: datetime, **fields: Any
) -> SpareStock:
    require_site(session, site_id)
    row = spare_stock(session, site_id).get(model)
    if row is None:
        row = SpareStock(site_id=site_id, model=model, updated_at=at, **fields)
        session.add(row)
    else:
        for name, value in fields.items():
            setattr(row, name, value)
        row.updated_at = at
    session.flush()
    return row


# --- advisories -----------------------------------------------------------------------------


# A PostgreSQL advisory lock key of roomwatch's own: matching vendor advisories.
ADVISORY_MATCHING_LOCK = 0x61647669  # "advi"


def lock_advisory_matching(session: Session) -> None:
    """Serialise matching advisories against devices until the transaction ends: members of
    a group generating reports at once would otherwise both open a device's advisory fault
    (the second failing on the one-open-fault constraint). SQLite has one writer already."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(ADVISORY_MATCHING_LOCK)))


def advisories(session: Session, active_only: bool = False) -> Sequence[VendorAdvisory]:
    query = select(VendorAdvisory).order_by(VendorAdvisory.code)
    if active_only:
        query = query.where(VendorAdvisory.active.is_(True))
    return session.scalars(query).all()


def put_advisory(session: Session, code: str, at: datetime, **fields: Any) -> VendorAdvisory:
    row = session.scalar(select(VendorAdvisory).where(VendorAdvisory.code == code))
    if row is None:
        row = VendorAdvisory(code=code, created_at=at, **fields)
        session.add(row)
    else:
        for name, value in fields.items():
            setattr(row, name, value)
    session.flush()
    return row


# --- goals ----------------------------------------------------------------------------------


def get_goals(session: Session, site_id: str, period_start: date) -> InspectionGoals | None:
    query = select(InspectionGoals).where(
        InspectionGoals.site_id == site_id, InspectionGoals.period_start == period_start
    )
    return session.scalar(query)


def put_goals(
    session: Session,
    site_id: str,
    period_start: date,
    items: list[str],
    note: str,
    edited_by: str,
    at: datetime,
) -> InspectionGoals:
    require_site(session, site_id)
    row = get_goals(session, site_id, period_start)
    if row is None:
        row = InspectionGoals(site_id=site_id, period_start=period_start)
        session.add(row)
    row.items = list(items)
    row.note = note
    row.edited_by = edited_by
    row.updated_at = at
    session.flush()
    return row


# --- archived reports -----------------------------------------------------------------------


def archive_report(session: Session, **fields: Any) -> ArchivedReport:
    row = ArchivedReport(**fields)
    session.add(row)
    session.flush()
    return row


def get_report(session: Session, report_id: int, with_content: bool = True) -> ArchivedReport:
    options = [] if with_content else [defer(ArchivedReport.html), defer(ArchivedReport.pdf)]
    row = session.get(ArchivedReport, report_id, options=options)
    if row is None:
        raise NotFoundError(f"report {report_id} does not exist")
    return row


def list_reports(
    session: Session,
    site_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
    sites: SiteScope = EVERY_SITE,
) -> Sequence[ArchivedReport]:
    """Archived reports (of the ``sites`` in scope), newest first, without HTML and PDF."""
    query = select(ArchivedReport).options(defer(ArchivedReport.html), defer(ArchivedReport.pdf))
    query = narrow(query, ArchivedReport.site_id, sites)
    if site_id is not None:
        query = query.where(ArchivedReport.site_id == site_id)
    query = query.order_by(ArchivedReport.generated_at.desc(), ArchivedReport.id.desc())
    return session.scalars(query.limit(limit).offset(offset)).all()

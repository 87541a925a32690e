"""SQL of the plan's follow-through: return visits and training sessions per site, the
school's confirmation of an inspection's checklist, and the inspection reminders sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from roomwatch.collector.db.followup_models import (
    ChecklistConfirmation,
    InspectionReminder,
    SiteVisit,
)
from roomwatch.collector.errors import NotFoundError


def add_visit(session: Session, site_id: str, **fields: Any) -> SiteVisit:
    row = SiteVisit(site_id=site_id, **fields)
    session.add(row)
    session.flush()
    return row


def visits(
    session: Session,
    site_id: str,
    kind: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Sequence[SiteVisit]:
    """A site's visits (of ``kind``) held in [start, end), oldest first."""
    query = select(SiteVisit).where(SiteVisit.site_id == site_id)
    if kind is not None:
        query = query.where(SiteVisit.kind == kind)
    if start is not None:
        query = query.where(SiteVisit.held_on >= start)
    if end is not None:
        query = query.where(SiteVisit.held_on < end)
    return session.scalars(query.order_by(SiteVisit.held_on, SiteVisit.id)).all()


def delete_visit(session: Session, site_id: str, visit_id: int) -> None:
    row = session.get(SiteVisit, visit_id)
    if row is None or row.site_id != site_id:
        raise NotFoundError(f"visit {visit_id} does not exist")
    session.delete(row)
    session.flush()


def confirmation(
    session: Session, site_id: str, period_start: date
) -> ChecklistConfirmation | None:
    query = select(ChecklistConfirmation).where(
        ChecklistConfirmation.site_id == site_id,
        ChecklistConfirmation.period_start == period_start,
    )
    return session.scalar(query)


def put_confirmation(
    session: Session, site_id: str, period_start: date, **fields: Any
) -> ChecklistConfirmation:
    """Record (or replace) who confirmed the period's checklist for the school."""
    row = confirmation(session, site_id, period_start)
    if row is None:
        row = ChecklistConfirmation(site_id=site_id, period_start=period_start)
        session.add(row)
    for name, value in fields.items():
        setattr(row, name, value)
    session.flush()
    return row


def reminded(session: Session) -> set[tuple[str, date]]:
    """(site, period start) of every reminder sent."""
    rows = session.execute(select(InspectionReminder.site_id, InspectionReminder.period_start))
    return {(site, start) for site, start in rows}


def record_reminder(
    session: Session, site_id: str, period_start: date, due_on: date, at: datetime,
    recipients: list[str],
) -> bool:  # fmt: skip
    """Remember that the period's reminder went out; False when another writer did first."""
    row = InspectionReminder(
        site_id=site_id, period_start=period_start, due_on=due_on, sent_at=at,
        recipients=recipients,
    )  # fmt: skip
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True

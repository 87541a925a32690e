"""The plan's follow-through in the report: return visits (回访) and training sessions held
in the period, and the school's confirmation of the checklist."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from roomwatch.collector.db import followup_store
from roomwatch.collector.reports.model import ChecklistConfirmed, VisitLine
from roomwatch.collector.reports.period import Period


@dataclass(frozen=True)
class FollowUp:
    return_visits: list[VisitLine]
    trainings: list[VisitLine]
    confirmation: ChecklistConfirmed | None


def follow_up_of(session: Session, site_id: str, period: Period) -> FollowUp:
    """The period's visits and trainings, and the checklist confirmation, of a site."""
    held = followup_store.visits(session, site_id, start=period.start, end=period.end)

    def lines(kind: str) -> list[VisitLine]:
        return [
            VisitLine(v.held_on, list(v.people), v.topics, v.issues) for v in held if v.kind == kind
        ]

    row = followup_store.confirmation(session, site_id, period.start)
    confirmed = (
        None
        if row is None
        else ChecklistConfirmed(row.confirmed_by, row.confirmed_at, row.entered_by)
    )
    return FollowUp(lines("return_visit"), lines("training"), confirmed)

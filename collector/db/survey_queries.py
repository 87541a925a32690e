"""The satisfaction surveys as a queue (due, sent, answered, overdue) and their summary per
site and quarter, for the dashboard's surveys page. Reads only the reader's sites."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from roomwatch.collector.db.models import Fault, Room, Site
from roomwatch.collector.db.scope import EVERY_SITE, SiteScope, narrow
from roomwatch.collector.db.workflow_models import Survey

# A survey not answered this long after it became due is overdue: the customer's memory of
# the visit fades, and the plan wants the answer while it is fresh.
OVERDUE_AFTER = timedelta(days=14)
STATES = ("due", "sent", "overdue", "answered")


@dataclass(frozen=True)
class SurveyRow:
    id: int
    fault_id: int
    fault_title: str
    level: int
    site_id: str
    site_name: str
    room_name: str
    reason: str
    due_at: datetime
    sent_at: datetime | None
    channel: str | None
    answered_at: datetime | None
    score: int | None
    comment: str
    state: str


@dataclass(frozen=True)
class SurveySummary:
    """One site's quarter: how many surveys, in which state, and the mean score."""

    site_id: str
    site_name: str
    quarter: str  # 2025Q1, of the day the survey became due (UTC)
    total: int
    answered: int
    overdue: int
    mean_score: float | None


def state_of(survey: Survey, now: datetime) -> str:
    if survey.answered_at is not None:
        return "answered"
    if survey.due_at + OVERDUE_AFTER < now:
        return "overdue"
    return "sent" if survey.sent_at is not None else "due"


def queue(session: Session, now: datetime, sites: SiteScope = EVERY_SITE) -> list[SurveyRow]:
    """Every survey of the reader's sites: the open ones first (oldest due first), then the
    answered ones, newest first."""
    query = (
        select(Survey, Fault, Room, Site)
        .join(Fault, Fault.id == Survey.fault_id)
        .join(Room, Room.id == Fault.room_id)
        .join(Site, Site.id == Room.site_id)
    )
    rows = [
        SurveyRow(
            id=survey.id,
            fault_id=fault.id,
            fault_title=fault.title,
            level=fault.level,
            site_id=site.id,
            site_name=site.name,
            room_name=room.name,
            reason=survey.reason,
            due_at=survey.due_at,
            sent_at=survey.sent_at,
            channel=survey.channel,
            answered_at=survey.answered_at,
            score=survey.score,
            comment=survey.comment or "",
            state=state_of(survey, now),
        )
        for survey, fault, room, site in session.execute(narrow(query, Site.id, sites))
    ]
    open_rows = sorted((r for r in rows if r.state != "answered"), key=lambda r: r.due_at)
    answered = sorted(
        (r for r in rows if r.state == "answered"),
        key=lambda r: r.answered_at or r.due_at,
        reverse=True,
    )
    return open_rows + answered


def quarter_of(at: datetime) -> str:
    return f"{at.year}Q{(at.month - 1) // 3 + 1}"


def summary(rows: list[SurveyRow]) -> list[SurveySummary]:
    """Per site and quarter, newest quarter first."""
    groups: dict[tuple[str, str], list[SurveyRow]] = {}
    for row in rows:
        groups.setdefault((row.site_id, quarter_of(row.due_at)), []).append(row)
    out = []
    for (site_id, quarter), members in groups.items():
        scores = [r.score for r in members if r.score is not None]
        out.append(
            SurveySummary(
                site_id=site_id,
                site_name=members[0].site_name,
                quarter=quarter,
                total=len(members),
                answered=sum(r.state == "answered" for r in members),
                overdue=sum(r.state == "overdue" for r in members),
                mean_score=round(sum(scores) / len(scores), 2) if scores else None,
            )
        )
    return sorted(out, key=lambda s: (s.quarter, s.site_name), reverse=True)

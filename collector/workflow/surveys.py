"""Satisfaction surveys, as the service plan asks: always after an on-site visit, always
when a problem took several remote sessions, never for a mere consultation (L4 without a
visit) or a trivial phone fix (fewer remote sessions, no visit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from roomwatch.collector.db import faults_store, workflow_store
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.workflow_models import Survey
from roomwatch.collector.levels import Level
from roomwatch.collector.workflow.errors import WorkflowError


@dataclass(frozen=True)
class SurveyPolicy:
    min_remote_sessions: int = 2

    def reason(self, fault: Fault) -> str | None:
        """Why a survey is due for ``fault`` once its service ends, or None if it is not."""
        if fault.on_site_visits > 0:
            return "on_site_visit"
        if fault.level == Level.L4:
            return None  # a consultation
        if fault.remote_sessions >= self.min_remote_sessions:
            return "remote_sessions"
        return None  # a trivial phone fix, or the fault went away by itself


def ensure_survey(
    session: Session, fault: Fault, policy: SurveyPolicy, at: datetime
) -> Survey | None:
    """Record the survey due for ``fault`` (once); None when none is due."""
    existing = workflow_store.get_survey(session, fault.id)
    if existing is not None:
        return existing
    reason = policy.reason(fault)
    if reason is None:
        return None
    survey = workflow_store.add_survey(session, fault.id, reason, at)
    faults_store.add_event(session, fault, at, "survey_due", {"reason": reason})
    return survey


def mark_sent(survey: Survey, at: datetime, actor: str, channel: str) -> None:
    if survey.answered_at is not None:
        raise WorkflowError("the survey was already answered")
    survey.sent_at = at
    survey.sent_by = actor
    survey.channel = channel


def record_answer(survey: Survey, at: datetime, score: int, comment: str) -> None:
    if survey.answered_at is not None:
        raise WorkflowError("the survey was already answered")
    if survey.sent_at is None:
        survey.sent_at = at
    survey.answered_at = at
    survey.score = score
    survey.comment = comment


__all__ = ["SurveyPolicy", "ensure_survey", "mark_sent", "record_answer"]

"""Report jobs in SQL: queue, claim, keep alive, finish, recover, prune.

Every member of a collector group reads and claims the same rows. On PostgreSQL a claim is
``SELECT … FOR UPDATE SKIP LOCKED``: two members claiming at once take two different jobs
and never wait on each other. SQLite has one writer at a time (the caller uses a write
session, ``BEGIN IMMEDIATE``), and SQLAlchemy leaves ``FOR UPDATE`` out there.

A claimed job carries its runner and ``alive_until``, which the runner pushes ahead while it
generates. A job whose ``alive_until`` passed belongs to a collector that died: it is queued
again if it was claimed fewer than ``MAX_ATTEMPTS`` times, else failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from roomwatch.collector.db.shared_state_models import ReportJob

MAX_ATTEMPTS = 2  # a job whose runner died is run once more, then failed
ABANDONED = "the collector running this report stopped {attempts} times before it finished"
STATUS_ABANDONED = 500


def add(
    session: Session, job_id: str, what: Mapping[str, Any], actor: str, at: datetime
) -> ReportJob:
    job = ReportJob(
        id=job_id, what=dict(what), actor=actor, state="queued", created_at=at, attempts=0
    )
    session.add(job)
    session.flush()
    return job


def get(session: Session, job_id: str) -> ReportJob | None:
    return session.get(ReportJob, job_id)


def claim(session: Session, runner: str, at: datetime, alive_until: datetime) -> ReportJob | None:
    """The oldest queued job, now running for ``runner``; None when none is queued (or every
    queued one is being claimed by another member this instant)."""
    job = session.scalars(
        select(ReportJob)
        .where(ReportJob.state == "queued")
        .order_by(ReportJob.created_at, ReportJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if job is None:
        return None
    job.state, job.runner = "running", runner
    job.started_at, job.alive_until = at, alive_until
    job.attempts = (job.attempts or 0) + 1
    session.flush()
    return job


def keep_alive(session: Session, job_id: str, runner: str, alive_until: datetime) -> bool:
    """Push a running job's deadline ahead; False if it is no longer this runner's (it was
    taken for dead and queued again)."""
    result = session.execute(
        update(ReportJob)
        .where(ReportJob.id == job_id, ReportJob.runner == runner, ReportJob.state == "running")
        .values(alive_until=alive_until)
    )
    return bool(getattr(result, "rowcount", 0))


def finish(
    session: Session,
    job_id: str,
    runner: str,
    at: datetime,
    *,
    report_id: int | None = None,
    error: str | None = None,
    error_status: int | None = None,
) -> bool:
    """Record a job's outcome (done with its report, or failed with the reason and the HTTP
    status it is answered with); False if the job is no longer this runner's."""
    result = session.execute(
        update(ReportJob)
        .where(ReportJob.id == job_id, ReportJob.runner == runner, ReportJob.state == "running")
        .values(
            state="failed" if error is not None else "done",
            finished_at=at,
            alive_until=None,
            report_id=report_id,
            error=error,
            error_status=error_status,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def has_work(session: Session, at: datetime) -> bool:
    """Whether a job is queued or a running one is past its deadline: a read, so an idle
    worker polling the queue never takes SQLite's write lock."""
    stale = (ReportJob.state == "running") & (ReportJob.alive_until < at)
    wanted = select(ReportJob.id).where((ReportJob.state == "queued") | stale).limit(1)
    return session.scalars(wanted).first() is not None


def recover_abandoned(session: Session, at: datetime) -> tuple[list[str], list[str]]:
    """Queue again the running jobs whose deadline passed before ``at``, or fail those already
    claimed ``MAX_ATTEMPTS`` times; the ids (requeued, failed)."""
    stale = (ReportJob.state == "running", ReportJob.alive_until < at)
    failed = list(
        session.scalars(
            update(ReportJob)
            .where(*stale, ReportJob.attempts >= MAX_ATTEMPTS)
            .values(
                state="failed",
                finished_at=at,
                alive_until=None,
                error=ABANDONED.format(attempts=MAX_ATTEMPTS),
                error_status=STATUS_ABANDONED,
            )
            .returning(ReportJob.id)
        )
    )
    requeued = list(
        session.scalars(
            update(ReportJob)
            .where(*stale, ReportJob.attempts < MAX_ATTEMPTS)
            .values(state="queued", runner=None, alive_until=None, started_at=None)
            .returning(ReportJob.id)
        )
    )
    return requeued, failed


def prune(session: Session, finished_before: datetime) -> int:
    """Forget finished jobs older than ``finished_before`` (their reports stay archived)."""
    result = session.execute(
        delete(ReportJob).where(
            ReportJob.state.in_(("done", "failed")), ReportJob.finished_at < finished_before
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)

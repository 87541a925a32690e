"""State every member of a collector group must see alike, kept in SQL rather than in one
process's memory: failed sign-ins (the throttle) and report jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from roomwatch.collector.db.models import Base


class SignInFailure(Base):
    """One sign-in attempt counted against a user name (``kind`` ``user``, the name case-
    folded) or a client address (``address``). Counted before the password is checked; a
    success deletes its own rows. Rows older than the throttle's window are pruned."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key_at", "kind", "key", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(index=True)


class ReportJob(Base):
    """A report generation asked through the API, run by whichever member claims it.

    ``what`` is the request (site, period, language... or ``regenerate``: a report id), so
    any member can run it. A running job's ``alive_until`` is pushed ahead while it runs; a
    job whose runner died is queued again (up to ``attempts`` = 2) or failed."""

    __tablename__ = "report_jobs"
    __table_args__ = (Index("ix_report_jobs_state_created", "state", "created_at"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    what: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    alive_until: Mapped[datetime | None]
    runner: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    report_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    error_status: Mapped[int | None] = mapped_column(Integer, doc="HTTP status of the failure")

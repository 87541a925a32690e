"""SQL of the dead-letter table: record quarantined messages, list them, forget old ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from roomwatch.collector.db.models import Agent
from roomwatch.collector.db.quarantine_models import QuarantinedMessage
from roomwatch.collector.db.scope import EVERY_SITE, SiteScope, rooms_in

_REASON_MAX = 500


@dataclass(frozen=True)
class Quarantined:
    """One message acknowledged without being stored, and why."""

    received_at: datetime
    topic: str
    agent_id: str | None
    seq: int | None
    stage: str  # wire, limits, tsdb, sql
    reason: str
    payload_bytes: int
    excerpt: str


def add_many(session: Session, items: Sequence[Quarantined]) -> None:
    """Insert the rows (inside the caller's transaction)."""
    if not items:
        return
    session.execute(
        insert(QuarantinedMessage),
        [
            {
                "received_at": q.received_at,
                "topic": q.topic[:300],
                "agent_id": q.agent_id,
                "seq": None if q.seq is None else str(q.seq)[:32],
                "stage": q.stage,
                "reason": q.reason[:_REASON_MAX],
                "payload_bytes": q.payload_bytes,
                "excerpt": q.excerpt,
            }
            for q in items
        ],
    )


def recent(
    session: Session, limit: int, agent_id: str | None = None, sites: SiteScope = EVERY_SITE
) -> tuple[int, list[QuarantinedMessage]]:
    """(how many are kept in all, the newest ``limit`` of them), optionally of one agent;
    of the agents placed in the rooms of ``sites`` (a message of an agent the inventory does
    not place belongs to no site: only a reader of every site sees it)."""
    where = [] if agent_id is None else [QuarantinedMessage.agent_id == agent_id]
    if sites is not None:
        placed = select(Agent.id).where(Agent.room_id.in_(rooms_in(sites)))
        where.append(QuarantinedMessage.agent_id.in_(placed))
    total = session.scalar(select(func.count()).select_from(QuarantinedMessage).where(*where))
    rows = session.scalars(
        select(QuarantinedMessage).where(*where).order_by(QuarantinedMessage.id.desc()).limit(limit)
    )
    return int(total or 0), list(rows)


def trim(session: Session, keep_rows: int) -> int:
    """Delete all but the newest ``keep_rows`` rows (ids grow with insertion, so the oldest
    go first); return how many were deleted."""
    newest_dropped = session.scalar(
        select(QuarantinedMessage.id)
        .order_by(QuarantinedMessage.id.desc())
        .offset(keep_rows)
        .limit(1)
    )
    if newest_dropped is None:
        return 0
    result = session.execute(
        delete(QuarantinedMessage).where(QuarantinedMessage.id <= newest_dropped)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def prune(session: Session, older_than: datetime) -> int:
    """Forget messages quarantined before ``older_than``; return how many."""
    result = session.execute(
        delete(QuarantinedMessage).where(QuarantinedMessage.received_at < older_than)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

"""Messages ingest quarantined (acknowledged without being stored), for admins: which agent
sent what, when, and why it was refused. ``admin`` only: excerpts are raw agent payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from roomwatch.collector.api.auth import Admin
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.db import quarantine_store

router = APIRouter(tags=["ingest"])


class QuarantinedOut(BaseModel):
    id: int
    received_at: datetime
    topic: str
    agent_id: str | None
    seq: str | None = Field(description="As sent (text: it may not fit 64 bits)")
    stage: str = Field(description="wire, limits, tsdb, sql or store")
    reason: str
    payload_bytes: int
    excerpt: str = Field(description="The start of the payload (ingest.limits)")


class QuarantineOut(BaseModel):
    total: int = Field(description="Quarantined messages kept (of this agent, if asked)")
    items: list[QuarantinedOut] = Field(description="The newest first")


@router.get("/api/admin/quarantine", response_model=QuarantineOut)
def list_quarantined(
    session: DbSession,
    admin: Admin,
    agent: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> QuarantineOut:
    """The newest quarantined messages, optionally of one agent; an admin bound to sites
    sees those of the agents placed in its sites' rooms."""
    total, rows = quarantine_store.recent(session, limit, agent, admin.sites)
    return QuarantineOut(
        total=total,
        items=[
            QuarantinedOut(
                id=q.id,
                received_at=q.received_at,
                topic=q.topic,
                agent_id=q.agent_id,
                seq=q.seq,
                stage=q.stage,
                reason=q.reason,
                payload_bytes=q.payload_bytes,
                excerpt=q.excerpt,
            )
            for q in rows
        ],
    )

"""Faults, filtered by status, room and level, a page at a time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from collector.api.deps import DbSession
from collector.api.schemas import FaultOut, FaultPageOut
from collector.db import queries
from collector.db.queries import FaultStatusFilter

router = APIRouter(prefix="/api/faults", tags=["faults"])


@router.get("", response_model=FaultPageOut)
def list_faults(
    session: DbSession,
    status: Annotated[
        FaultStatusFilter, Query(description="open = neither resolved nor closed")
    ] = "all",
    room: Annotated[str | None, Query(description="Room id")] = None,
    level: Annotated[int | None, Query(ge=1, le=4, description="1 (L1) .. 4 (L4)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FaultPageOut:
    """Faults, newest first."""
    page = queries.list_faults(session, status, room or None, level, limit=limit, offset=offset)
    return FaultPageOut(
        total=page.total,
        limit=limit,
        offset=offset,
        items=[FaultOut.model_validate(fault) for fault in page.items],
    )

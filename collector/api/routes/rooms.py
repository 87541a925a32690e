"""Rooms: the list with state at a glance, and one room with its devices and open faults."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from collector.api.auth import Scope
from collector.api.deps import DbSession
from collector.api.schemas import ErrorOut, RoomDetailOut, RoomOut
from collector.db import queries

router = APIRouter(prefix="/api/rooms", tags=["rooms"])


@router.get("", response_model=list[RoomOut])
def list_rooms(
    session: DbSession,
    sites: Scope,
    site: Annotated[str | None, Query(description="Site id")] = None,
) -> list[RoomOut]:
    """Every room (of the caller's sites) with its site, agents, device counts and worst
    open fault level."""
    rooms = queries.list_rooms(session, site or None, sites)
    return [RoomOut.model_validate(room) for room in rooms]


@router.get("/{room_id}", response_model=RoomDetailOut, responses={404: {"model": ErrorOut}})
def get_room(room_id: str, session: DbSession) -> RoomDetailOut:
    """One room: devices with their latest values, and its open faults."""
    return RoomDetailOut.model_validate(queries.get_room(session, room_id))

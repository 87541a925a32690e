"""Rooms: the list with state at a glance, and one room with its devices and open faults.

Both answer from the per-process cache of serialised answers while the rooms' change
counters stand still, with an ETag (304 to a client that holds it); see
``collector.api.listing``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter

from roomwatch.collector.api.auth import Scope
from roomwatch.collector.api.bounds import PageOffset
from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.api.listing import (
    NOT_MODIFIED,
    OK_HEADERS,
    PAGE_HEADERS,
    AnswerCache,
    CachedAnswer,
    RoomFilter,
    RoomStatus,
    cached_answer,
    etag,
    page_headers,
    page_of,
)
from roomwatch.collector.api.schemas import ErrorOut, RoomDetailOut, RoomOut
from roomwatch.collector.db import queries, room_versions

router = APIRouter(prefix="/api/rooms", tags=["rooms"])
_ROOMS = TypeAdapter(list[RoomOut])
MAX_ROOMS_PER_PAGE = 5000


def answer_cache(request: Request) -> AnswerCache:
    cache: AnswerCache | None = getattr(request.app.state, "answer_cache", None)
    if cache is None:  # an app built without create_app (a test's own)
        cache = request.app.state.answer_cache = AnswerCache()
    return cache


@router.get(
    "",
    response_model=list[RoomOut],
    responses={200: {"headers": PAGE_HEADERS}, **NOT_MODIFIED},
)
def list_rooms(
    request: Request,
    session: DbSession,
    sites: Scope,
    site: Annotated[str | None, Query(description="Site id")] = None,
    level: Annotated[
        int | None,
        Query(ge=1, le=4, description="Rooms whose worst open fault is this level or more urgent"),
    ] = None,
    status: Annotated[
        RoomStatus | None,
        Query(description="ok: no open fault; faulty: some; offline: an agent is offline"),
    ] = None,
    search: Annotated[
        str | None,
        Query(max_length=100, description="Part of the room's id, name, building or site name"),
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_ROOMS_PER_PAGE, description="Rooms per page; all if absent")
    ] = None,
    offset: Annotated[PageOffset, Query(description="Rooms to skip")] = 0,
) -> Response:
    """The rooms (of the caller's sites) with site, agents, device counts and worst open
    fault level, by site then id; filtered and paged when asked (``X-Total-Count``, and a
    ``Link`` to the next page)."""
    version = room_versions.list_version(session, sites)  # before the data: see its doc

    def build() -> CachedAnswer:
        wanted = RoomFilter(level=level, status=status, search=search or None)
        rooms = [r for r in queries.list_rooms(session, site or None, sites) if wanted.keeps(r)]
        page = page_of(rooms, offset, limit)
        body = _ROOMS.dump_json([RoomOut.model_validate(room) for room in page])
        return CachedAnswer(body, page_headers(request, len(rooms), offset, len(page)))

    tag = etag(request, version, sites)
    return cached_answer(request, answer_cache(request), tag, build)


@router.get(
    "/{room_id}",
    response_model=RoomDetailOut,
    responses={200: {"headers": OK_HEADERS}, 404: {"model": ErrorOut}, **NOT_MODIFIED},
)
def get_room(room_id: str, request: Request, session: DbSession, sites: Scope) -> Response:
    """One room: devices with their latest values, and its open faults."""
    version = room_versions.room_version(session, room_id)

    def build() -> CachedAnswer:
        detail = RoomDetailOut.model_validate(queries.get_room(session, room_id))
        return CachedAnswer(detail.model_dump_json().encode())

    return cached_answer(request, answer_cache(request), etag(request, version, sites), build)

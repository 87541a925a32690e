"""Server-Sent Events for open pages: the grid recolours its tiles, room pages and the fault
board reload their content when what they show changed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from roomwatch.collector.api.deps import get_database
from roomwatch.collector.web.access import current_viewer, sign_in_required
from roomwatch.collector.web.context import PREFIX
from roomwatch.collector.web.feed import LiveFeed

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/live")
def live(request: Request) -> Response:
    with get_database(request).session() as session:
        closed = sign_in_required(session)
    viewer = current_viewer(request)
    if closed and not viewer.signed_in:
        return Response(status_code=401)
    feed: LiveFeed = request.app.state.web_feed
    return StreamingResponse(
        feed.stream(viewer.sites),  # only the reader's sites (collector.web.scope)
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

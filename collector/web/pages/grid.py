"""The room grid: one tile per room in the colour of its state, filters, live updates."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from collector.api.deps import DbSession
from collector.db import dashboard_queries, queries
from collector.web.context import PREFIX, Page, Zones
from collector.web.fault_text import Wording
from collector.web.settings import WebSettings
from collector.web.tiles import STATES, Tile, counts, matches, tile

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def grid_tiles(session: Session, settings: WebSettings) -> list[Tile]:
    """Every room's tile, in site and room order."""
    zones = Zones.load(session, settings.timezone)
    worst = dashboard_queries.worst_open_faults(session)
    rooms = queries.list_rooms(session)
    words = Wording.load(session, "zh-CN", worst.values(), {r.id: r.name for r in rooms})
    return [
        tile(
            room,
            worst.get(room.id),
            zones.site(room.site_id),
            words.titles(worst[room.id]) if room.id in worst else None,
        )
        for room in rooms
    ]


def live_snapshot(session: Session, settings: WebSettings) -> dict[str, object]:
    """What the live feed sends: every tile, state counts, and a signature of the open
    faults (the fault board reloads its table when it changes)."""
    tiles = grid_tiles(session, settings)
    open_faults = dashboard_queries.open_faults(session)
    signature = "|".join(f"{f.id}:{f.status}:{f.level}" for f in open_faults)
    return {
        "tiles": [t.as_json() for t in tiles],
        "counts": counts(tiles),
        "faults": hashlib.sha1(signature.encode()).hexdigest()[:12],
    }


@router.get("/", response_class=HTMLResponse)
def grid(
    request: Request,
    session: DbSession,
    site: Annotated[str, Query(max_length=64)] = "",
    building: Annotated[str, Query(max_length=200)] = "",
    state: Annotated[str, Query(max_length=16)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    page = Page.of(request, session)
    if (denied := page.login_required()) is not None:
        return denied
    tiles = grid_tiles(session, page.settings)
    sites = sorted({(t.site_id, t.site_name) for t in tiles}, key=lambda s: s[1])
    buildings = sorted(
        {t.building for t in tiles if t.building and (not site or t.site_id == site)}
    )
    return page.render(
        "grid.html",
        tiles=tiles,
        visible={t.id for t in tiles if matches(t, site, building, state, q)},
        counts=counts(tiles),
        states=STATES,
        sites=sites,
        buildings=buildings,
        filters={"site": site, "building": building, "state": state, "q": q},
        live=True,
    )

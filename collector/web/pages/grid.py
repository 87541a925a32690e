"""The room grid: one tile per room in the colour of its state, filters, live updates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.db import dashboard_queries, queries
from roomwatch.collector.db.scope import SiteScope
from roomwatch.collector.web.context import PREFIX, Page, Zones
from roomwatch.collector.web.fault_text import Wording
from roomwatch.collector.web.settings import WebSettings
from roomwatch.collector.web.tiles import STATES, Tile, counts, matches, tile

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def grid_tiles(session: Session, settings: WebSettings, sites: SiteScope = None) -> list[Tile]:
    """Every room's tile (of the ``sites`` in scope), in site and room order."""
    zones = Zones.load(session, settings.timezone)
    worst = dashboard_queries.worst_open_faults(session, sites)
    rooms = queries.list_rooms(session, sites=sites)
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


def live_snapshot(session: Session, settings: WebSettings) -> dict[str, Any]:
    """What the live feed reads once for every stream: every site's tiles and open faults
    (id, status, level, site). Each stream sends only its user's sites of it, with their
    state counts and a signature of their open faults (``collector.web.scope``); the fault
    board reloads its table when the signature changes."""
    tiles = grid_tiles(session, settings)
    site_of_room = dashboard_queries.room_sites(session)
    return {
        "tiles": [t.as_json() for t in tiles],
        "open_faults": [
            (f.id, f.status, f.level, site_of_room.get(f.room_id or ""))
            for f in dashboard_queries.open_faults(session)
        ],
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
    tiles = grid_tiles(session, page.settings, page.sites)
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

"""Site scoping of the dashboard: a user bound to sites sees only those sites on every page.

Two halves, as in the API (``collector.api.scoping``):

- ``guard_page`` is a dependency of every page router (``install_web`` adds it when it
  includes a page module): a room, site or fault that a path or query names and that lies
  outside the signed-in user's sites answers the 404 page, as if it did not exist. A new
  page is guarded by naming its parameters as the others do (``room_id``/``room``,
  ``site_id``/``site``, ``fault_id``, ...).
- lists narrow themselves: pages pass ``Page.sites`` to the queries of ``collector.db``, and
  the live feed projects its snapshot onto each stream's sites (``project_snapshot``).

``tests/web/test_page_scoping.py`` enumerates every ``/ui`` route of the app and fails for
one that lacks the guard or shows anything of another site.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import HTTPException, Request, status
from sqlalchemy.orm import Session

from roomwatch.collector.api import scoping
from roomwatch.collector.api.deps import get_database
from roomwatch.collector.db import scope
from roomwatch.collector.db.scope import SiteScope
from roomwatch.collector.web.access import current_viewer
from roomwatch.collector.web.tiles import STATES

# On a page a device is named by its name within the room, not by its row id: the room
# named beside it decides (the API's ``device_id`` lookup takes a row id).
_PAGE_LOOKUPS = {k: v for k, v in scoping.LOOKUPS.items() if k != "device_id"}


def guard_page(request: Request) -> None:
    """404 (the dashboard's not-found page) when the path or query names a room, site or
    fault outside the signed-in user's sites."""
    sites = current_viewer(request).sites
    if sites is None:
        return
    named = [(k, str(v)) for k, v in request.path_params.items() if k in _PAGE_LOOKUPS]
    named += [(k, v) for k, v in request.query_params.items() if k in _PAGE_LOOKUPS and v]
    if not named:
        return

    def outside(session: Session) -> bool:
        for name, value in named:
            site = _PAGE_LOOKUPS[name](session, value)
            if site is not True and not scope.allows(sites, site):
                return True
        return False

    if get_database(request).transact(outside):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")


def project_snapshot(full: dict[str, Any], sites: SiteScope) -> dict[str, Any]:
    """What one live stream may see of the feed's snapshot: its sites' tiles, their counts
    and a signature of their open faults (``full`` holds every site, read once for all)."""
    tiles = [t for t in full["tiles"] if scope.allows(sites, t["site_id"])]
    counts = dict.fromkeys(STATES, 0)
    for t in tiles:
        counts[t["state"]] = counts.get(t["state"], 0) + 1
    faults = [f for f in full["open_faults"] if scope.allows(sites, f[3])]
    signature = "|".join(f"{fid}:{fstatus}:{level}" for fid, fstatus, level, _ in faults)
    return {
        "tiles": tiles,
        "counts": counts,
        "faults": hashlib.sha1(signature.encode()).hexdigest()[:12],
    }

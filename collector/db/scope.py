"""Site scoping: which sites a user may see, and the site an object belongs to.

A scope is ``None`` (every site: an engineer or admin bound to none) or a frozenset of site
ids. Queries elsewhere in ``collector.db`` take a scope and narrow themselves with
``narrow``; the API's central guard (``collector.api.scoping``) asks ``site_of`` for the
object a path names and answers 404 when it lies outside the caller's scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, select
from sqlalchemy.orm import Session

from roomwatch.collector.db.models import Device, Fault, Room, Site
from roomwatch.collector.db.report_models import ArchivedReport
from roomwatch.collector.db.scope_models import UserSite
from roomwatch.collector.db.sla_models import SlaContact
from roomwatch.collector.db.workflow_models import MaintenanceWindow, User

SiteScope = frozenset[str] | None
EVERY_SITE: SiteScope = None


def sites_of_user(session: Session, user_id: int) -> list[str]:
    """The site ids ``user_id`` is bound to, sorted (empty: not bound)."""
    query = select(UserSite.site_id).where(UserSite.user_id == user_id).order_by(UserSite.site_id)
    return list(session.scalars(query))


def scope_for(role: str, bound: Iterable[str]) -> SiteScope:
    """The sites a user may see: the bound ones; a ``school`` user bound to none sees none,
    anyone else bound to none sees every site."""
    sites = frozenset(bound)
    if sites or role == "school":
        return sites
    return EVERY_SITE


def bind_sites(session: Session, user: User, site_ids: Iterable[str]) -> list[str]:
    """Bind ``user`` to exactly ``site_ids`` (replacing earlier bindings); the sorted ids.
    Raises LookupError naming the first site that does not exist."""
    wanted = sorted(set(site_ids))
    for site_id in wanted:
        if session.get(Site, site_id) is None:
            raise LookupError(site_id)
    session.execute(delete(UserSite).where(UserSite.user_id == user.id))
    session.add_all(UserSite(user_id=user.id, site_id=site_id) for site_id in wanted)
    session.flush()
    return wanted


def allows(scope: SiteScope, site_id: str | None) -> bool:
    """Whether ``scope`` lets its holder see something of ``site_id`` (None: of no site,
    visible only to an unbound user)."""
    return scope is None or (site_id is not None and site_id in scope)


def narrow(query: Any, site_column: ColumnElement[Any] | Any, scope: SiteScope) -> Any:
    """``query`` limited to rows whose ``site_column`` is in ``scope``."""
    if scope is None:
        return query
    return query.where(site_column.in_(sorted(scope)))


def rooms_in(scope: SiteScope) -> Select[tuple[str]]:
    """A subquery of the room ids ``scope`` sees (for tables that know only their room)."""
    return narrow(select(Room.id), Room.site_id, scope)


# --- the site an id names; None when the object does not exist or belongs to no site ------


def site_of_room(session: Session, room_id: str) -> str | None:
    return session.scalar(select(Room.site_id).where(Room.id == room_id))


def site_of_fault(session: Session, fault_id: int) -> str | None:
    query = select(Room.site_id).join(Fault, Fault.room_id == Room.id).where(Fault.id == fault_id)
    return session.scalar(query)


def site_of_device(session: Session, device_id: int) -> str | None:
    query = select(Room.site_id).join(Device, Device.room_id == Room.id)
    return session.scalar(query.where(Device.id == device_id))


def site_of_report(session: Session, report_id: int) -> str | None:
    return session.scalar(select(ArchivedReport.site_id).where(ArchivedReport.id == report_id))


def site_of_window(session: Session, window_id: int) -> str | None:
    window = session.get(MaintenanceWindow, window_id)
    if window is None:
        return None
    if window.site_id is not None:
        return window.site_id
    return site_of_room(session, window.room_id) if window.room_id is not None else None


def site_of_contact(session: Session, contact_id: int) -> str | None:
    return session.scalar(select(SlaContact.site_id).where(SlaContact.id == contact_id))


def site_of_site(session: Session, site_id: str) -> str | None:
    return site_id if session.get(Site, site_id) is not None else None


SiteLookup = Callable[[Session, Any], str | None]

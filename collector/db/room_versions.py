"""A change counter per room, bumped in the transaction that changes what the dashboard
shows of the room: its devices' latest state, its agents, its faults, its name or site.

The API answers ``/api/rooms``, ``/api/rooms/{id}`` and ``/api/faults`` from a per-process
cache of serialised responses and gives them ETags; both are keyed on these counters, so a
cached answer is served only while no counter it depends on moved. The counters live in the
shared database and move in the writer's own transaction, which keeps every member of a
collector group coherent without messages between them: a reader in any process sees a new
count exactly when it can see the change.

One row per room, not one for everything: one agent (so one room) is handled by one
collector at a time, so two collectors' ingest batches never wait for the same row. A list's
version is the sum of its rooms' counters (plus their number): counters only grow, so any
change in the list's rooms changes the sum. Faults without a room count on the row ``""``.

Writes are caught in two ways: ORM flushes of the tables that feed the views (a session
event, so a new write path through the ORM cannot forget), and the ingest and inventory
stores' Core statements, which call ``bump_rooms`` / ``bump_rooms_of`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    String,
    event,
    func,
    inspect,
    literal,
    select,
)
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column

from roomwatch.collector.db.dialect import chunks
from roomwatch.collector.db.models import Agent, Base, Device, DeviceState, Fault, Room, Site

if TYPE_CHECKING:  # scope imports models, which import this module at their end
    from roomwatch.collector.db.scope import SiteScope

NO_ROOM = ""  # the counter of faults that belong to no room (seen by unbound users only)


class RoomVersion(Base):
    """How many committed changes the dashboard's view of one room has seen."""

    __tablename__ = "room_versions"
    # No foreign key: a counter outlives its room, so a list's sum never goes back.
    room_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)


_TABLE = RoomVersion.__table__


def _upsert(connection: Connection, source: Any) -> None:
    dialect = connection.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"roomwatch supports SQLite and PostgreSQL, not {dialect}")
    from sqlalchemy.dialects import postgresql, sqlite

    insert = (postgresql if dialect == "postgresql" else sqlite).insert(_TABLE)
    statement = source(insert).on_conflict_do_update(
        index_elements=["room_id"], set_={"version": _TABLE.c.version + 1}
    )
    connection.execute(statement)


def bump_rooms(session: Session | Connection, room_ids: Iterable[str | None]) -> None:
    """Count one change for each room (None: a fault of no room). One statement locks its
    rows in sorted order; a transaction that bumps in several flushes may still meet
    another in a different order, which PostgreSQL resolves by failing one of them (an
    outage the ingest retries). Rooms rarely share writers: one collector serves a room."""
    wanted = sorted({NO_ROOM if r is None else r for r in room_ids})
    connection = session.connection() if isinstance(session, Session) else session
    rows = [{"room_id": room, "version": 1} for room in wanted]
    for chunk in chunks(rows):
        _upsert(connection, lambda insert, chunk=chunk: insert.values(chunk))


def bump_rooms_of(session: Session | Connection, where: ColumnElement[bool], column: Any) -> None:
    """Count one change for every room ``select(column).where(where)`` names (room ids of
    devices or agents a Core statement just changed)."""
    connection = session.connection() if isinstance(session, Session) else session
    # The WHERE is never empty: SQLite reads "SELECT .. ON CONFLICT" ambiguously without one.
    rooms = select(column.label("room_id"), literal(1, BigInteger).label("version"))
    rooms = rooms.where(where, column.is_not(None)).distinct().order_by(column)
    _upsert(connection, lambda insert: insert.from_select(["room_id", "version"], rooms))


def bump_every_room(session: Session) -> None:
    """Count one change for every room and the room-less faults (an inventory sync)."""
    bump_rooms_of(session, Room.id.is_not(None), Room.id)
    bump_rooms(session, [NO_ROOM])


def list_version(session: Session, sites: SiteScope) -> tuple[int, int]:
    """(rooms counted, sum of their counters) over what ``sites`` sees; read it *before* the
    data it versions, so a change committed in between makes the next read compute again
    rather than keep stale data under a newer version."""
    query = select(func.count(), func.coalesce(func.sum(RoomVersion.version), 0))
    if sites is not None:
        query = query.join(Room, Room.id == RoomVersion.room_id).where(
            Room.site_id.in_(sorted(sites))
        )
    count, total = session.execute(query).one()
    return int(count), int(total)


def room_version(session: Session, room_id: str) -> int:
    """One room's counter (0 before its first change)."""
    return int(
        session.scalar(select(RoomVersion.version).where(RoomVersion.room_id == room_id)) or 0
    )


# --- the ORM side: whatever a flush writes to the tables the views read -------------------


def _changed(session: Session, instance: object) -> bool:
    return instance in session.new or instance in session.deleted or session.is_modified(instance)


def _room_ids_before(instance: object, attribute: str) -> list[str | None]:
    history = inspect(instance).attrs[attribute].history
    return list(history.deleted or ())


def _after_flush(session: Session, _flush: UOWTransaction) -> None:
    rooms: set[str | None] = set()
    devices: set[int] = set()
    sites: set[str] = set()
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, Fault | Agent | Device):
            if not _changed(session, instance):
                continue
            room = instance.room_id
            if room is not None or isinstance(instance, Fault):
                rooms.add(room)  # a fault of no room counts on NO_ROOM
            rooms.update(r for r in _room_ids_before(instance, "room_id") if r is not None)
        elif isinstance(instance, DeviceState) and _changed(session, instance):
            devices.add(instance.device_id)
        elif isinstance(instance, Room) and _changed(session, instance):
            rooms.add(instance.id)
        elif isinstance(instance, Site) and _changed(session, instance):
            sites.add(instance.id)
    if rooms:
        bump_rooms(session, rooms)
    if devices:
        bump_rooms_of(session, Device.id.in_(sorted(devices)), Device.room_id)
    if sites:
        bump_rooms_of(session, Room.site_id.in_(sorted(sites)), Room.id)


event.listen(Session, "after_flush", _after_flush)

__all__ = [
    "NO_ROOM",
    "RoomVersion",
    "bump_every_room",
    "bump_rooms",
    "bump_rooms_of",
    "list_version",
    "room_version",
]

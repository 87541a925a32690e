"""Leases of a collector group in PostgreSQL: take, renew, give back, and fence a write.

Every expiry is computed and compared with the database server's clock
(``clock_timestamp()``), so the members' own clocks may drift without two of them holding
one lease. A take-over bumps the lease's ``token``; ``still_held`` locks the lease rows
``FOR SHARE`` inside the writing transaction, so a take-over (an UPDATE of the row) waits
until that transaction ends, and a write that started under an older token fails instead of
landing after the new holder's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, delete, func, select, update
from sqlalchemy.orm import Session

from roomwatch.collector.db.dialect import upsert_insert
from roomwatch.collector.db.group_models import CollectorLease, CollectorMember
from roomwatch.collector.db.models import Agent

NEVER = datetime(1970, 1, 1, tzinfo=UTC)
FORGET_MEMBERS_AFTER = 10  # a member row silent for this many TTLs is deleted


def ensure_leases(session: Session, names: list[str]) -> None:
    """Create the lease rows that do not exist yet (free: expired since 1970)."""
    rows = [{"name": n, "holder": "", "token": 0, "expires_at": NEVER} for n in names]
    leases = CollectorLease.__table__
    insert = upsert_insert(session, leases)  # type: ignore[arg-type]
    session.execute(insert.on_conflict_do_nothing(), rows)


def heartbeat(session: Session, member_id: str, ttl_s: float, partitions: int) -> int:
    """Say ``member_id`` is alive for ``ttl_s`` more; return how many members are alive."""
    expires = func.clock_timestamp() + timedelta(seconds=ttl_s)
    members = CollectorMember.__table__
    insert = upsert_insert(session, members).values(  # type: ignore[arg-type]
        member_id=member_id,
        started_at=func.clock_timestamp(),
        expires_at=expires,
        partitions=partitions,
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["member_id"],
            set_={"expires_at": insert.excluded.expires_at, "partitions": partitions},
        )
    )
    forget = func.clock_timestamp() - timedelta(seconds=ttl_s * FORGET_MEMBERS_AFTER)
    session.execute(delete(CollectorMember).where(CollectorMember.expires_at < forget))
    alive = select(func.count()).where(CollectorMember.expires_at > func.clock_timestamp())
    return int(session.scalar(alive) or 0)


def leave(session: Session, member_id: str) -> None:
    session.execute(delete(CollectorMember).where(CollectorMember.member_id == member_id))


def acquire(session: Session, name: str, member_id: str, ttl_s: float) -> int | None:
    """Take ``name`` if it is free (expired); return the new fencing token, or None."""
    statement = (
        update(CollectorLease)
        .where(CollectorLease.name == name, CollectorLease.expires_at < func.clock_timestamp())
        .values(
            holder=member_id,
            token=CollectorLease.token + 1,
            expires_at=func.clock_timestamp() + timedelta(seconds=ttl_s),
        )
        .returning(CollectorLease.token)
    )
    token = session.execute(statement).scalar_one_or_none()
    return None if token is None else int(token)


def renew(session: Session, held: dict[str, int], member_id: str, ttl_s: float) -> set[str]:
    """Extend the leases in ``held`` (name → token) still ours; return their names.

    One still ours but already expired is renewed too: nobody took it (that would have
    changed the token), so nobody wrote under a newer token."""
    if not held:
        return set()
    rows = session.execute(
        update(CollectorLease)
        .where(CollectorLease.name.in_(held), CollectorLease.holder == member_id)
        .values(expires_at=func.clock_timestamp() + timedelta(seconds=ttl_s))
        .returning(CollectorLease.name, CollectorLease.token)
    ).all()
    return {name for name, token in rows if held.get(name) == token}


def release(session: Session, held: dict[str, int], member_id: str) -> None:
    """Give leases back at once (a clean stop or a rebalance), so others need not wait."""
    for name, token in held.items():
        session.execute(
            update(CollectorLease)
            .where(
                CollectorLease.name == name,
                CollectorLease.holder == member_id,
                CollectorLease.token == token,
            )
            .values(expires_at=NEVER)
        )


def still_held(session: Session, held: dict[str, int], member_id: str) -> set[str]:
    """The leases in ``held`` this member still holds under the same token, locked against
    a take-over until the calling transaction ends (the fencing check before a commit)."""
    if not held:
        return set()
    rows = session.execute(
        select(CollectorLease.name, CollectorLease.holder, CollectorLease.token)
        .where(CollectorLease.name.in_(held))
        .with_for_update(read=True)
    ).all()
    return {name for name, holder, token in rows if holder == member_id and held[name] == token}


def holders(session: Session) -> dict[str, str]:
    """Lease name → holder of every lease not expired (for status and tests)."""
    rows = session.execute(
        select(CollectorLease.name, CollectorLease.holder).where(
            CollectorLease.expires_at > func.clock_timestamp()
        )
    ).all()
    return {name: holder for name, holder in rows}


def placed_agents(session: Session) -> list[str]:
    """Agents the inventory places in a room: those a collector group subscribes to."""
    return list(session.scalars(select(Agent.id).where(Agent.room_id.is_not(None))))


STARTUP_LOCK_KEY = 0x726F6F6D  # "room": an advisory lock key of roomwatch's own


@contextmanager
def startup_lock(url: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock while a member migrates the schema and syncs the
    inventory, so members started together do it one after the other."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(select(func.pg_advisory_lock(STARTUP_LOCK_KEY)))
            try:
                yield
            finally:
                connection.execute(select(func.pg_advisory_unlock(STARTUP_LOCK_KEY)))
                connection.commit()
    finally:
        engine.dispose()

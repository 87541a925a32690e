"""Failed sign-ins in SQL: count, look back over a window, forget, prune.

Shared by every member of a collector group. On PostgreSQL a transaction that counts takes
a transaction-scoped advisory lock per key first, so two concurrent attempts for one name
cannot both see four failures and both pass; SQLite serialises writers itself (the caller
uses a write session: ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from roomwatch.collector.db.dialect import dialect_name
from roomwatch.collector.db.shared_state_models import SignInFailure

# The first half of PostgreSQL's two-part advisory lock keys: roomwatch's sign-in counts.
# (Two-part keys never collide with one-part ones such as the group's startup lock.)
LOCK_CLASS = 0x7369  # "si"

Key = tuple[str, str]  # (kind, key): ("user", "li.wei") or ("address", "10.0.0.7")


def lock_keys(session: Session, keys: Iterable[Key]) -> None:
    """Serialise counting per key until the transaction ends (PostgreSQL; SQLite already
    holds its single write lock). Sorted, so two transactions never wait on each other."""
    if dialect_name(session) != "postgresql":
        return
    for kind, key in sorted(keys):
        session.execute(
            select(func.pg_advisory_xact_lock(LOCK_CLASS, func.hashtext(f"{kind}:{key}")))
        )


def recent(session: Session, key: Key, since: datetime, newest: int) -> list[datetime]:
    """The times of the ``newest`` latest failures of ``key`` after ``since``, oldest first."""
    kind, value = key
    rows = session.scalars(
        select(SignInFailure.at)
        .where(SignInFailure.kind == kind, SignInFailure.key == value, SignInFailure.at > since)
        .order_by(SignInFailure.at.desc())
        .limit(newest)
    ).all()
    return sorted(rows)


def count(session: Session, keys: Iterable[Key], at: datetime) -> list[int]:
    """Count one attempt against each key; the new rows' ids."""
    rows = [SignInFailure(kind=kind, key=value, at=at) for kind, value in keys]
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def forget_user(session: Session, username_key: str) -> None:
    session.execute(
        delete(SignInFailure).where(SignInFailure.kind == "user", SignInFailure.key == username_key)
    )


def forget_rows(session: Session, ids: Iterable[int]) -> None:
    session.execute(delete(SignInFailure).where(SignInFailure.id.in_(list(ids))))


def prune(session: Session, before: datetime) -> int:
    """Delete failures older than ``before``; how many."""
    result = session.execute(delete(SignInFailure).where(SignInFailure.at <= before))
    return int(getattr(result, "rowcount", 0) or 0)

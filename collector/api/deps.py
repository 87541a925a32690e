"""Dependencies routes share: the database and a session per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from roomwatch.collector.db.session import Database

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_session(
    request: Request, database: Annotated[Database, Depends(get_database)]
) -> Iterator[Session]:
    """The request's session; for a write request (POST, PUT, PATCH, DELETE) a write session,
    which takes SQLite's write lock at its first statement (see ``Database.session``)."""
    with database.session(write=request.method not in SAFE_METHODS) as session:
        yield session


def get_read_session(database: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    """A session that does not take the write lock, for a write request whose writes happen
    in short transactions of their own (signing in and out)."""
    with database.session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]
ReadSession = Annotated[Session, Depends(get_read_session)]

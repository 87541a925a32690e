"""Opening the SQL database: engine, SQLite pragmas, migrations to the current schema."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
WRITE_OPTION = "roomwatch_write"
LOCKED_ATTEMPTS = 3
PRIVATE_FILE_MODE = 0o600
T = TypeVar("T")


class Database:
    """An engine plus a session factory; ``open_database`` migrates it to the head revision."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """A session that commits on success and rolls back on error.

        ``write`` is for a transaction that reads and then writes. SQLite starts transactions
        deferred: one that read first fails at once ("database is locked") when another
        connection committed in between, and waiting does not help. A write session takes
        SQLite's write lock at its first statement instead (``BEGIN IMMEDIATE``), waiting for
        it up to the busy timeout. That first statement runs when the session is first used,
        so a write session opened early (a request's) still lets others finish first; but code
        holding a write session must not open a second one that writes: it would wait for
        itself until the busy timeout. PostgreSQL locks rows as it goes and needs nothing
        here.
        """
        factory = self._write_sessions if write else self._sessions
        with factory() as session, session.begin():
            yield session

    def transact(self, work: Callable[[Session], T], write: bool = False) -> T:
        """``work`` in a short transaction of its own, run again if SQLite says "locked".

        For work that usually only reads but may write (a token's last use): the first
        attempt does not take the write lock, and an attempt that failed on it retries with
        a write session. ``write`` takes the lock from the first attempt.
        """
        for attempt in range(1, LOCKED_ATTEMPTS + 1):
            try:
                with self.session(write=write or attempt > 1) as session:
                    return work(session)
            except OperationalError as exc:
                if attempt == LOCKED_ATTEMPTS or not is_locked(exc):
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, migrate: bool = True) -> Database:
    engine = create_engine(url, **_engine_options(url))
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    if migrate:
        upgrade(engine)
    return Database(engine)


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to ``revision`` with Alembic (the first schema is a migration too)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def is_locked(exc: OperationalError) -> bool:
    """Whether SQLite refused a statement because another connection holds the lock."""
    return "database is locked" in str(exc.orig) or "database is busy" in str(exc.orig)


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            _private_file(Path(database))
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {"pool_pre_ping": True}


def _private_file(path: Path) -> None:
    """Create the SQLite file owner-only (0600) before SQLite opens it, and make an existing
    one owner-only too: it holds password hashes, token hashes and session ids. SQLite gives
    its -wal and -shm files the database file's mode, so they follow."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE_MODE))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            if name.stat().st_mode & 0o077:
                name.chmod(PRIVATE_FILE_MODE)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling starts transactions late and lets a SAVEPOINT that
    # is the first write escape the outer rollback; SQLAlchemy's documented recipe is to
    # turn it off and emit BEGIN ourselves (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

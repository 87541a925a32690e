"""Transactions on SQLite while another connection writes: a write session waits for its turn
instead of failing with "database is locked", and a short read-mostly transaction that lost
the race is run again with the lock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from roomwatch.collector.db.models import Agent
from roomwatch.collector.db.session import Database, open_database
from roomwatch.collector.inventory import sync_inventory
from tests.collector.conftest import small_inventory

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@pytest.fixture
def db(sqlite_database: Database) -> Database:
    sync_inventory(sqlite_database, small_inventory())
    return sqlite_database


def _another_writer_commits(db: Database) -> None:
    def write() -> None:
        with db.session(write=True) as session:
            session.execute(update(Agent).values(last_seen_at=NOW))

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(timeout=10)


def test_a_read_then_write_session_fails_when_someone_wrote_in_between(db: Database):
    """What happened before: the plain (deferred) session reads, ingest commits, the write
    is refused. This is why write sessions exist."""
    with pytest.raises(Exception, match="database is locked"), db.session() as session:
        session.execute(select(func.count()).select_from(Agent)).one()
        _another_writer_commits(db)
        session.execute(update(Agent).values(online=True))


def test_a_write_session_reads_and_then_writes_while_others_write(db: Database):
    done = threading.Event()

    def late_writer() -> None:
        _another_writer_commits(db)
        done.set()

    with db.session(write=True) as session:
        agents = session.execute(select(func.count()).select_from(Agent)).scalar_one()
        other = threading.Thread(target=late_writer)
        other.start()
        assert not done.wait(0.3)  # the other writer waits for us, not the other way round
        session.execute(update(Agent).values(online=True))
    other.join(timeout=10)
    assert done.is_set()
    with db.session() as session:
        rows = session.execute(select(Agent.online, Agent.last_seen_at)).all()
    assert agents == len(rows) == 2
    assert all(online and last_seen is not None for online, last_seen in rows)


def test_transact_retries_a_read_then_write_that_lost_the_race(db: Database):
    attempts = []

    def touch(session: Session) -> int:
        attempts.append(1)
        count = session.execute(select(func.count()).select_from(Agent)).scalar_one()
        if len(attempts) == 1:
            _another_writer_commits(db)
        session.execute(update(Agent).values(online=True))
        return int(count)

    assert db.transact(touch) == 2
    assert len(attempts) == 2


def test_the_sqlite_file_and_its_wal_are_owner_only(tmp_path: Path):
    path = tmp_path / "data" / "collector.db"
    db = open_database(f"sqlite:///{path}")  # migrations write, so the WAL exists
    try:
        files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
        modes = {p.name: p.stat().st_mode & 0o777 for p in files}
    finally:
        db.dispose()
    assert modes == {p.name: 0o600 for p in files}


def test_a_readable_sqlite_file_is_made_owner_only_when_opened(tmp_path: Path):
    path = tmp_path / "collector.db"
    open_database(f"sqlite:///{path}").dispose()
    path.chmod(0o644)

    open_database(f"sqlite:///{path}").dispose()

    assert path.stat().st_mode & 0o777 == 0o600

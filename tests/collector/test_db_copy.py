"""``roomwatch collector migrate-db``: a real SQLite database copied to a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from roomwatch.collector.cli import main
from roomwatch.collector.db.models import Agent, Device, IngestedMessage
from roomwatch.collector.db.session import open_database
from roomwatch.collector.inventory import sync_inventory
from tests.collector.conftest import postgres_database, small_inventory, sqlite_url


def test_migrate_db_copies_every_row_and_new_rows_get_fresh_ids(tmp_path: Path) -> None:
    source_url = sqlite_url(tmp_path)
    source = open_database(source_url)
    sync_inventory(source, small_inventory())
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    with source.session() as session:
        session.add_all(IngestedMessage(agent_id="a1", seq=s, received_at=now) for s in range(50))
    source.dispose()

    with postgres_database() as target_url:
        assert main(["collector", "migrate-db", "--from", source_url, "--to", target_url]) == 0
        target = open_database(target_url)
        with target.session() as session:
            assert session.scalar(select(func.count()).select_from(IngestedMessage)) == 50
            assert set(session.scalars(select(Agent.id))) == {"agent-1", "agent-2"}
        with target.session() as session:  # ids continue after the copied ones
            session.add(Device(room_id="r2", device="cam9", kind="camera"))
        target.dispose()
        # A second copy into the now non-empty database is refused, not merged.
        assert main(["collector", "migrate-db", "--from", source_url, "--to", target_url]) == 2

"""Migrations: a fresh database reaches the single head, the models and migrations agree,
and the whole history can be undone and redone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from roomwatch.collector.db.models import Base
from roomwatch.collector.db.session import MIGRATIONS_DIR, open_database, upgrade

# Every table the models declare, the feature modules' included (imported by models.py).
TABLES = set(Base.metadata.tables)
FIRST_TABLES = {"sites", "rooms", "agents", "devices", "device_state", "rollups_hourly",
                "ingested_messages", "faults", "fault_events"}  # fmt: skip


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_a_fresh_database_migrates_to_head_with_every_table(database_url: str):
    db = open_database(database_url)
    try:
        with db.engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        db.dispose()
    assert tables - {"alembic_version"} == TABLES >= FIRST_TABLES
    assert current == _head() == "0017_rollups_daily_clustered"


def test_models_and_migrations_agree(database_url: str):
    db = open_database(database_url)
    try:
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        db.dispose()
    assert diff == [], "models changed without a migration (alembic revision --autogenerate)"


def test_migrating_again_changes_nothing_and_downgrade_then_upgrade_works(database_url: str):
    db = open_database(database_url)
    db.dispose()
    again = open_database(database_url)  # already at head: a no-op
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with again.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    with again.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    upgrade(again.engine)
    with again.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) >= TABLES
    again.dispose()


def test_open_database_without_migrate_leaves_an_empty_file_empty(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_database(url, migrate=False).dispose()
    engine = create_engine(url)
    with engine.connect() as connection:
        assert inspect(connection).get_table_names() == []
    engine.dispose()


def test_daily_rollups_survive_being_clustered_and_unclustered(tmp_path):
    """0017 copies SQLite's daily rollups into a WITHOUT ROWID table (and back on
    downgrade): the folded days a report reads are all still there, row for row."""
    url = f"sqlite:///{tmp_path / 'daily.db'}"
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    row = (
        "INSERT INTO rollups_daily VALUES (1, 'cpu_pct', '2026-06-30 16:00:00.000000', "
        "'2026-07-01 16:00:00.000000', 24, 1440, 54000.0, 4.0, 84.0, 900.0, 'c000bfec')"
    )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0016_room_versions")
        connection.exec_driver_sql("INSERT INTO sites (id, name) VALUES ('s', 'S')")
        connection.exec_driver_sql("INSERT INTO rooms (id, site_id, name) VALUES ('r', 's', 'R')")
        connection.exec_driver_sql(
            "INSERT INTO devices (id, room_id, device, kind, procured, source) "
            "VALUES (1, 'r', 'host', 'host', 1, 'inventory')"
        )
        connection.exec_driver_sql(row)
        connection.exec_driver_sql(row.replace("cpu_pct", "mem_pct"))
        command.upgrade(config, "head")

    def table() -> tuple[str, list[tuple[object, ...]]]:
        with engine.connect() as connection:
            sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'rollups_daily'"
            ).scalar_one()
            rows = connection.exec_driver_sql(
                "SELECT * FROM rollups_daily ORDER BY metric"
            ).fetchall()
        return sql, [tuple(r) for r in rows]

    clustered, rows = table()
    assert "WITHOUT ROWID" in clustered
    assert [r[1] for r in rows] == ["cpu_pct", "mem_pct"]
    assert rows[0][4:] == (24, 1440, 54000.0, 4.0, 84.0, 900.0, "c000bfec")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0016_room_versions")
    heap, rows_back = table()
    assert "WITHOUT ROWID" not in heap
    assert rows_back == rows
    engine.dispose()

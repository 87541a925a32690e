"""Copying a whole roomwatch database to another one (SQLite → PostgreSQL).

The target is brought to the current schema by the same migrations, must be empty, and
receives every table in dependency order (parents first), in chunks; PostgreSQL's id
sequences are then moved past the copied ids, and every table's row count is compared.
"""

from __future__ import annotations

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.engine import Connection

from roomwatch.collector.db.models import Base
from roomwatch.collector.db.session import open_database
from roomwatch.collector.errors import CollectorError

CHUNK_ROWS = 2000


class CopyError(CollectorError):
    """The copy cannot start or did not arrive whole; the message says which table."""


def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """Copy every table; return table → rows copied. Raises CopyError on a non-empty
    target or a count that differs after the copy."""
    source = open_database(source_url)  # the source's schema is brought to head too
    target = open_database(target_url)
    tables = list(Base.metadata.sorted_tables)
    try:
        with source.engine.connect() as reading, target.engine.begin() as writing:
            for table in tables:
                if _count(writing, table):
                    raise CopyError(
                        f"the target already has rows in {table.name}; use an empty database"
                    )
            copied = {table.name: _copy_table(reading, writing, table) for table in tables}
            if writing.dialect.name == "postgresql":
                for table in tables:
                    _advance_sequence(writing, table)
            for table in tables:
                if _count(writing, table) != _count(reading, table):
                    raise CopyError(f"{table.name}: row counts differ after the copy")
    finally:
        source.dispose()
        target.dispose()
    return copied


def _copy_table(reading: Connection, writing: Connection, table: Table) -> int:
    rows = reading.execute(select(table)).mappings()
    total = 0
    while chunk := [dict(row) for row in rows.fetchmany(CHUNK_ROWS)]:
        writing.execute(insert(table), chunk)
        total += len(chunk)
    return total


def _count(connection: Connection, table: Table) -> int:
    return int(connection.scalar(select(func.count()).select_from(table)) or 0)


def _advance_sequence(writing: Connection, table: Table) -> None:
    """Rows inserted with explicit ids leave the id sequence at 1: move it past them."""
    for column in table.primary_key.columns:
        if column.autoincrement is True or (
            column.autoincrement == "auto" and column.type.python_type is int
        ):
            sequence = writing.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            )
            if sequence is None:
                continue
            highest = writing.scalar(select(func.max(column)))
            if highest is not None:
                writing.execute(
                    text("SELECT setval(:seq, :value)"), {"seq": sequence, "value": highest}
                )

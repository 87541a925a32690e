"""Dialect-specific SQL the stores share: upsert-capable INSERTs, least/greatest.

roomwatch runs on SQLite (embedded default) and PostgreSQL (production); both speak
``INSERT .. ON CONFLICT``, through SQLAlchemy's dialect ``insert`` constructs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import ReturnTypeFromArgs

# SQLite allows 32766 bound parameters per statement; rows of ~8 columns stay well below.
ROWS_PER_STATEMENT = 1000
# PostgreSQL takes a bulk upsert as one JSON document; bound the size of one statement.
ROWS_PER_JSON_STATEMENT = 10_000


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def upsert_insert(session: Session, table: Table) -> Any:
    """An INSERT that offers ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    name = dialect_name(session)
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"roomwatch supports SQLite and PostgreSQL, not {name}")


class Least(ReturnTypeFromArgs[Any]):
    """The smaller of its arguments: ``least()`` on PostgreSQL, scalar ``min()`` on SQLite."""

    name = "least"
    _register = False  # leave func.least alone for everyone else
    inherit_cache = True


class Greatest(ReturnTypeFromArgs[Any]):
    """The larger of its arguments: ``greatest()`` on PostgreSQL, scalar ``max()`` on SQLite."""

    name = "greatest"
    _register = False
    inherit_cache = True


@compiles(Least, "sqlite")
def _least_sqlite(element: Least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


@compiles(Greatest, "sqlite")
def _greatest_sqlite(element: Greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


def chunks(
    rows: list[dict[str, Any]], size: int = ROWS_PER_STATEMENT
) -> list[list[dict[str, Any]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def bulk_upsert(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    conflict: list[str],
    set_: Callable[[Any], dict[str, Any]],
    where: Callable[[Any], ColumnElement[bool]] | None = None,
) -> None:
    """``INSERT .. ON CONFLICT (conflict) DO UPDATE SET set_(excluded)`` for many rows.

    Every row has the same keys and no two rows share a conflict key. PostgreSQL gets the
    rows as one JSON document per 10,000 rows (``INSERT .. SELECT .. FROM
    json_to_recordset``: one round trip, one plan, cheap to encode); SQLite, in-process,
    gets an executemany.
    """
    if not rows:
        return
    columns = list(rows[0])
    insert = upsert_insert(session, table)
    postgres = dialect_name(session) == "postgresql"
    if postgres:
        document = bindparam("rows", type_=postgresql.JSON)
        source = func.json_to_recordset(document).table_valued(*(table.c[c] for c in columns))
        source = source.render_derived(with_types=True)
        insert = insert.from_select(columns, select(*(source.c[c] for c in columns)))
    excluded = insert.excluded
    statement = insert.on_conflict_do_update(
        index_elements=conflict,
        set_=set_(excluded),
        where=where(excluded) if where is not None else None,
    )
    if postgres:
        for chunk in chunks(rows, ROWS_PER_JSON_STATEMENT):
            session.execute(statement, {"rows": [_jsonable(row) for row in chunk]})
    else:
        for chunk in chunks(rows):
            session.execute(statement, chunk)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    # Datetime columns are UTC by convention (UtcDateTime); JSON carries them as RFC 3339.
    return {key: _json_value(value) for key, value in row.items()}


def _json_value(value: Any) -> Any:
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).isoformat()

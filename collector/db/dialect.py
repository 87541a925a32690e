"""Dialect-specific SQL the stores share: upsert-capable INSERTs, least/greatest.

roomwatch runs on SQLite (embedded default) and PostgreSQL (production); both speak
``INSERT .. ON CONFLICT``, through SQLAlchemy's dialect ``insert`` constructs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

# SQLite allows 32766 bound parameters per statement; rows of ~8 columns stay well below.
ROWS_PER_STATEMENT = 1000


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


class least(GenericFunction[float]):
    """The smaller of its arguments: ``least()`` on PostgreSQL, scalar ``min()`` on SQLite."""

    type = Float()
    inherit_cache = True


class greatest(GenericFunction[float]):
    """The larger of its arguments: ``greatest()`` on PostgreSQL, scalar ``max()`` on SQLite."""

    type = Float()
    inherit_cache = True


@compiles(least, "sqlite")
def _least_sqlite(element: least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


def chunks(
    rows: list[dict[str, Any]], size: int = ROWS_PER_STATEMENT
) -> list[list[dict[str, Any]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]

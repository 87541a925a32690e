"""Alembic environment for roomwatch: run programmatically, no alembic.ini needed.

``collector.db.session.upgrade`` passes an open connection in
``config.attributes["connection"]``; without one (a developer running Alembic by hand) the
URL comes from the ``sqlalchemy.url`` option or ``ROOMWATCH_DATABASE_URL``. SQLite runs in
batch mode, so later ALTERs become copy-and-move of the table.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from roomwatch.collector.db.models import Base, UtcDateTime

config = context.config
target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, _autogen_context: Any) -> str | Literal[False]:
    # Migrations spell the plain column type, so they never import today's model code.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("ROOMWATCH_DATABASE_URL")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url / ROOMWATCH_DATABASE_URL")
    return url


def run_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as own_connection:
        _configure(own_connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

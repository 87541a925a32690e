"""SQLite keeps ``rollups_daily`` in its key's order (WITHOUT ROWID).

The report reads a quarter's daily rows device by device, metric by metric (the period
figures grouped in key order, the hazard metrics' series as key ranges). In a rowid table
each of those index entries costs a second, random read of the table row; clustered by
(device, metric, day) the rows are the index, and the report's reads take a third of the
time on the bench (``docs/performance.md``). The table is copied once in key order, inside
the migration's transaction, which holds the write lock meanwhile: about half a minute per
million daily rows measured, and room for a second copy of the table on disk until it
ends (the file keeps that size until a VACUUM). PostgreSQL is left as it is.

Revision ID: 0017_rollups_daily_clustered
Revises: 0016_room_versions
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_rollups_daily_clustered"
down_revision: str | Sequence[str] | None = "0016_room_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("roomwatch.collector.db")

COLUMNS = (
    "device_id, metric, day_start, day_end, hours, count, sum, min, max, "
    "sum_of_hourly_means, sketch"
)


def _rebuild(with_rowid: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if not op.get_context().as_sql:  # offline (--sql) there is nothing to count
        rows = bind.exec_driver_sql("SELECT count(*) FROM rollups_daily").scalar_one()
        log.info(
            "rebuilding rollups_daily %s (%d rows, about half a minute per million)",
            "with rowids" if with_rowid else "in key order",
            rows,
        )
    op.create_table(
        "rollups_daily_copy",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(200), nullable=False),
        sa.Column("day_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.Column("sum_of_hourly_means", sa.Float(), nullable=False),
        sa.Column("sketch", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name="fk_rollups_daily_device_id_devices"
        ),
        sa.PrimaryKeyConstraint("device_id", "metric", "day_start", name="pk_rollups_daily"),
        sqlite_with_rowid=with_rowid,
    )
    op.execute(
        f"INSERT INTO rollups_daily_copy ({COLUMNS}) SELECT {COLUMNS} FROM rollups_daily "
        "ORDER BY device_id, metric, day_start"
    )
    op.drop_index("ix_rollups_daily_day", table_name="rollups_daily")
    op.drop_table("rollups_daily")
    op.rename_table("rollups_daily_copy", "rollups_daily")
    op.create_index("ix_rollups_daily_day", "rollups_daily", ["day_start", "day_end", "device_id"])


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)

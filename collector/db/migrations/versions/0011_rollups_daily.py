"""Daily rollups beside the hourly ones, and the marks of days to (re)fold.

Existing hourly rows are not folded here (the fold needs each site's time zone, which is
the collector's configuration): every (device, UTC date) that has hourly rows is marked
pending, so the collector's folding job builds the daily rows, and until then the report
reads those days from the hourly rows as before.

Revision ID: 0011_rollups_daily
Revises: 0010_user_sites
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_rollups_daily"
down_revision: str | Sequence[str] | None = "0010_user_sites"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollups_daily",
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
    )
    op.create_index("ix_rollups_daily_day", "rollups_daily", ["day_start", "day_end", "device_id"])
    op.create_table(
        "rollups_daily_pending",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "day", name="pk_rollups_daily_pending"),
    )
    bind = op.get_bind()
    utc_date = (
        "substr(hour, 1, 10)"  # SQLite keeps the UTC instant as ISO text
        if bind.dialect.name == "sqlite"
        else "CAST(hour AT TIME ZONE 'UTC' AS DATE)"
    )
    op.execute(
        "INSERT INTO rollups_daily_pending (device_id, day) "
        f"SELECT DISTINCT device_id, {utc_date} FROM rollups_hourly"
    )


def downgrade() -> None:
    op.drop_table("rollups_daily_pending")
    op.drop_index("ix_rollups_daily_day", table_name="rollups_daily")
    op.drop_table("rollups_daily")

"""Class timetables of sites and rooms (collector.timetable), from the inventory file.

Revision ID: 0004_timetables
Revises: 0003_merge_features
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_timetables"
down_revision: str | Sequence[str] | None = "0003_merge_features"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sites", sa.Column("timetable", sa.JSON(), nullable=True))
    op.add_column("rooms", sa.Column("timetable", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rooms") as batch:
        batch.drop_column("timetable")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("timetable")

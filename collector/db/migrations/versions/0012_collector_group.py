"""A collector group: leases of agent partitions and of the leader role, and its members.

Revision ID: 0012_collector_group
Revises: 0011_rollups_daily
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_collector_group"
down_revision: str | Sequence[str] | None = "0011_rollups_daily"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "collector_leases",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_collector_leases"),
    )
    op.create_table(
        "collector_members",
        sa.Column("member_id", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("partitions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_collector_members"),
    )


def downgrade() -> None:
    op.drop_table("collector_members")
    op.drop_table("collector_leases")

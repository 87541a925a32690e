"""Guard counts of the fault engine in SQL, so a restart or a hand-over keeps them.

Revision ID: 0013_fault_guards
Revises: 0012_collector_group
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_fault_guards"
down_revision: str | Sequence[str] | None = "0012_collector_group"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fault_guards",
        sa.Column("open_key", sa.String(420), nullable=False),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("room_id", sa.String(64), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("history", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("open_key", "rule_id", name="pk_fault_guards"),
    )
    op.create_index("ix_fault_guards_room", "fault_guards", ["room_id"])


def downgrade() -> None:
    op.drop_index("ix_fault_guards_room", table_name="fault_guards")
    op.drop_table("fault_guards")

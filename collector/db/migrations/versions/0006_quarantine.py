"""Dead-letter table for messages quarantined by ingest (poison messages).

Revision ID: 0006_quarantine
Revises: 0005_clock_restart
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_quarantine"
down_revision: str | Sequence[str] | None = "0005_clock_restart"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quarantined_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.String(300), nullable=False),
        sa.Column("agent_id", sa.String(64)),
        sa.Column("seq", sa.String(32)),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("payload_bytes", sa.Integer(), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quarantined_messages"),
    )
    op.create_index("ix_quarantined_received_at", "quarantined_messages", ["received_at"])
    op.create_index("ix_quarantined_messages_agent_id", "quarantined_messages", ["agent_id"])


def downgrade() -> None:
    op.drop_index("ix_quarantined_messages_agent_id", table_name="quarantined_messages")
    op.drop_index("ix_quarantined_received_at", table_name="quarantined_messages")
    op.drop_table("quarantined_messages")

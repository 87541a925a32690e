"""Faults keep their key after resolution, so an incident that comes back within the
reopen window reopens its fault instead of opening a new one.

Revision ID: 0007_fault_key
Revises: 0006_quarantine
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_fault_key"
down_revision: str | Sequence[str] | None = "0006_quarantine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("faults", sa.Column("fault_key", sa.String(420)))
    op.create_index("ix_faults_fault_key", "faults", ["fault_key"])
    # Rule faults had the key rule|target; people's faults never reopen by themselves.
    op.execute(
        "UPDATE faults SET fault_key = COALESCE(open_key, rule_id || '|' || target) "
        "WHERE source <> 'manual'"
    )


def downgrade() -> None:
    op.drop_index("ix_faults_fault_key", table_name="faults")
    with op.batch_alter_table("faults") as batch:
        batch.drop_column("fault_key")

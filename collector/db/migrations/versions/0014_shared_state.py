"""Sign-in failures and report jobs in SQL, shared by a collector group and kept over a
restart.

Revision ID: 0014_shared_state
Revises: 0013_fault_guards
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_shared_state"
down_revision: str | Sequence[str] | None = "0013_fault_guards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sign_in_failures"),
    )
    op.create_index("ix_sign_in_failures_key_at", "sign_in_failures", ["kind", "key", "at"])
    op.create_index("ix_sign_in_failures_at", "sign_in_failures", ["at"])
    op.create_table(
        "report_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("what", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alive_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("runner", sa.String(128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_status", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_report_jobs"),
    )
    op.create_index("ix_report_jobs_state_created", "report_jobs", ["state", "created_at"])


def downgrade() -> None:
    op.drop_table("report_jobs")
    op.drop_table("sign_in_failures")

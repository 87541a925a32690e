"""The plan's follow-through: the spare stock ledger, inspection reminders sent, the school's
checklist confirmations, and return visits and training sessions per site.

Revision ID: 0015_followup
Revises: 0014_shared_state
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_followup"
down_revision: str | Sequence[str] | None = "0014_shared_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _site_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites")
    )


def upgrade() -> None:
    op.create_table(
        "spare_movements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("fault_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "reason IN ('taken', 'returned', 'restock', 'count')",
            name=op.f("ck_spare_movements_reason"),
        ),
        _site_fk("spare_movements"),
        sa.ForeignKeyConstraint(
            ["fault_id"], ["faults.id"], name=op.f("fk_spare_movements_fault_id_faults")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spare_movements")),
    )
    op.create_index("ix_spare_movements_site_model", "spare_movements", ["site_id", "model"])
    op.create_index("ix_spare_movements_fault", "spare_movements", ["fault_id"])
    op.create_table(
        "inspection_reminders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        _site_fk("inspection_reminders"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_reminders")),
        sa.UniqueConstraint("site_id", "period_start", name="uq_inspection_reminder"),
    )
    op.create_table(
        "inspection_confirmations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("confirmed_by", sa.String(length=100), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entered_by", sa.String(length=100), nullable=False),
        sa.Column("entered_role", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        _site_fk("inspection_confirmations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_confirmations")),
        sa.UniqueConstraint("site_id", "period_start", name="uq_inspection_confirmation"),
    )
    op.create_table(
        "site_visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("people", sa.JSON(), nullable=False),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("issues", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('return_visit', 'training')", name=op.f("ck_site_visits_kind")
        ),
        _site_fk("site_visits"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_visits")),
    )
    op.create_index("ix_site_visits_site_day", "site_visits", ["site_id", "held_on"])


def downgrade() -> None:
    op.drop_index("ix_site_visits_site_day", table_name="site_visits")
    op.drop_table("site_visits")
    op.drop_table("inspection_confirmations")
    op.drop_table("inspection_reminders")
    op.drop_index("ix_spare_movements_fault", table_name="spare_movements")
    op.drop_index("ix_spare_movements_site_model", table_name="spare_movements")
    op.drop_table("spare_movements")

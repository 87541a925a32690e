"""Dispatch: each site's duty roster, and the record of each site's pre-class readiness
check (once per school day, across restarts).

Revision ID: 0009_dispatch
Revises: 0008_site_language
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_dispatch"
down_revision: str | Sequence[str] | None = "0008_site_language"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "duty_shifts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "site_id",
            sa.String(64),
            sa.ForeignKey("sites.id", name="fk_duty_shifts_site_id_sites", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("person", sa.String(100), nullable=False),
        sa.Column(
            "contact_id",
            sa.Integer(),
            sa.ForeignKey(
                "sla_contacts.id",
                name="fk_duty_shifts_contact_id_sla_contacts",
                ondelete="SET NULL",
            ),
        ),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("day", sa.Date()),
        sa.Column("start_hm", sa.String(5), nullable=False),
        sa.Column("end_hm", sa.String(5), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_duty_shifts"),
    )
    op.create_index("ix_duty_shift_site_day", "duty_shifts", ["site_id", "day"])
    op.create_table(
        "readiness_runs",
        sa.Column(
            "site_id",
            sa.String(64),
            sa.ForeignKey("sites.id", name="fk_readiness_runs_site_id_sites", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_ready", sa.Integer(), nullable=False),
        sa.Column("rooms", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", "day", name="pk_readiness_runs"),
    )


def downgrade() -> None:
    op.drop_table("readiness_runs")
    op.drop_index("ix_duty_shift_site_day", table_name="duty_shifts")
    op.drop_table("duty_shifts")

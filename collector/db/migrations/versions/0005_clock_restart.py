"""SLA clocks restarted by a level change (a class began) escalate under keys of their own.

Revision ID: 0005_clock_restart
Revises: 0004_timetables
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_clock_restart"
down_revision: str | Sequence[str] | None = "0004_timetables"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sla_clocks", sa.Column("restarted_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("sla_clocks") as batch:
        batch.drop_column("restarted_at")

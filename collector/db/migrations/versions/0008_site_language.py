"""Each site names the language its people read, so notifications speak it.

Revision ID: 0008_site_language
Revises: 0007_fault_key
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_site_language"
down_revision: str | Sequence[str] | None = "0007_fault_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sites", sa.Column("language", sa.String(8), nullable=False, server_default="zh-CN")
    )


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("language")

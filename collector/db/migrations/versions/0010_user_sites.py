"""Users bound to sites, and the ``school`` role for a school's own staff.

Revision ID: 0010_user_sites
Revises: 0009_dispatch
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_user_sites"
down_revision: str | Sequence[str] | None = "0009_dispatch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_ROLES = "role IN ('viewer', 'engineer', 'admin')"
_NEW_ROLES = "role IN ('viewer', 'school', 'engineer', 'admin')"


def upgrade() -> None:
    op.create_table(
        "user_sites",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_sites_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name="fk_user_sites_site_id_sites", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "site_id", name="pk_user_sites"),
    )
    op.create_index("ix_user_sites_site_id", "user_sites", ["site_id"])
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint("role", _NEW_ROLES)


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE role = 'school'")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
        batch.create_check_constraint("role", _OLD_ROLES)
    op.drop_index("ix_user_sites_site_id", table_name="user_sites")
    op.drop_table("user_sites")

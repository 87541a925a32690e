"""A change counter per room, bumped by every write the dashboard's views read; the API's
ETags and response cache are keyed on it (collector.db.room_versions).

Revision ID: 0016_room_versions
Revises: 0015_followup
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_room_versions"
down_revision: str | Sequence[str] | None = "0015_followup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "room_versions",
        sa.Column("room_id", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("room_id", name="pk_room_versions"),
    )
    # Every existing room starts counted once (the row of faults without a room, and of
    # rooms added later, appears with their first change; an empty database stays empty).
    op.execute("INSERT INTO room_versions (room_id, version) SELECT id, 1 FROM rooms")


def downgrade() -> None:
    op.drop_table("room_versions")

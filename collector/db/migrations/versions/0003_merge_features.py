"""Join the feature branches that grew from the first schema (SLA, workflow, reports).

Revision ID: 0003_merge_features
Revises: 0002_sla, 0002_workflow, 0002_reports
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0003_merge_features"
down_revision: str | Sequence[str] | None = ("0002_sla", "0002_workflow", "0002_reports")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the merge only gives the history one head again."""


def downgrade() -> None:
    """Nothing to undo."""

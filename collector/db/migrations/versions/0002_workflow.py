"""Fault workflow: life-cycle columns on faults, maintenance windows, suppressed firings,
maintenance log, surveys, per-site rule overrides, users and API tokens.

Revision ID: 0002_workflow
Revises: 0001_initial
Create Date: 2026-11-27 05:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_workflow"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("faults") as batch:
        batch.add_column(
            sa.Column("source", sa.String(length=16), server_default="rule", nullable=False)
        )
        batch.add_column(sa.Column("reporter", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("assignee", sa.String(length=100), nullable=True))
        batch.add_column(
            sa.Column("flapping", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(sa.Column("clear_since", _TS, nullable=True))
        batch.add_column(
            sa.Column("remote_sessions", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("on_site_visits", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("acknowledged_at", _TS, nullable=True))
        batch.add_column(sa.Column("closed_at", _TS, nullable=True))

    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=True),
        sa.Column("room_id", sa.String(length=64), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("starts_at", _TS, nullable=True),
        sa.Column("ends_at", _TS, nullable=True),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("start_time", sa.String(length=5), nullable=True),
        sa.Column("end_time", sa.String(length=5), nullable=True),
        sa.Column("date_from", sa.Date(), nullable=True),
        sa.Column("date_to", sa.Date(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint(
            "kind IN ('once', 'weekly', 'dates')", name=op.f("ck_maintenance_windows_kind")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_maintenance_windows_room_id_rooms")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_maintenance_windows_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_windows")),
    )
    op.create_index("ix_window_room", "maintenance_windows", ["room_id"], unique=False)
    op.create_index("ix_window_site", "maintenance_windows", ["site_id"], unique=False)

    op.create_table(
        "suppressed_firings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("open_key", sa.String(length=420), nullable=True),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("room_id", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("root_fault_id", sa.Integer(), nullable=True),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.Column("first_at", _TS, nullable=False),
        sa.Column("last_at", _TS, nullable=False),
        sa.Column("fire_count", sa.Integer(), nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("fault_id", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "reason IN ('root_cause', 'maintenance')", name=op.f("ck_suppressed_firings_reason")
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_suppressed_firings_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["fault_id"], ["faults.id"], name=op.f("fk_suppressed_firings_fault_id_faults")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_suppressed_firings_room_id_rooms")
        ),
        sa.ForeignKeyConstraint(
            ["root_fault_id"],
            ["faults.id"],
            name=op.f("fk_suppressed_firings_root_fault_id_faults"),
        ),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["maintenance_windows.id"],
            name=op.f("fk_suppressed_firings_window_id_maintenance_windows"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressed_firings")),
        sa.UniqueConstraint("open_key", name="uq_suppressed_firing_open_key"),
    )
    op.create_index("ix_suppressed_room", "suppressed_firings", ["room_id"], unique=False)
    op.create_index("ix_suppressed_root", "suppressed_firings", ["root_fault_id"], unique=False)
    op.create_index("ix_suppressed_window", "suppressed_firings", ["window_id"], unique=False)

    op.create_table(
        "maintenance_logs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fault_id", sa.Integer(), nullable=False),
        sa.Column("phenomenon", sa.Text(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("solution", sa.Text(), nullable=False),
        sa.Column("engineer", sa.String(length=100), nullable=False),
        sa.Column("parts_replaced", sa.JSON(), nullable=False),
        sa.Column("spares_used", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["fault_id"], ["faults.id"], name=op.f("fk_maintenance_logs_fault_id_faults")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_logs")),
        sa.UniqueConstraint("fault_id", name=op.f("uq_maintenance_logs_fault_id")),
    )

    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fault_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
        sa.Column("sent_by", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("answered_at", _TS, nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.CheckConstraint("score IS NULL OR score BETWEEN 1 AND 5", name=op.f("ck_surveys_score")),
        sa.ForeignKeyConstraint(
            ["fault_id"], ["faults.id"], name=op.f("fk_surveys_fault_id_faults")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("fault_id", name=op.f("uq_surveys_fault_id")),
    )

    op.create_table(
        "rule_overrides",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_overrides")),
        sa.UniqueConstraint("rule_id", "site_id", name="uq_rule_override_rule_site"),
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.CheckConstraint("role IN ('viewer', 'engineer', 'admin')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("last_used_at", _TS, nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.CheckConstraint("kind IN ('api', 'session')", name=op.f("ck_api_tokens_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("rule_overrides")
    op.drop_table("surveys")
    op.drop_table("maintenance_logs")
    op.drop_index("ix_suppressed_window", table_name="suppressed_firings")
    op.drop_index("ix_suppressed_root", table_name="suppressed_firings")
    op.drop_index("ix_suppressed_room", table_name="suppressed_firings")
    op.drop_table("suppressed_firings")
    op.drop_index("ix_window_site", table_name="maintenance_windows")
    op.drop_index("ix_window_room", table_name="maintenance_windows")
    op.drop_table("maintenance_windows")
    with op.batch_alter_table("faults") as batch:
        for column in (
            "closed_at",
            "acknowledged_at",
            "on_site_visits",
            "remote_sessions",
            "clear_since",
            "flapping",
            "assignee",
            "reporter",
            "source",
        ):
            batch.drop_column(column)

"""SLA: policies and their deadlines, site mapping, calendar overrides, contacts, clocks,
escalation steps, and the notification outbox.

Revision ID: 0002_sla
Revises: 0001_initial
Create Date: 2026-11-27 05:02:58.855367
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_sla"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notify_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.Column("fault_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_outbox")),
        sa.UniqueConstraint("dedupe_key", name="uq_notify_outbox_dedupe_key"),
    )
    op.create_index("ix_notify_outbox_due", "notify_outbox", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_notify_outbox_fault_id"), "notify_outbox", ["fault_id"])
    op.create_table(
        "sla_calendar_overrides",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_sla_calendar_overrides")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("working_hours", sa.JSON(), nullable=False),
        sa.Column("escalation", sa.JSON(), nullable=False),
        sa.Column("notify_on", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
    )
    op.create_table(
        "sla_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sla_settings")),
    )
    op.create_table(
        "sla_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=64), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_sla_contacts_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_contacts")),
    )
    op.create_index("ix_sla_contact_role_site", "sla_contacts", ["role", "site_id"])
    op.create_table(
        "sla_policy_deadlines",
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("measure", sa.String(length=16), nullable=False),
        sa.Column("starts", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "measure IN ('wall', 'working')", name=op.f("ck_sla_policy_deadlines_measure")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_sla_policy_deadlines_amount")),
        sa.CheckConstraint("level BETWEEN 1 AND 4", name=op.f("ck_sla_policy_deadlines_level")),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["sla_policies.id"],
            name=op.f("fk_sla_policy_deadlines_policy_id_sla_policies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("policy_id", "level", "kind", name=op.f("pk_sla_policy_deadlines")),
    )
    op.create_table(
        "sla_site_policies",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["sla_policies.id"],
            name=op.f("fk_sla_site_policies_policy_id_sla_policies"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_sla_site_policies_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_sla_site_policies")),
    )
    op.create_index(op.f("ix_sla_site_policies_policy_id"), "sla_site_policies", ["policy_id"])
    op.create_table(
        "sla_clocks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fault_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("policy_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(length=16), nullable=False),
        sa.Column("budget_s", sa.Float(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_total_s", sa.Float(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_by", sa.String(length=32), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overrun_min", sa.Integer(), nullable=True),
        sa.CheckConstraint("measure IN ('wall', 'working')", name=op.f("ck_sla_clocks_measure")),
        sa.ForeignKeyConstraint(
            ["fault_id"], ["faults.id"], name=op.f("fk_sla_clocks_fault_id_faults")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_clocks")),
        sa.UniqueConstraint("fault_id", "kind", name="uq_sla_clock_fault_kind"),
    )
    op.create_index("ix_sla_clock_running", "sla_clocks", ["stopped_at", "deadline_at"])
    op.create_table(
        "sla_escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fault_id", sa.Integer(), nullable=False),
        sa.Column("step_key", sa.String(length=120), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("clock_kind", sa.String(length=16), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("notified", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fault_id"], ["faults.id"], name=op.f("fk_sla_escalations_fault_id_faults")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_escalations")),
        sa.UniqueConstraint("step_key", name="uq_sla_escalation_step_key"),
    )
    op.create_index(op.f("ix_sla_escalations_fault_id"), "sla_escalations", ["fault_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sla_escalations_fault_id"), table_name="sla_escalations")
    op.drop_table("sla_escalations")
    op.drop_index("ix_sla_clock_running", table_name="sla_clocks")
    op.drop_table("sla_clocks")
    op.drop_index(op.f("ix_sla_site_policies_policy_id"), table_name="sla_site_policies")
    op.drop_table("sla_site_policies")
    op.drop_table("sla_policy_deadlines")
    op.drop_index("ix_sla_contact_role_site", table_name="sla_contacts")
    op.drop_table("sla_contacts")
    op.drop_table("sla_settings")
    op.drop_table("sla_policies")
    op.drop_table("sla_calendar_overrides")
    op.drop_index("ix_notify_outbox_due", table_name="notify_outbox")
    op.drop_index(op.f("ix_notify_outbox_fault_id"), table_name="notify_outbox")
    op.drop_table("notify_outbox")

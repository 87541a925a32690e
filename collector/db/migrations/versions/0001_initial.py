"""Initial schema: inventory, latest device state, hourly rollups, dedupe record, faults.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-27 04:41:37.597041
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingested_messages",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "seq", name=op.f("pk_ingested_messages")),
    )
    op.create_index(
        op.f("ix_ingested_messages_received_at"), "ingested_messages", ["received_at"], unique=False
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_table(
        "rooms",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("building", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_rooms_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rooms")),
    )
    op.create_index(op.f("ix_rooms_site_id"), "rooms", ["site_id"], unique=False)
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("room_id", sa.String(length=64), nullable=True),
        sa.Column("hostname", sa.String(length=200), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_agents_room_id_rooms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
    )
    op.create_index(op.f("ix_agents_room_id"), "agents", ["room_id"], unique=False)
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("room_id", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("vendor", sa.String(length=200), nullable=True),
        sa.Column("firmware", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("parent", sa.String(length=64), nullable=True),
        sa.Column("procured", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_devices_room_id_rooms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("room_id", "device", name="uq_device_room_device"),
    )
    op.create_table(
        "device_state",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("rtt_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sampled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("tables", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_state_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_state")),
    )
    op.create_table(
        "faults",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("open_key", sa.String(length=420), nullable=True),
        sa.Column("room_id", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fire_count", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 4", name=op.f("ck_faults_level")),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_faults_device_id_devices")
        ),
        sa.ForeignKeyConstraint(["room_id"], ["rooms.id"], name=op.f("fk_faults_room_id_rooms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faults")),
        sa.UniqueConstraint("open_key", name="uq_fault_open_key"),
    )
    op.create_index("ix_fault_device", "faults", ["device_id"], unique=False)
    op.create_index("ix_fault_room", "faults", ["room_id"], unique=False)
    op.create_index("ix_fault_status", "faults", ["status"], unique=False)
    op.create_table(
        "rollups_hourly",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("min", sa.Float(), nullable=False),
        sa.Column("max", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_rollups_hourly_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollups_hourly")),
        sa.UniqueConstraint("device_id", "metric", "hour", name="uq_rollup_device_metric_hour"),
    )
    op.create_index("ix_rollup_hour", "rollups_hourly", ["hour"], unique=False)
    op.create_table(
        "fault_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fault_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fault_id"], ["faults.id"], name=op.f("fk_fault_events_fault_id_faults")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fault_events")),
    )
    op.create_index(op.f("ix_fault_events_fault_id"), "fault_events", ["fault_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_fault_events_fault_id"), table_name="fault_events")
    op.drop_table("fault_events")
    op.drop_index("ix_rollup_hour", table_name="rollups_hourly")
    op.drop_table("rollups_hourly")
    op.drop_index("ix_fault_status", table_name="faults")
    op.drop_index("ix_fault_room", table_name="faults")
    op.drop_index("ix_fault_device", table_name="faults")
    op.drop_table("faults")
    op.drop_table("device_state")
    op.drop_table("devices")
    op.drop_index(op.f("ix_agents_room_id"), table_name="agents")
    op.drop_table("agents")
    op.drop_index(op.f("ix_rooms_site_id"), table_name="rooms")
    op.drop_table("rooms")
    op.drop_table("sites")
    op.drop_index(op.f("ix_ingested_messages_received_at"), table_name="ingested_messages")
    op.drop_table("ingested_messages")

"""Inspection reports: schedules, checklist items and results, spare stock, vendor
advisories, the next period's goals and archived reports.

Revision ID: 0002_reports
Revises: 0001_initial
Create Date: 2026-11-27 05:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_reports"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _site_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["site_id"], ["sites.id"], name=op.f(f"fk_{table}_site_id_sites")
    )


def upgrade() -> None:
    op.create_table(
        "inspection_schedules",
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("customer", sa.String(length=200), nullable=True),
        sa.Column("interval_months", sa.Integer(), nullable=False),
        sa.Column("anchor", sa.Date(), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("engineer", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "interval_months BETWEEN 1 AND 12", name=op.f("ck_inspection_schedules_interval")
        ),
        _site_fk("inspection_schedules"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_inspection_schedules")),
    )
    op.create_table(
        "inspection_checklist_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("title_zh", sa.String(length=300), nullable=False),
        sa.Column("title_en", sa.String(length=300), nullable=False),
        sa.Column("check", sa.JSON(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _site_fk("inspection_checklist_items"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_checklist_items")),
        sa.UniqueConstraint("site_id", "key", name="uq_checklist_item_site_key"),
    )
    op.create_table(
        "inspection_checklist_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("item_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("checked_by", sa.String(length=100), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pass', 'fail', 'n/a')",
            name=op.f("ck_inspection_checklist_results_status"),
        ),
        _site_fk("inspection_checklist_results"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_checklist_results")),
        sa.UniqueConstraint("site_id", "period_start", "item_key", name="uq_checklist_result"),
    )
    op.create_table(
        "spare_stock",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("held >= 0 AND used >= 0", name=op.f("ck_spare_stock_counts")),
        _site_fk("spare_stock"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spare_stock")),
        sa.UniqueConstraint("site_id", "model", name="uq_spare_stock_site_model"),
    )
    op.create_table(
        "vendor_advisories",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("vendor", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("firmware_min", sa.String(length=64), nullable=True),
        sa.Column("firmware_max", sa.String(length=64), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "severity IN ('low', 'medium', 'high', 'critical')",
            name=op.f("ck_vendor_advisories_severity"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_advisories")),
        sa.UniqueConstraint("code", name="uq_vendor_advisories_code"),
    )
    op.create_table(
        "inspection_goals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("edited_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _site_fk("inspection_goals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_goals")),
        sa.UniqueConstraint("site_id", "period_start", name="uq_inspection_goals"),
    )
    op.create_table(
        "inspection_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site_id", sa.String(length=64), nullable=False),
        sa.Column("period_label", sa.String(length=32), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_by", sa.String(length=100), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("regenerated_from", sa.Integer(), nullable=True),
        sa.CheckConstraint("lang IN ('zh-CN', 'en')", name=op.f("ck_inspection_reports_lang")),
        sa.ForeignKeyConstraint(
            ["regenerated_from"],
            ["inspection_reports.id"],
            name=op.f("fk_inspection_reports_regenerated_from_inspection_reports"),
        ),
        _site_fk("inspection_reports"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspection_reports")),
    )
    op.create_index(
        "ix_inspection_reports_site_period",
        "inspection_reports",
        ["site_id", "period_start"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_inspection_reports_site_period", table_name="inspection_reports")
    op.drop_table("inspection_reports")
    op.drop_table("inspection_goals")
    op.drop_table("vendor_advisories")
    op.drop_table("spare_stock")
    op.drop_table("inspection_checklist_results")
    op.drop_table("inspection_checklist_items")
    op.drop_table("inspection_schedules")

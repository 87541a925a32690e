"""SQL schema of the fault workflow (on the shared ``Base``; migration ``0002_workflow``):
maintenance windows, suppressed firings (root cause and maintenance), the maintenance log,
satisfaction surveys, per-site rule overrides, users and their API tokens / sessions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from roomwatch.collector.db.models import Base

# suppressed_firings.reason
REASON_ROOT_CAUSE = "root_cause"
REASON_MAINTENANCE = "maintenance"
# suppressed_firings.outcome
OUTCOME_CLEARED = "cleared"
OUTCOME_OPENED = "opened"
# maintenance_windows.kind
WINDOW_KINDS = ("once", "weekly", "dates")
# users.role, weakest first; a school's staff read like a viewer (their own sites only) and
# may report faults, complain and answer surveys (collector.api.auth)
ROLES = ("viewer", "school", "engineer", "admin")
# api_tokens.kind
TOKEN_API = "api"
TOKEN_SESSION = "session"
# rule_overrides.site_id for an override of every site
ALL_SITES = "*"


class MaintenanceWindow(Base):
    """A time when faults in a scope are not opened (samples are still stored).

    ``once``: ``starts_at``..``ends_at``. ``weekly``: on ``weekdays`` (0 = Monday) from
    ``start_time`` to ``end_time`` (``HH:MM`` local; an end before the start runs past
    midnight), optionally only between ``date_from`` and ``date_to``. ``dates``: whole local
    days ``date_from``..``date_to`` (a term holiday). Local = the site's time zone. Scope:
    a site, a room, or one device of a room.
    """

    __tablename__ = "maintenance_windows"
    __table_args__ = (
        CheckConstraint("kind IN ('once', 'weekly', 'dates')", name="kind"),
        Index("ix_window_room", "room_id"),
        Index("ix_window_site", "site_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    room_id: Mapped[str | None] = mapped_column(ForeignKey("rooms.id"))
    device: Mapped[str | None] = mapped_column(String(64))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)
    start_time: Mapped[str | None] = mapped_column(String(5))
    end_time: Mapped[str | None] = mapped_column(String(5))
    date_from: Mapped[date | None] = mapped_column(Date)
    date_to: Mapped[date | None] = mapped_column(Date)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class SuppressedFiring(Base):
    """A rule that fired on a target but opened no fault: its cause was a parent's active
    fault (``root_cause``, linked by ``root_fault_id``) or a maintenance window
    (``maintenance``, ``window_id``). ``open_key`` (``rule|target``) is set while it lasts;
    it ends ``cleared`` or ``opened`` (then ``fault_id`` is the fault opened for it)."""

    __tablename__ = "suppressed_firings"
    __table_args__ = (
        UniqueConstraint("open_key", name="uq_suppressed_firing_open_key"),
        Index("ix_suppressed_room", "room_id"),
        Index("ix_suppressed_root", "root_fault_id"),
        Index("ix_suppressed_window", "window_id"),
        CheckConstraint("reason IN ('root_cause', 'maintenance')", name="reason"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    open_key: Mapped[str | None] = mapped_column(String(420))
    rule_id: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(300))
    room_id: Mapped[str | None] = mapped_column(ForeignKey("rooms.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(String(16))
    root_fault_id: Mapped[int | None] = mapped_column(ForeignKey("faults.id"))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("maintenance_windows.id"))
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    fire_count: Mapped[int] = mapped_column(Integer, default=1)
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))
    fault_id: Mapped[int | None] = mapped_column(ForeignKey("faults.id"))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MaintenanceLog(Base):
    """The plan's maintenance log of one fault: phenomenon (故障现象), cause (产生原因),
    solution (解决方法), who, and what was replaced or taken from the spares."""

    __tablename__ = "maintenance_logs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fault_id: Mapped[int] = mapped_column(ForeignKey("faults.id"), unique=True)
    phenomenon: Mapped[str] = mapped_column(Text)
    cause: Mapped[str] = mapped_column(Text)
    solution: Mapped[str] = mapped_column(Text)
    engineer: Mapped[str] = mapped_column(String(100))
    parts_replaced: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    spares_used: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Survey(Base):
    """A satisfaction survey a fault made due (service plan: after on-site visits and
    repeated remote sessions; never for a consultation or a trivial phone fix)."""

    __tablename__ = "surveys"
    __table_args__ = (CheckConstraint("score IS NULL OR score BETWEEN 1 AND 5", name="score"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fault_id: Mapped[int] = mapped_column(ForeignKey("faults.id"), unique=True)
    reason: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    sent_by: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(32))
    answered_at: Mapped[datetime | None]
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")


class RuleOverrideRow(Base):
    """An admin's change to one rule for one site (``site_id = '*'``: every site)."""

    __tablename__ = "rule_overrides"
    __table_args__ = (UniqueConstraint("rule_id", "site_id", name="uq_rule_override_rule_site"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(100))
    site_id: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]


class User(Base):
    """A person using the API: role viewer, school, engineer or admin; Argon2 password hash."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('viewer', 'school', 'engineer', 'admin')", name="role"),
        UniqueConstraint("username", name="uq_users_username"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="ApiToken.id"
    )


class ApiToken(Base):
    """An API token or a web session of a user; only the SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        CheckConstraint("kind IN ('api', 'session')", name="kind"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user: Mapped[User] = relationship(back_populates="tokens")

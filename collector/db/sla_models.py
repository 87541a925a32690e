"""SQL schema of the SLA engine and the notification outbox (on the shared ``Base``).

Policies are rows (a policy plus one row per level and clock), so admins edit them through
the API; clocks, escalation steps and outgoing messages are the measured facts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from roomwatch.collector.db.models import Base

# sla_clocks.kind / sla_policy_deadlines.kind
CLOCK_KINDS = ("respond", "on_site", "fix", "replace")
# notify_outbox.status
OUTBOX_PENDING = "pending"
OUTBOX_SENT = "sent"
OUTBOX_FAILED = "failed"


class SlaPolicy(Base):
    """A contract's service levels; ``source`` says whether a file or an admin wrote it."""

    __tablename__ = "sla_policies"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    working_hours: Mapped[dict[str, Any]] = mapped_column(JSON)
    escalation: Mapped[dict[str, Any]] = mapped_column(JSON)
    notify_on: Mapped[list[str]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16), default="file")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))
    deadlines: Mapped[list[SlaPolicyDeadline]] = relationship(
        back_populates="policy",
        cascade="all, delete-orphan",
        order_by="(SlaPolicyDeadline.level, SlaPolicyDeadline.kind)",
    )


class SlaPolicyDeadline(Base):
    """One clock of one level of a policy: ``amount unit`` of wall-clock or working time."""

    __tablename__ = "sla_policy_deadlines"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 4", name="level"),
        CheckConstraint("measure IN ('wall', 'working')", name="measure"),
        CheckConstraint("amount > 0", name="amount"),
    )
    policy_id: Mapped[str] = mapped_column(
        ForeignKey("sla_policies.id", ondelete="CASCADE"), primary_key=True
    )
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    measure: Mapped[str] = mapped_column(String(16))
    starts: Mapped[str] = mapped_column(String(32), default="opened")
    policy: Mapped[SlaPolicy] = relationship(back_populates="deadlines")


class SlaSetting(Base):
    """Small named settings (``default_policy``)."""

    __tablename__ = "sla_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class SlaSitePolicy(Base):
    """Which policy (contract) a site's faults get; a site without a row gets the default."""

    __tablename__ = "sla_site_policies"
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), primary_key=True)
    policy_id: Mapped[str] = mapped_column(ForeignKey("sla_policies.id"), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))


class SlaCalendarOverride(Base):
    """An admin's word on a date (holiday or working day); it wins over the package."""

    __tablename__ = "sla_calendar_overrides"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))


class SlaContact(Base):
    """A person of an escalation chain. ``site_id`` NULL = for every site; ``channels``
    lists extra channel names (webhooks) beside e-mail."""

    __tablename__ = "sla_contacts"
    __table_args__ = (Index("ix_sla_contact_role_site", "role", "site_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(64))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")


class SlaClock(Base):
    """One SLA clock of one fault.

    ``budget_s`` and ``paused_total_s`` are in the clock's ``measure`` (working seconds for
    a working-time clock); ``deadline_at`` = start + budget + paused time. ``overrun_min``
    is stop − deadline in minutes of that measure: positive = late, negative = early.
    """

    __tablename__ = "sla_clocks"
    __table_args__ = (
        UniqueConstraint("fault_id", "kind", name="uq_sla_clock_fault_kind"),
        Index("ix_sla_clock_running", "stopped_at", "deadline_at"),
        CheckConstraint("measure IN ('wall', 'working')", name="measure"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fault_id: Mapped[int] = mapped_column(ForeignKey("faults.id"))
    kind: Mapped[str] = mapped_column(String(16))
    policy_id: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    measure: Mapped[str] = mapped_column(String(16))
    budget_s: Mapped[float] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    deadline_at: Mapped[datetime]
    paused_at: Mapped[datetime | None]
    paused_total_s: Mapped[float] = mapped_column(Float, default=0.0)
    stopped_at: Mapped[datetime | None]
    stopped_by: Mapped[str | None] = mapped_column(String(32), doc="the status that stopped it")
    met: Mapped[bool | None] = mapped_column(Boolean)
    breached_at: Mapped[datetime | None]
    # set when a level change (a class began) started the clock again: escalation anew
    restarted_at: Mapped[datetime | None]
    overrun_min: Mapped[int | None] = mapped_column(Integer)


class SlaEscalation(Base):
    """A step of the escalation chain that fired. ``step_key`` (fault|clock|step) is unique,
    so a step fires once even with several collectors; complaints have no key."""

    __tablename__ = "sla_escalations"
    __table_args__ = (UniqueConstraint("step_key", name="uq_sla_escalation_step_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fault_id: Mapped[int] = mapped_column(ForeignKey("faults.id"), index=True)
    step_key: Mapped[str | None] = mapped_column(String(120))
    trigger: Mapped[str] = mapped_column(String(16), doc="warning | breach | complaint")
    clock_kind: Mapped[str | None] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer, doc="position of the role in the chain, 0 first")
    role: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text, default="")
    notified: Mapped[int] = mapped_column(Integer, default=0, doc="messages enqueued")


class OutboxMessage(Base):
    """A message to send through a channel, written in the caller's transaction.

    ``dedupe_key`` is unique: the same transition enqueued twice is one message.
    """

    __tablename__ = "notify_outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_notify_outbox_dedupe_key"),
        Index("ix_notify_outbox_due", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    fault_id: Mapped[int | None] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(16), default=OUTBOX_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

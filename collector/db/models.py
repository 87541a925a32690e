"""SQL schema (SQLAlchemy 2). Changes go with an Alembic migration in ``migrations/versions``.

Everything with a life cycle lives here: inventory, latest device state, hourly rollups,
faults and their events, and the (agent, seq) record that makes storage exactly-once.
"""

from __future__ import annotations

from datetime import UTC as _UTC
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(_UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)


# Named constraints keep Alembic's batch mode (SQLite) and later migrations deterministic.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


# Device.source values: listed in the inventory file, or first reported by an agent.
SOURCE_INVENTORY = "inventory"
SOURCE_AGENT = "agent"


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # Added by migration 0008_site_language: the language of the site's notifications.
    language: Mapped[str] = mapped_column(String(8), default="zh-CN", server_default="zh-CN")
    # collector.timetable.Timetable as JSON; None: no timetable (always "in class")
    timetable: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    rooms: Mapped[list[Room]] = relationship(back_populates="site")


class Room(Base):
    __tablename__ = "rooms"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    building: Mapped[str | None] = mapped_column(String(200))
    timetable: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # None: the site's
    site: Mapped[Site] = relationship(back_populates="rooms")
    devices: Mapped[list[Device]] = relationship(back_populates="room")
    agents: Mapped[list[Agent]] = relationship(back_populates="room")


class Agent(Base):
    """A room agent. Its room comes from the inventory file, never from a payload."""

    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    room_id: Mapped[str | None] = mapped_column(ForeignKey("rooms.id"), index=True)
    hostname: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[str | None] = mapped_column(String(64))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime | None]
    room: Mapped[Room | None] = relationship(back_populates="agents")


class Device(Base):
    """A device of a room. ``device`` is the id the agent uses (``host`` is the PC itself)."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("room_id", "device", name="uq_device_room_device"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id"))
    device: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(200))
    vendor: Mapped[str | None] = mapped_column(String(200))
    firmware: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(200))
    parent: Mapped[str | None] = mapped_column(String(64))
    procured: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default=SOURCE_INVENTORY)
    room: Mapped[Room] = relationship(back_populates="devices")
    state: Mapped[DeviceState | None] = relationship(back_populates="device_row", uselist=False)


class DeviceState(Base):
    """Latest sample of a device, for the API's room view."""

    __tablename__ = "device_state"
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    reachable: Mapped[bool] = mapped_column(Boolean)
    rtt_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    sampled_at: Mapped[datetime]
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    device_row: Mapped[Device] = relationship(back_populates="state")


class RollupHourly(Base):
    """min/avg/max/count of one metric of one device over one hour (reports read these)."""

    __tablename__ = "rollups_hourly"
    __table_args__ = (
        UniqueConstraint("device_id", "metric", "hour", name="uq_rollup_device_metric_hour"),
        Index("ix_rollup_hour", "hour"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    metric: Mapped[str] = mapped_column(String(200), doc="name, or name{label=value} for rows")
    hour: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)


class IngestedMessage(Base):
    """One row per stored (agent, seq): re-delivered messages are recognised and ignored."""

    __tablename__ = "ingested_messages"
    agent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    received_at: Mapped[datetime] = mapped_column(index=True)


class Fault(Base):
    """A fault at one of the plan's levels on one target (device, agent, room).

    ``open_key`` is ``rule|target`` while the fault is active and NULL once resolved; its
    unique constraint is what keeps one active fault per (rule, target), even with several
    collectors writing.
    """

    __tablename__ = "faults"
    __table_args__ = (
        UniqueConstraint("open_key", name="uq_fault_open_key"),
        Index("ix_fault_status", "status"),
        Index("ix_fault_room", "room_id"),
        Index("ix_fault_device", "device_id"),
        CheckConstraint("level BETWEEN 1 AND 4", name="level"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(300))
    open_key: Mapped[str | None] = mapped_column(String(420))
    room_id: Mapped[str | None] = mapped_column(ForeignKey("rooms.id"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    fire_count: Mapped[int] = mapped_column(Integer, default=1)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Added by migration 0002_workflow: life cycle beyond open/resolved.
    source: Mapped[str] = mapped_column(String(16), default="rule", server_default="rule")
    reporter: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(100))
    flapping: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    clear_since: Mapped[datetime | None]
    remote_sessions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    on_site_visits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    acknowledged_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Added by migration 0007_fault_key: the open key kept after resolution, so an incident
    # that comes back within the reopen window reopens its fault (one incident, one fault).
    fault_key: Mapped[str | None] = mapped_column(String(420), index=True)
    events: Mapped[list[FaultEvent]] = relationship(
        back_populates="fault", order_by="FaultEvent.id", cascade="all, delete-orphan"
    )


class FaultEvent(Base):
    """Every change of a fault, with who and when."""

    __tablename__ = "fault_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fault_id: Mapped[int] = mapped_column(ForeignKey("faults.id"), index=True)
    at: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fault: Mapped[Fault] = relationship(back_populates="events")


from roomwatch.collector.db import daily_models as _daily_models  # noqa: E402,F401
from roomwatch.collector.db import dispatch_models as _dispatch_models  # noqa: E402,F401
from roomwatch.collector.db import group_models as _group_models  # noqa: E402,F401
from roomwatch.collector.db import guard_models as _guard_models  # noqa: E402,F401
from roomwatch.collector.db import quarantine_models as _quarantine_models  # noqa: E402,F401
from roomwatch.collector.db import report_models as _report_models  # noqa: E402,F401
from roomwatch.collector.db import room_versions as _room_versions  # noqa: E402,F401
from roomwatch.collector.db import scope_models as _scope_models  # noqa: E402,F401
from roomwatch.collector.db import shared_state_models as _shared_state_models  # noqa: E402,F401
from roomwatch.collector.db import sla_models as _sla_models  # noqa: E402,F401
from roomwatch.collector.db import workflow_models as _workflow_models  # noqa: E402,F401

"""Guard counts of the fault engine: a (rule, target) that fired and has not opened yet.

Kept in SQL, written by the same ``FaultStore.apply`` call as the faults, so a restart or
another collector taking the room over continues the count instead of starting it over.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from roomwatch.collector.db.models import Base


class FaultGuard(Base):
    """One rung's count on one fault key: firing without a break since ``since`` on
    ``polls`` polls (0: the last poll was clear), and the last polls as "1"/"0", oldest
    first (per-poll flapping)."""

    __tablename__ = "fault_guards"
    __table_args__ = (Index("ix_fault_guards_room", "room_id"),)
    open_key: Mapped[str] = mapped_column(String(420), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    # No foreign key: a room leaving the inventory must not wait on its guard counts.
    room_id: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime]
    polls: Mapped[int] = mapped_column(Integer)
    history: Mapped[str] = mapped_column(String(16))

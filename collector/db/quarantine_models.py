"""The dead-letter table: messages acknowledged without being stored, with the reason."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from roomwatch.collector.db.models import Base


class QuarantinedMessage(Base):
    """A message refused by a bound or by the TSDB or SQL because of its own content.

    ``seq`` is text: a seq out of the 64-bit range is one of the reasons a message lands
    here. ``excerpt`` is the start of the payload (``ingest.limits.quarantine_excerpt_bytes``),
    enough to see what was sent without letting one agent fill the database.
    """

    __tablename__ = "quarantined_messages"
    __table_args__ = (Index("ix_quarantined_received_at", "received_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime]
    topic: Mapped[str] = mapped_column(String(300))
    agent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    seq: Mapped[str | None] = mapped_column(String(32))
    stage: Mapped[str] = mapped_column(String(16), doc="wire, limits, tsdb or sql")
    reason: Mapped[str] = mapped_column(String(500))
    payload_bytes: Mapped[int] = mapped_column(Integer)
    excerpt: Mapped[str] = mapped_column(Text, default="")

"""Who serves what in a collector group: leases of agent partitions and of the leader role,
and the members that take them (PostgreSQL; a lone SQLite collector never writes here)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from roomwatch.collector.db.models import Base


class CollectorLease(Base):
    """One lease: ``partition-07`` (the agents hashed to partition 7) or ``leader`` (the
    background jobs). ``token`` grows by one at every take-over; a write of the partition's
    messages checks it in its own transaction (fencing), so a holder that lost the lease
    while paused cannot write afterwards. Expiry is the database server's clock."""

    __tablename__ = "collector_leases"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), default="")
    token: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime]


class CollectorMember(Base):
    """A running collector of the group; alive while ``expires_at`` is ahead."""

    __tablename__ = "collector_members"
    member_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    partitions: Mapped[int] = mapped_column(Integer, default=0, doc="partitions it holds")

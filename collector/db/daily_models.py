"""Daily rollups: the hourly rollups of one device metric folded per local day.

A daily row covers [day_start, day_end) — the site's local midnight to the next one, as
UTC instants — and holds what the inspection report sums over a quarter: hours with data,
sample count, sum, min, max, the sum of the hourly means, and a quantile sketch of the
hourly means (``collector.db.daily_sketch``). ``rollups_daily_pending`` lists the
(device, UTC date) whose hourly rows changed since they were folded; ingest writes it in
the same transaction as the hourly rows, the folding job deletes it in the same
transaction as it writes the daily rows, so a day without a pending mark is current.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from roomwatch.collector.db.models import Base


class RollupDaily(Base):
    """One metric of one device over one local day, folded from ``rollups_hourly``."""

    __tablename__ = "rollups_daily"
    # Covering the report's look for days folded under other bounds, site by site. On
    # SQLite the rows are kept in key order (WITHOUT ROWID, migration 0017): the report
    # reads them device by device, metric by metric.
    __table_args__ = (
        Index("ix_rollups_daily_day", "day_start", "day_end", "device_id"),
        {"sqlite_with_rowid": False},
    )
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(200), primary_key=True)
    day_start: Mapped[datetime] = mapped_column(primary_key=True)
    day_end: Mapped[datetime]
    hours: Mapped[int] = mapped_column(Integer, doc="hours with at least one sample")
    count: Mapped[int] = mapped_column(BigInteger)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    sum_of_hourly_means: Mapped[float] = mapped_column(Float)
    sketch: Mapped[str] = mapped_column(Text, doc="hourly means as 4-hex-digit sketch keys")


class RollupDailyPending(Base):
    """A device whose hourly rollups of this UTC date changed after the day was folded."""

    __tablename__ = "rollups_daily_pending"
    device_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, doc="UTC date of the hour")

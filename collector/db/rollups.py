"""Hourly rollups of every device metric: count, sum, min and max per (device, metric, hour).

Samples are folded in memory first (a batch often holds several samples of one device in
one hour), then written with one ``INSERT .. ON CONFLICT DO UPDATE`` per chunk of rows, so
storing a batch never reads a rollup back. Averages are ``sum / count``.

Metric keys: a scalar metric is its name (``cpu_pct``); a table column is
``table.column{label=value,...}`` with labels sorted (``disk.used_pct{mount=D:}``), the same
``table.column`` spelling the rules use; ``reachable`` (0/1) and ``rtt_ms`` are added for
every device.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from agent.wire import DeviceSample
from collector.db.dialect import Greatest, Least, bulk_upsert
from collector.db.models import RollupHourly

METRIC_KEY_MAX = 200  # rollups_hourly.metric


def hour_of(at: datetime) -> datetime:
    """The UTC hour bucket ``at`` falls in."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def metric_key(name: str, table: str | None = None, labels: dict[str, str] | None = None) -> str:
    """``name`` for a scalar metric, ``table.name{k=v,...}`` (labels sorted) for a row."""
    if table is None:
        return name
    pairs = ",".join(f"{key}={value}" for key, value in sorted((labels or {}).items()))
    return f"{table}.{name}{{{pairs}}}"


def sample_values(sample: DeviceSample) -> Iterator[tuple[str, float]]:
    """Every (metric key, value) of a sample that a rollup can hold (finite numbers only)."""
    yield "reachable", 1.0 if sample.reachable else 0.0
    if sample.rtt_ms is not None:
        yield "rtt_ms", sample.rtt_ms
    yield from sample.metrics.items()
    for table, rows in sample.tables.items():
        for row in rows:
            for name, value in row.metrics.items():
                yield metric_key(name, table, row.labels), value


@dataclass
class _Bucket:
    count: int
    sum: float
    min: float
    max: float

    def add(self, value: float) -> None:
        self.count += 1
        self.sum += value
        self.min = min(self.min, value)
        self.max = max(self.max, value)


class RollupBatch:
    """Samples folded per (device, metric, hour), written by ``flush`` in few statements."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[int, str, datetime], _Bucket] = {}
        self.skipped = 0  # non-finite values and keys too long for the column

    def __len__(self) -> int:
        return len(self._buckets)

    def add_sample(self, device_id: int, sample: DeviceSample, at: datetime) -> None:
        hour = hour_of(at)
        for metric, value in sample_values(sample):
            self.add_value(device_id, metric, hour, value)

    def add_value(self, device_id: int, metric: str, hour: datetime, value: float) -> None:
        if not math.isfinite(value) or len(metric) > METRIC_KEY_MAX:
            self.skipped += 1
            return
        key = (device_id, metric, hour)
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = _Bucket(1, value, value, value)
        else:
            bucket.add(value)

    def flush(self, session: Session) -> int:
        """Upsert every folded bucket into ``rollups_hourly``; return the rows written.

        Rows go in key order, so two collectors flushing overlapping batches cannot deadlock.
        """
        rows = [
            {"device_id": d, "metric": m, "hour": h, **vars(self._buckets[(d, m, h)])}
            for d, m, h in sorted(self._buckets)
        ]
        self._buckets.clear()
        table = RollupHourly.__table__
        bulk_upsert(session, table, rows, ["device_id", "metric", "hour"], _fold)  # type: ignore[arg-type]
        return len(rows)


def _fold(new: Any) -> dict[str, Any]:
    old = RollupHourly.__table__.c
    return {
        "count": old["count"] + new["count"],
        "sum": old["sum"] + new["sum"],
        "min": Least(old["min"], new["min"]),
        "max": Greatest(old["max"], new["max"]),
    }

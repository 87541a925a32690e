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
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from roomwatch.agent.wire import DeviceSample
from roomwatch.collector.db.daily_fold import mark_pending
from roomwatch.collector.db.dialect import (
    ROWS_PER_STATEMENT,
    Greatest,
    Least,
    bulk_upsert,
    dialect_name,
    upsert_insert,
)
from roomwatch.collector.db.models import RollupHourly

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


class RollupBatch:
    """Samples folded per (device, metric, hour), written by ``flush`` in few statements.

    Folding runs for every value of every message, so it is kept to dictionary lookups on
    plain lists (``[count, sum, min, max]``) grouped by (device, hour).
    """

    def __init__(self) -> None:
        self._groups: dict[tuple[int, datetime], dict[str, list[Any]]] = {}
        self.skipped = 0  # non-finite values and keys too long for the column

    def __len__(self) -> int:
        return sum(len(group) for group in self._groups.values())

    def add_sample(self, device_id: int, sample: DeviceSample, at: datetime) -> None:
        values = [("reachable", 1.0 if sample.reachable else 0.0)]
        if sample.rtt_ms is not None:
            values.append(("rtt_ms", sample.rtt_ms))
        values.extend(sample.metrics.items())
        for table, rows in sample.tables.items():
            for row in rows:
                values.extend(
                    (metric_key(name, table, row.labels), v) for name, v in row.metrics.items()
                )
        self._fold_values(self._group(device_id, hour_of(at)), values)

    def add_value(self, device_id: int, metric: str, hour: datetime, value: float) -> None:
        self._fold_values(self._group(device_id, hour), [(metric, value)])

    def _group(self, device_id: int, hour: datetime) -> dict[str, list[Any]]:
        group = self._groups.get((device_id, hour))
        if group is None:
            group = self._groups[(device_id, hour)] = {}
        return group

    def _fold_values(
        self, group: dict[str, list[Any]], values: Iterable[tuple[str, float]]
    ) -> None:
        isfinite = math.isfinite
        for metric, value in values:
            if not isfinite(value) or len(metric) > METRIC_KEY_MAX:
                self.skipped += 1
                continue
            bucket = group.get(metric)
            if bucket is None:
                group[metric] = [1, value, value, value]
                continue
            bucket[0] += 1
            bucket[1] += value
            if value < bucket[2]:
                bucket[2] = value
            if value > bucket[3]:
                bucket[3] = value

    def flush(self, session: Session) -> int:
        """Upsert every folded bucket into ``rollups_hourly``; return the rows written.

        Rows go in (device, metric, hour) order, so two collectors flushing overlapping
        batches cannot deadlock.
        """
        keys = sorted(
            (device_id, metric, hour)
            for (device_id, hour), group in self._groups.items()
            for metric in group
        )
        groups, self._groups = self._groups, {}
        if not keys:
            return 0
        if dialect_name(session) == "sqlite":
            _flush_sqlite(session, keys, groups)
        else:
            rows = [
                dict(zip(_COLUMNS, (d, m, h, *groups[(d, h)][m]), strict=True)) for d, m, h in keys
            ]
            table = RollupHourly.__table__
            bulk_upsert(session, table, rows, ["device_id", "metric", "hour"], _fold)  # type: ignore[arg-type]
        # In the same transaction: the daily rows of these days are stale until refolded.
        mark_pending(session, groups)
        return len(keys)


_COLUMNS = ("device_id", "metric", "hour", "count", "sum", "min", "max")


def _flush_sqlite(
    session: Session,
    keys: list[tuple[int, str, datetime]],
    groups: dict[tuple[int, datetime], dict[str, list[Any]]],
) -> None:
    """The same upsert as ``bulk_upsert``, as one DB-API executemany of plain tuples.

    SQLAlchemy's per-row parameter processing cost three times what SQLite spends on the
    rows; only the hour needs a conversion, done once per hour with the column's own bind
    processor so the stored text is what the ORM writes and reads.
    """
    dialect = session.get_bind().dialect
    sql, order = _sqlite_upsert(session)
    hour_type = RollupHourly.__table__.c.hour.type.dialect_impl(dialect)  # UtcDateTime → text
    convert = hour_type.bind_processor(dialect) or (lambda value: value)
    hours = {hour: convert(hour) for _, hour in groups}
    rows = []
    for device_id, metric, hour in keys:
        values = (device_id, metric, hours[hour], *groups[(device_id, hour)][metric])
        rows.append(tuple(values[i] for i in order))
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        session.connection().exec_driver_sql(sql, rows[start : start + ROWS_PER_STATEMENT])


_SQLITE_UPSERT: list[tuple[str, list[int]]] = []


def _sqlite_upsert(session: Session) -> tuple[str, list[int]]:
    """The upsert's SQL text and the order of its positional parameters (compiled once)."""
    if not _SQLITE_UPSERT:
        table = RollupHourly.__table__
        insert = upsert_insert(session, table).values({c: bindparam(c) for c in _COLUMNS})  # type: ignore[arg-type]
        compiled = insert.on_conflict_do_update(
            index_elements=["device_id", "metric", "hour"], set_=_fold(insert.excluded)
        ).compile(dialect=session.get_bind().dialect)
        order = [_COLUMNS.index(name) for name in compiled.positiontup or ()]
        _SQLITE_UPSERT.append((compiled.string, order))
    return _SQLITE_UPSERT[0]


def _fold(new: Any) -> dict[str, Any]:
    old = RollupHourly.__table__.c
    return {
        "count": old["count"] + new["count"],
        "sum": old["sum"] + new["sum"],
        "min": Least(old["min"], new["min"]),
        "max": Greatest(old["max"], new["max"]),
    }

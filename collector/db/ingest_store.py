"""Every SQL statement the ingest path runs, inside the caller's one transaction per batch.

The pipeline opens ``Database.session()`` for a batch of messages, calls these, commits,
then acknowledges the MQTT messages: a crash in between re-delivers them, and ``claim``
makes the second delivery a no-op. Nothing here commits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from roomwatch.agent.wire import DeviceInfo, DeviceSample, InventoryMessage
from roomwatch.collector.db import room_versions
from roomwatch.collector.db.dialect import bulk_upsert, chunks, dialect_name, upsert_insert
from roomwatch.collector.db.models import (
    SOURCE_AGENT,
    SOURCE_INVENTORY,
    Agent,
    Device,
    DeviceState,
    IngestedMessage,
)
from roomwatch.collector.db.rollups import RollupBatch

# Fields an agent's report may fill in or correct; an empty value never erases one.
_MERGED_FIELDS = ("model", "vendor", "firmware", "address", "parent")
# Of an inventory device, what an agent reports only fills these when the file left them out.
_INVENTORY_WINS = ("model", "vendor")
_TEXT_MAX = 200  # devices.model/vendor/firmware/address, agents.hostname
_VERSION_MAX = 64  # agents.version
_STATE_COLUMNS = ("reachable", "rtt_ms", "error", "sampled_at", "metrics", "tables")
_CLAIMS_PER_STATEMENT = 5000  # 3 parameters a row; SQLite allows 32766 per statement


def claim(session: Session, agent_id: str, seq: int, now: datetime) -> bool:
    """Record (agent, seq) as stored; False when it already was (a duplicate delivery)."""
    return claim_many(session, [(agent_id, seq)], now)[0]


def claim_many(session: Session, keys: Sequence[tuple[str, int]], now: datetime) -> list[bool]:
    """``claim`` for a batch, in one statement per chunk; one flag per key, in order.

    A key repeated within ``keys`` is True only at its first position. Keys are inserted in
    sorted order so two collectors claiming overlapping batches cannot deadlock.
    """
    unique = sorted(set(keys))
    if dialect_name(session) == "sqlite":
        fresh = _claim_sqlite(session, unique, now)
    else:
        table = IngestedMessage.__table__
        insert = upsert_insert(session, table)  # type: ignore[arg-type]
        statement = insert.on_conflict_do_nothing().returning(table.c.agent_id, table.c.seq)
        rows = [{"agent_id": a, "seq": s, "received_at": now} for a, s in unique]
        fresh = set()
        for chunk in chunks(rows):
            fresh.update((a, s) for a, s in session.execute(statement, chunk))
    flags = []
    for key in keys:
        flags.append(key in fresh)
        fresh.discard(key)
    return flags


def _claim_sqlite(
    session: Session, keys: list[tuple[str, int]], now: datetime
) -> set[tuple[str, int]]:
    """``claim_many``'s INSERT .. ON CONFLICT DO NOTHING RETURNING as plain multi-row
    statements: every row has the same ``received_at``, converted once (SQLAlchemy converted
    it per row, which was most of the claim's cost)."""
    table = IngestedMessage.__table__
    dialect = session.get_bind().dialect
    received_type = table.c.received_at.type.dialect_impl(dialect)  # UtcDateTime → text
    received_at = (received_type.bind_processor(dialect) or (lambda value: value))(now)
    columns = ", ".join(c.name for c in (table.c.agent_id, table.c.seq, table.c.received_at))
    fresh: set[tuple[str, int]] = set()
    for start in range(0, len(keys), _CLAIMS_PER_STATEMENT):
        chunk = keys[start : start + _CLAIMS_PER_STATEMENT]
        values = ", ".join(["(?, ?, ?)"] * len(chunk))
        sql = (
            f"INSERT INTO {IngestedMessage.__tablename__} ({columns}) VALUES {values} "
            f"ON CONFLICT DO NOTHING RETURNING {table.c.agent_id.name}, {table.c.seq.name}"
        )
        params = tuple(v for agent_id, seq in chunk for v in (agent_id, seq, received_at))
        fresh.update((a, s) for a, s in session.connection().exec_driver_sql(sql, params))
    return fresh


def prune_ingested(session: Session, older_than: datetime) -> int:
    """Forget (agent, seq) records received before ``older_than``; return how many."""
    result = session.execute(
        delete(IngestedMessage).where(IngestedMessage.received_at < older_than)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def agent_room(session: Session, agent_id: str) -> str | None:
    """The agent's room from the inventory; None for an agent the inventory does not list."""
    return session.scalar(select(Agent.room_id).where(Agent.id == agent_id))


def agent_rooms(session: Session, agent_ids: Iterable[str]) -> dict[str, str]:
    """agent id → room id for the given agents the inventory places (others are absent)."""
    query = select(Agent.id, Agent.room_id).where(
        Agent.id.in_(sorted(set(agent_ids))), Agent.room_id.is_not(None)
    )
    return {agent: room for agent, room in session.execute(query) if room is not None}


def set_agent_status(
    session: Session,
    agent_id: str,
    online: bool,
    at: datetime,
    version: str | None = None,
    hostname: str | None = None,
) -> bool:
    """Store an agent's online/offline state; return True when it changed.

    Status messages are applied in the order they arrive, not by their ``ts``: a Last Will is
    composed when the agent connects, so its timestamp predates the ``online`` it follows.
    An agent the inventory does not know gets a row without a room (visible, not placed).
    """
    agent = _agent_row(session, agent_id)
    changed = agent.online != online or agent.status_changed_at is None
    if changed:
        agent.online = online
        agent.status_changed_at = at
    if version:
        agent.version = _clip(version, _VERSION_MAX)
    if hostname:
        agent.hostname = _clip(hostname, _TEXT_MAX)
    if online and (agent.last_seen_at is None or agent.last_seen_at < at):
        agent.last_seen_at = at
    return changed


def set_agents_online(session: Session, seen: Mapping[str, datetime]) -> None:
    """``set_agent_status(online=True)`` for every agent of a batch at its time.

    One SELECT loads the rows the calls then find in the session, so a batch costs that and
    the flush's UPDATEs instead of one SELECT per agent.
    """
    if not seen:
        return
    # The session holds rows weakly: keep them referenced while the calls look them up.
    loaded = list(session.scalars(select(Agent).where(Agent.id.in_(sorted(seen)))))
    for agent_id, at in sorted(seen.items()):
        set_agent_status(session, agent_id, True, at)
    del loaded


def touch_agent(session: Session, agent_id: str, at: datetime) -> None:
    """Move the agent's ``last_seen_at`` forward to ``at`` (never backwards)."""
    touch_agents(session, {agent_id: at})


def touch_agents(session: Session, seen: Mapping[str, datetime]) -> None:
    """``touch_agent`` for many agents in one statement (agents not in SQL are ignored)."""
    if not seen:
        return
    table = Agent.__table__
    statement = (
        update(table)  # type: ignore[arg-type]
        .where(table.c.id == bindparam("agent"))
        .where(or_(table.c.last_seen_at.is_(None), table.c.last_seen_at < bindparam("at")))
        .values(last_seen_at=bindparam("at"))
    )
    session.execute(statement, [{"agent": a, "at": t} for a, t in sorted(seen.items())])
    room_versions.bump_rooms_of(session, Agent.id.in_(sorted(seen)), Agent.room_id)


def ensure_devices(
    session: Session, room_id: str, reported: Iterable[DeviceSample | DeviceInfo]
) -> dict[str, Device]:
    """The room's Device rows for every reported device id, creating the missing ones.

    A device the inventory lacks is created with ``source="agent"`` and ``procured=False``.
    Non-empty reported values (model, vendor, firmware, address, parent) update the row;
    empty ones never erase what the inventory says. For a batch use ``ensure_devices_many``.
    """
    return ensure_devices_many(session, {room_id: reported}).get(room_id, {})


def ensure_devices_many(
    session: Session, reported: Mapping[str, Iterable[DeviceSample | DeviceInfo]]
) -> dict[str, dict[str, Device]]:
    """``ensure_devices`` for several rooms at once: room id → device id → Device.

    Costs one SELECT for all rooms, plus one INSERT and one SELECT when devices are new.
    """
    wanted: dict[str, dict[str, DeviceSample | DeviceInfo]] = {}
    for room_id, reports in reported.items():
        for report in reports:
            wanted.setdefault(room_id, {})[report.device] = report
    if not wanted:
        return {}
    found = _load_devices(session, wanted)
    missing = {
        (room_id, device_id): item
        for room_id, by_id in wanted.items()
        for device_id, item in by_id.items()
        if device_id not in found.get(room_id, {})
    }
    if missing:
        _insert_agent_devices(session, missing)
        for room_id, devices in _load_devices(session, {r for r, _ in missing}).items():
            found.setdefault(room_id, {}).update(devices)
    result: dict[str, dict[str, Device]] = {}
    for room_id, by_id in wanted.items():
        for device_id, item in by_id.items():
            device = found[room_id][device_id]
            _merge_report(device, item)
            result.setdefault(room_id, {})[device_id] = device
    return result


def room_links(
    session: Session, room_ids: Iterable[str]
) -> dict[str, list[tuple[str, str | None, bool]]]:
    """room id → (device id, parent, created by an agent's report) of its devices."""
    query = select(Device.room_id, Device.device, Device.parent, Device.source).where(
        Device.room_id.in_(sorted(set(room_ids)))
    )
    links: dict[str, list[tuple[str, str | None, bool]]] = {}
    for room_id, device, parent, source in session.execute(query):
        links.setdefault(room_id, []).append((device, parent, source == SOURCE_AGENT))
    return links


def store_latest(session: Session, device: Device, sample: DeviceSample, at: datetime) -> None:
    """Upsert the device's latest state; an older sample never replaces a newer one."""
    store_latest_many(session, [(device.id, sample, at)])


def store_latest_many(
    session: Session, samples: Iterable[tuple[int, DeviceSample, datetime]]
) -> None:
    """``store_latest`` for a batch of (device row id, sample, sample time), one statement."""
    newest: dict[int, tuple[DeviceSample, datetime]] = {}
    for device_id, sample, at in samples:
        if device_id not in newest or newest[device_id][1] <= at:
            newest[device_id] = (sample, at)
    rows = [_state_row(d, s, at) for d, (s, at) in sorted(newest.items())]
    table = DeviceState.__table__
    bulk_upsert(
        session,
        table,  # type: ignore[arg-type]
        rows,
        ["device_id"],
        lambda new: {c: new[c] for c in _STATE_COLUMNS},
        where=lambda new: table.c.sampled_at <= new.sampled_at,
    )
    if rows:  # a room's page shows these values: its cached answer is stale now
        room_versions.bump_rooms_of(session, Device.id.in_(sorted(newest)), Device.room_id)


def add_to_rollups(session: Session, device: Device, sample: DeviceSample, at: datetime) -> None:
    """Fold one sample into its hour's rollups (one statement). Batches: ``RollupBatch``."""
    batch = RollupBatch()
    batch.add_sample(device.id, sample, at)
    batch.flush(session)


def apply_inventory_message(session: Session, room_id: str, message: InventoryMessage) -> None:
    """Merge what the agent reports about itself and its room's devices into SQL."""
    agent = session.get(Agent, message.agent)
    if agent is not None:
        if message.agent_version:
            agent.version = _clip(message.agent_version, _VERSION_MAX)
        if message.hostname:
            agent.hostname = _clip(message.hostname, _TEXT_MAX)
    ensure_devices(session, room_id, message.devices)


def _agent_row(session: Session, agent_id: str) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is None:
        table = Agent.__table__
        insert = upsert_insert(session, table).values(id=agent_id, online=False)  # type: ignore[arg-type]
        session.execute(insert.on_conflict_do_nothing())
        agent = session.get_one(Agent, agent_id)
    return agent


def _load_devices(session: Session, room_ids: Iterable[str]) -> dict[str, dict[str, Device]]:
    by_room: dict[str, dict[str, Device]] = {}
    query = select(Device).where(Device.room_id.in_(sorted(room_ids)))
    for device in session.scalars(query):
        by_room.setdefault(device.room_id, {})[device.device] = device
    return by_room


def _insert_agent_devices(
    session: Session, items: Mapping[tuple[str, str], DeviceSample | DeviceInfo]
) -> None:
    rows = [
        {
            "room_id": room_id,
            "device": device_id,
            "kind": item.kind,
            "model": _clip(item.model, _TEXT_MAX) if item.model else None,
            "source": SOURCE_AGENT,
            "procured": False,
        }
        for (room_id, device_id), item in sorted(items.items())
    ]
    insert = upsert_insert(session, Device.__table__)  # type: ignore[arg-type]
    for chunk in chunks(rows):
        session.execute(insert.values(chunk).on_conflict_do_nothing())
    room_versions.bump_rooms(session, {room_id for room_id, _ in items})


def _merge_report(device: Device, item: DeviceSample | DeviceInfo) -> None:
    listed = device.source == SOURCE_INVENTORY
    for field in _MERGED_FIELDS:
        value = getattr(item, field, None)
        value = _clip(value, _TEXT_MAX) if value else None
        if not value or getattr(device, field) == value:
            continue
        if listed and field in _INVENTORY_WINS and getattr(device, field):
            continue  # the inventory's model is what was procured (spare stock, advisories)
        setattr(device, field, value)
    if device.source == SOURCE_AGENT and device.kind != item.kind:
        device.kind = item.kind


def _state_row(device_id: int, sample: DeviceSample, at: datetime) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "reachable": sample.reachable,
        "rtt_ms": sample.rtt_ms,
        "error": sample.error,
        "sampled_at": at,
        "metrics": _finite(sample.metrics),
        "tables": {
            table: [{"labels": row.labels, "metrics": _finite(row.metrics)} for row in rows]
            for table, rows in sample.tables.items()
        },
    }


def _clip(text: str, limit: int) -> str:
    # A report longer than its column would fail the whole batch on PostgreSQL.
    return text[:limit]


def _finite(metrics: dict[str, float]) -> dict[str, float | None]:
    # JSON has no NaN/Infinity (PostgreSQL rejects them): such values are stored as null.
    return {name: (v if math.isfinite(v) else None) for name, v in metrics.items()}

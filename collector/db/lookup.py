"""Read queries of the ingest path: where an agent belongs, which agents went silent."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from roomwatch.collector.db.models import Agent, Room


def agent_placements(session: Session, agent_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """agent id → (site id, room id) from the inventory; unknown or unplaced agents are absent."""
    wanted = sorted(set(agent_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Agent.id, Room.site_id, Room.id)
        .join(Room, Agent.room_id == Room.id)
        .where(Agent.id.in_(wanted))
    )
    return {agent_id: (site_id, room_id) for agent_id, site_id, room_id in rows}


def silent_agents(session: Session, seen_before: datetime) -> list[tuple[str, str]]:
    """(agent id, room id) of agents marked online that sent nothing since ``seen_before``."""
    rows = session.execute(
        select(Agent.id, Agent.room_id).where(
            Agent.online.is_(True), Agent.room_id.is_not(None), Agent.last_seen_at < seen_before
        )
    )
    return [(agent_id, room_id) for agent_id, room_id in rows if room_id is not None]

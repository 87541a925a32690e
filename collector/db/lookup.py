"""Read queries of the ingest path: where an agent belongs, which agents went silent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.db.models import Agent, Room


def agent_placement(session: Session, agent_id: str) -> tuple[str, str] | None:
    """(site id, room id) of an agent from the inventory; None for an unknown or unplaced agent."""
    row = session.execute(
        select(Room.site_id, Room.id)
        .join(Agent, Agent.room_id == Room.id)
        .where(Agent.id == agent_id)
    ).first()
    return (row[0], row[1]) if row else None


def silent_agents(session: Session, seen_before: datetime) -> list[tuple[str, str]]:
    """(agent id, room id) of agents marked online that sent nothing since ``seen_before``."""
    rows = session.execute(
        select(Agent.id, Agent.room_id).where(
            Agent.online.is_(True), Agent.room_id.is_not(None), Agent.last_seen_at < seen_before
        )
    )
    return [(agent_id, room_id) for agent_id, room_id in rows if room_id is not None]

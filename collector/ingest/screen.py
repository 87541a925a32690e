"""Screening: which received messages may be stored, and the quarantine rows of the rest.

Every message is checked before anything of it is stored: its size, the wire contract, the
bounds of ``ingest.limits`` on its own (``collector.ingest.limits.check_message``), whether
the inventory places its agent, and whether it keeps its room within the device and graph
limits. A message refused here is acknowledged like a stored one, counted under its reason
and kept in the quarantine table; so is one the TSDB or SQL refused because of its content
(``collector.ingest.poison``). The pipeline decides when; this module decides what.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from roomwatch.agent.wire import (
    EventsMessage,
    InventoryMessage,
    MetricsMessage,
    StatusMessage,
    WireError,
    decode,
    parse_topic,
)
from roomwatch.collector.config import IngestConfig
from roomwatch.collector.db import ingest_store, quarantine_store
from roomwatch.collector.ingest import poison
from roomwatch.collector.ingest.limits import Rejection, RoomDevices, check_message, check_size
from roomwatch.collector.ingest.stats import IngestStats

if TYPE_CHECKING:
    from roomwatch.collector.ingest.pipeline import Received

log = logging.getLogger(__name__)

AnyMessage = MetricsMessage | EventsMessage | StatusMessage | InventoryMessage
Placements = dict[str, tuple[str, str]]  # agent id → (site id, room id)


class RateLimitedLog:
    """At most one log line per key per period (an agent sending garbage every second)."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._last: dict[str, float] = {}

    def warning(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -self.period_s) >= self.period_s:
            self._last[key] = now
            log.warning(message, *args)


@dataclass
class Screened:
    """What screening one batch noted: the quarantine rows, and which delivery each
    accepted message came in (a later check refusing it quarantines that payload)."""

    quarantine: list[quarantine_store.Quarantined] = field(default_factory=list)
    origin: dict[int, Received] = field(default_factory=dict)  # id(message) → its delivery


class Screen:
    """The checks and the quarantine rows; counts every refusal in ``stats``."""

    def __init__(
        self, stats: IngestStats, config: IngestConfig, clock: Callable[[], datetime]
    ) -> None:
        self.stats = stats
        self.limits = config.limits
        self.clock = clock
        self.log = RateLimitedLog(config.invalid_log_every_s)

    def message(self, received: Received, now: datetime, screened: Screened) -> AnyMessage | None:
        """The message if it is valid and within ``ingest.limits``; else None, counted and
        noted in ``screened.quarantine``."""
        rejection = check_size(received.payload, self.limits)
        if rejection is not None:
            self._reject(received, rejection, screened)
            return None
        try:
            message = decode(received.topic, received.payload)
        except WireError as exc:
            self.stats.invalid.inc()
            agent = agent_of(received.topic)
            self.log.warning(
                f"invalid:{agent}",
                "rejected invalid message from %s on %s: %s",
                agent,
                received.topic,
                exc,
            )
            screened.quarantine.append(self._entry(received, "wire", str(exc)))
            return None
        rejection = check_message(message, now, self.limits)
        if rejection is not None:
            self._reject(received, rejection, screened, message.seq)
            return None
        screened.origin[id(message)] = received
        return message

    def placed(self, message: AnyMessage, placements: Placements) -> bool:
        """True if the inventory places the message's agent in a room; else counted."""
        if message.agent in placements:
            return True
        self.stats.unknown_agents.inc()
        self.log.warning(
            f"unknown:{message.agent}",
            "agent %s has no room in the inventory; its messages are counted, not stored",
            message.agent,
        )
        return False

    def within_room_limits(
        self,
        session: Session,
        messages: list[AnyMessage],
        placements: Placements,
        screened: Screened,
    ) -> list[AnyMessage]:
        """The messages that keep their rooms within the device and graph limits."""
        growing = (MetricsMessage, InventoryMessage)
        rooms = {placements[m.agent][1] for m in messages if isinstance(m, growing)}
        if not rooms:
            return messages
        state = {room: RoomDevices() for room in rooms}
        for room_id, links in ingest_store.room_links(session, rooms).items():
            state[room_id].parents = {device: parent for device, parent, _ in links}
            state[room_id].by_agent = {device for device, _, by_agent in links if by_agent}
        kept = []
        for message in messages:
            room = state.get(placements[message.agent][1])
            rejection = None if room is None else room.admit(message, self.limits)
            if rejection is None:
                kept.append(message)
            else:
                self._reject(screened.origin[id(message)], rejection, screened, message.seq)
        return kept

    def failed(self, received: Received, error: BaseException) -> quarantine_store.Quarantined:
        """The quarantine row of a message the TSDB or SQL refused because of its content."""
        stage, reason = poison.stage_of(error), poison.describe(error)
        agent = agent_of(received.topic)
        self.log.warning(
            f"quarantined:{agent}", "quarantined a message from %s (%s): %s", agent, stage, reason
        )
        return self._entry(received, stage, reason)

    def _reject(
        self, received: Received, rejection: Rejection, screened: Screened, seq: int | None = None
    ) -> None:
        self.stats.rejected.labels(rejection.reason).inc()
        agent = agent_of(received.topic)
        self.log.warning(f"rejected:{agent}", "refused a message from %s: %s", agent, rejection)
        screened.quarantine.append(self._entry(received, "limits", str(rejection), seq))

    def _entry(
        self, received: Received, stage: str, reason: str, seq: int | None = None
    ) -> quarantine_store.Quarantined:
        return poison.entry(
            received.topic,
            received.payload,
            stage,
            reason,
            self.clock(),
            self.limits.quarantine_excerpt_bytes,
            seq,
        )


def agent_of(topic: str) -> str:
    """The agent id in a topic, or "unknown" (for log lines about bad messages)."""
    try:
        return parse_topic(topic)[0]
    except WireError:
        return "unknown"

"""From verdicts to fault rows: ``for:`` durations, one active fault per (rule, target),
repeat firing updates the fault, clearing resolves it with the recovery time recorded."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from agent.wire import DeviceSample
from collector.db import faults_store
from collector.db.models import Fault
from collector.levels import Level
from collector.rules.engine import RuleEngine, State, Verdict

log = logging.getLogger(__name__)

AGENT_DEVICE = "agent"


@dataclass(frozen=True)
class Transition:
    """A fault opened or resolved, for counters, logs and (later) notifications."""

    kind: str  # "opened" | "resolved"
    fault_id: int
    level: Level
    title: str
    room_id: str | None


@dataclass(frozen=True)
class Subject:
    """What a sample is about, in the collector's inventory."""

    room_id: str
    agent_id: str
    device_pk: int | None = None


class FaultTracker:
    """Applies rule verdicts to SQL. Pending ``for:`` timers live in memory."""

    def __init__(self, engine: RuleEngine) -> None:
        self.engine = engine
        self._pending_since: dict[str, datetime] = {}

    def observe(
        self, session: Session, subject: Subject, sample: DeviceSample, at: datetime
    ) -> list[Transition]:
        verdicts = self.engine.evaluate(subject.room_id, sample)
        return [t for v in verdicts if (t := self._apply(session, subject, v, at)) is not None]

    def agent_presence(
        self, session: Session, room_id: str, agent_id: str, online: bool, at: datetime
    ) -> list[Transition]:
        """The agent came (back) or went: evaluated like a device with metric ``online``."""
        sample = DeviceSample(
            device=AGENT_DEVICE,
            kind="agent",
            reachable=online,
            metrics={"online": 1.0 if online else 0.0},
        )
        return self.observe(session, Subject(room_id=room_id, agent_id=agent_id), sample, at)

    def _apply(
        self, session: Session, subject: Subject, verdict: Verdict, at: datetime
    ) -> Transition | None:
        key = verdict.open_key
        if verdict.state is State.HOLD:
            self._pending_since.pop(key, None)
            return None
        active = faults_store.find_active(session, key)
        if verdict.state is State.CLEAR:
            self._pending_since.pop(key, None)
            if active is None:
                return None
            faults_store.resolve_fault(
                session, active, at, reason=f"{verdict.rule.metric}={verdict.value:g}"
            )
            return _transition("resolved", active)
        if active is not None:
            faults_store.touch_fault(active, at, verdict.evidence())
            return None
        since = self._pending_since.setdefault(key, at)
        if at - since < timedelta(seconds=verdict.rule.for_s):
            return None
        self._pending_since.pop(key, None)
        fault = faults_store.open_fault(
            session,
            open_key=key,
            at=at,
            rule_id=verdict.rule.id,
            target=verdict.target,
            room_id=subject.room_id,
            device_id=subject.device_pk,
            agent_id=subject.agent_id,
            level=int(verdict.rule.level),
            title=verdict.title()[:300],
            description=verdict.rule.description,
            evidence=verdict.evidence(),
        )
        return _transition("opened", fault)


def _transition(kind: str, fault: Fault) -> Transition:
    return Transition(kind, fault.id, Level(fault.level), fault.title, fault.room_id)

"""The escalation chain: which steps are due for a clock, and where a complaint goes.

A step fires once per (fault, clock, step): a warning step while the clock is still inside
its lead time (``before`` the deadline, not after it), a breach step ``after`` the deadline
while the clock has not been stopped. A complaint goes to ``complaint_from`` or, when the
fault already reached that role, one role higher, up to the last of the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from roomwatch.collector.db.sla_models import SlaClock, SlaEscalation
from roomwatch.collector.sla.policies import EscalationSpec, EscalationStepSpec


@dataclass(frozen=True)
class EscalationStep:
    """A recorded step: who (role, contacts reached) was told about which fault, and why."""

    id: int
    fault_id: int
    trigger: str  # warning | breach | complaint
    clock_kind: str | None
    rank: int
    role: str
    at: datetime
    actor: str
    text: str
    recipients: tuple[str, ...]


def due_steps(
    spec: EscalationSpec, clock: SlaClock, now: datetime
) -> list[tuple[int, EscalationStepSpec]]:
    """The steps of ``spec`` due for a running clock at ``now`` (recorded or not)."""
    due = []
    for index, step in enumerate(spec.steps):
        if step.kinds is not None and clock.kind not in step.kinds:
            continue
        fire_at = clock.deadline_at + timedelta(seconds=step.offset_s())
        if now < fire_at:
            continue
        if step.when == "warning" and now >= clock.deadline_at:
            continue  # too late to warn: the breach steps take over
        due.append((index, step))
    return due


def step_key(
    fault_id: int, clock_kind: str, index: int, restarted_at: datetime | None = None
) -> str:
    """One escalation step of one clock, recorded once; a clock restarted by a level change
    (a class began) escalates anew, under keys of its own."""
    key = f"{fault_id}|{clock_kind}|{index}"
    return key if restarted_at is None else f"{key}|{restarted_at.isoformat()}"


def complaint_rank(spec: EscalationSpec, highest_so_far: int | None) -> int:
    chain = spec.chain()
    rank = chain.index(spec.complaint_from)
    if highest_so_far is not None:
        rank = max(rank, highest_so_far + 1)
    return min(rank, len(chain) - 1)


def step_view(row: SlaEscalation, recipients: tuple[str, ...] = ()) -> EscalationStep:
    return EscalationStep(
        id=row.id,
        fault_id=row.fault_id,
        trigger=row.trigger,
        clock_kind=row.clock_kind,
        rank=row.rank,
        role=row.role,
        at=row.at,
        actor=row.actor,
        text=row.text,
        recipients=recipients,
    )

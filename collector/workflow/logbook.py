"""The maintenance log the service plan requires for every fault: phenomenon (故障现象),
cause (产生原因), solution (解决方法), the engineer, the parts replaced and the spares used;
and a draft of it prefilled from what the collector knows about the fault."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from collector.db import faults_store, workflow_store
from collector.db.models import Device, Fault
from collector.db.workflow_models import MaintenanceLog
from collector.levels import Level


def _not_blank(value: str) -> str:
    """Spaces alone are no cause or solution: refused, and pydantic names the field."""
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


Text = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_not_blank)]
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_not_blank)]
MAX_QUANTITY = 100_000  # of one part in one repair; bounds what spare counts add up to
MAX_PARTS = 200


class Part(BaseModel):
    """A part replaced, or a spare taken from stock."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
    model: str | None = Field(default=None, max_length=200)
    serial: str | None = Field(default=None, max_length=200)
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)


class LogEntry(BaseModel):
    """A complete maintenance log entry (every text field is required)."""

    model_config = ConfigDict(extra="forbid")

    phenomenon: Text
    cause: Text
    solution: Text
    engineer: Name
    parts_replaced: list[Part] = Field(default_factory=list, max_length=MAX_PARTS)
    spares_used: list[Part] = Field(default_factory=list, max_length=MAX_PARTS)

    def fields(self) -> dict[str, Any]:
        return {
            "phenomenon": self.phenomenon,
            "cause": self.cause,
            "solution": self.solution,
            "engineer": self.engineer,
            "parts_replaced": [p.model_dump(exclude_none=True) for p in self.parts_replaced],
            "spares_used": [p.model_dump(exclude_none=True) for p in self.spares_used],
        }


def save(
    session: Session, fault: Fault, entry: LogEntry, actor: str, at: datetime
) -> MaintenanceLog:
    row = workflow_store.save_log(session, fault.id, entry.fields(), actor, at)
    faults_store.add_event(
        session,
        fault,
        at,
        "log_recorded",
        {"engineer": entry.engineer, "parts": len(entry.parts_replaced)},
        actor,
    )
    return row


def draft(session: Session, fault: Fault, engineer: str) -> dict[str, Any]:
    """The log form prefilled from the fault's evidence, events and device; an existing
    log is returned as it is."""
    existing = workflow_store.get_log(session, fault.id)
    if existing is not None:
        return {
            "phenomenon": existing.phenomenon,
            "cause": existing.cause,
            "solution": existing.solution,
            "engineer": existing.engineer,
            "parts_replaced": existing.parts_replaced,
            "spares_used": existing.spares_used,
            "saved": True,
        }
    device = session.get(Device, fault.device_id) if fault.device_id is not None else None
    return {
        "phenomenon": _phenomenon(fault),
        "cause": _cause(session, fault),
        "solution": "",
        "engineer": engineer,
        "parts_replaced": [],
        "spares_used": [],
        "saved": False,
        "device": None
        if device is None
        else {
            "id": device.device,
            "kind": device.kind,
            "model": device.model,
            "vendor": device.vendor,
            "firmware": device.firmware,
        },
    }


def _phenomenon(fault: Fault) -> str:
    level = Level(fault.level)
    lines = [f"{fault.title} ({level.label('zh')} / {level.name_en})."]
    lines.append(f"Opened {fault.opened_at:%Y-%m-%d %H:%M} UTC, seen {fault.fire_count} time(s).")
    evidence = fault.evidence or {}
    if evidence.get("metric") is not None:
        labels = evidence.get("labels") or {}
        where = f" on {', '.join(f'{k}={v}' for k, v in labels.items())}" if labels else ""
        lines.append(f"Evidence: {evidence['metric']} = {evidence.get('value')}{where}.")
    if fault.resolved_at is not None:
        lines.append(f"Recovered {fault.resolved_at:%Y-%m-%d %H:%M} UTC.")
    if fault.flapping:
        lines.append("The condition came and went repeatedly (flapping).")
    if fault.source == "manual" and fault.reporter:
        lines.append(f"Reported by {fault.reporter}.")
    return " ".join(lines)


def _cause(session: Session, fault: Fault) -> str:
    hints = [fault.description.strip()] if fault.description.strip() else []
    suppressed = workflow_store.list_suppressed(session, root_fault_id=fault.id, limit=50)
    if suppressed:
        targets = sorted({s.target for s in suppressed})
        hints.append(f"Devices behind it also failed: {', '.join(targets)}.")
    return " ".join(hints)


__all__ = ["LogEntry", "Part", "draft", "save"]

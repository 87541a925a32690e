"""The maintenance log the service plan requires for every fault: phenomenon (故障现象),
cause (产生原因), solution (解决方法), the engineer, the parts replaced and the spares used;
and a draft of it prefilled from what the collector knows about the fault."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from roomwatch.collector.db import faults_store, workflow_store
from roomwatch.collector.db.models import Device, Fault, Room
from roomwatch.collector.db.workflow_models import MaintenanceLog
from roomwatch.collector.levels import Level
from roomwatch.collector.rules.engine import device_of_target
from roomwatch.collector.rules.names import labels_text, metric_name
from roomwatch.collector.rules.texts import fault_words, language_of, texts_for


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


def draft(
    session: Session,
    fault: Fault,
    engineer: str,
    language: str | None = "en",
    fallback_zone: str = "UTC",
) -> dict[str, Any]:
    """The log form prefilled from the fault's evidence, events and device, in ``language``
    (zh-CN or en) with times on the site's clock (its time zone, else ``fallback_zone``);
    an existing log is returned as it is."""
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
    room = session.get(Room, fault.room_id) if fault.room_id is not None else None
    words = _Words(language_of(language), _site_zone(room, fallback_zone))
    return {
        "phenomenon": _phenomenon(fault, device, room, words),
        "cause": _cause(session, fault, words),
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


@dataclass(frozen=True)
class _Words:
    """The draft's language and clock."""

    lang: str
    tz: ZoneInfo

    @property
    def zh(self) -> bool:
        return self.lang == "zh-CN"

    def at(self, when: datetime) -> str:
        """A time on the site's wall clock, with the zone named (no one reads UTC there)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return f"{when.astimezone(self.tz):%Y-%m-%d %H:%M} ({self.tz.key})"


def _site_zone(room: Room | None, fallback: str) -> ZoneInfo:
    for name in (room.site.timezone if room is not None else None, fallback, "UTC"):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def _phenomenon(fault: Fault, device: Device | None, room: Room | None, w: _Words) -> str:
    level = Level(fault.level)
    said = fault_words(
        fault.rule_id,
        w.lang,
        title=fault.title,
        evidence=fault.evidence,
        device=device.device if device is not None else device_of_target(fault.target) or None,
        room=room.name if room is not None else None,
        description=fault.description,
    )
    lines: list[str] = []
    if w.zh:
        lines.append(f"{said.title}（{level.label('zh')}）。")
        lines.append(f"{w.at(fault.opened_at)} 出现，共检测到 {fault.fire_count} 次。")
    else:
        lines.append(f"{said.title} ({level.label('en')}).")
        lines.append(f"Opened {w.at(fault.opened_at)}, seen {fault.fire_count} time(s).")
    evidence = fault.evidence or {}
    if evidence.get("metric") is not None:
        labels = evidence.get("labels") or {}
        where = labels_text(labels, w.lang) if isinstance(labels, dict) else ""
        value = f"{metric_name(str(evidence['metric']), w.lang)} = {evidence.get('value')}"
        if w.zh:
            lines.append(f"证据：{value}" + (f"（{where}）" if where else "") + "。")
        else:
            lines.append(f"Evidence: {value}" + (f" ({where})" if where else "") + ".")
    if fault.resolved_at is not None:
        at = w.at(fault.resolved_at)
        lines.append(f"{at} 已恢复。" if w.zh else f"Recovered {at}.")
    if fault.flapping:
        lines.append(
            "故障反复出现又消失（抖动）。"
            if w.zh
            else "The condition came and went repeatedly (flapping)."
        )
    if fault.source == "manual" and fault.reporter:
        lines.append(f"报告人：{fault.reporter}。" if w.zh else f"Reported by {fault.reporter}.")
    return ("" if w.zh else " ").join(lines)


def _cause(session: Session, fault: Fault, w: _Words) -> str:
    # The stored description is the rule's own (English) words; Chinese comes from texts.yaml.
    text = texts_for(fault.rule_id, w.lang)
    description = fault.description.strip()
    if text is not None and (w.zh or not description):
        description = text.description
    hints = [description] if description else []
    suppressed = workflow_store.list_suppressed(session, root_fault_id=fault.id, limit=50)
    if suppressed:
        targets = ", ".join(sorted({s.target for s in suppressed}))
        hints.append(
            f"其后的设备也因此故障：{targets}。"
            if w.zh
            else f"Devices behind it also failed: {targets}."
        )
    return ("" if w.zh else " ").join(hints)


__all__ = ["LogEntry", "Part", "draft", "save"]

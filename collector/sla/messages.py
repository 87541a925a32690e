"""The words of SLA notifications, in Chinese and English (the plan's language first)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from collector.db.models import Fault
from collector.levels import Level
from collector.rules.texts import evidence_lines, texts_for

KIND_NAMES = {
    "respond": ("响应", "respond"),
    "on_site": ("到场", "on site"),
    "fix": ("修复", "fix"),
    "replace": ("备机更换", "replacement unit"),
}
STATUS_NAMES = {
    "opened": ("新故障", "opened"),
    "acknowledged": ("已响应", "acknowledged"),
    "on_site": ("已到场", "engineer on site"),
    "waiting_customer": ("等待客户", "waiting for customer"),
    "waiting_parts": ("等待备件", "waiting for parts"),
    "resolved": ("已修复", "resolved"),
    "closed": ("已关闭", "closed"),
    "level_changed": ("级别变更", "level changed"),
}
TRIGGER_NAMES = {
    "warning": ("即将超时", "about to breach"),
    "breach": ("已超时", "breached"),
    "complaint": ("客户投诉", "customer complaint"),
}


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _head(fault: Fault) -> str:
    level = Level(fault.level)
    return f"{level.name} {level.name_zh}/{level.name_en} #{fault.id} {fault.title}"


def transition(
    fault: Fault, status: str, at: datetime, timezone: str, deadlines: list[tuple[str, datetime]]
) -> tuple[str, str]:
    zh, en = STATUS_NAMES.get(status, (status, status))
    subject = f"[roomwatch] {zh} {en}: {_head(fault)}"
    lines = [_head(fault), f"{zh} / {en}: {_local(at, timezone)} ({timezone})"]
    if fault.room_id:
        lines.append(f"教室 room: {fault.room_id}")
    for kind, deadline in deadlines:
        kind_zh, kind_en = KIND_NAMES.get(kind, (kind, kind))
        lines.append(f"{kind_zh}时限 {kind_en} deadline: {_local(deadline, timezone)}")
    if status == "opened":
        lines.extend(_what_to_check(fault))
    return subject, "\n".join(lines)


def _what_to_check(fault: Fault) -> list[str]:
    """The rule's description, "check first" list and evidence, zh-CN then en."""
    lines: list[str] = []
    for language, heading in (("zh-CN", "请先检查"), ("en", "Check first")):
        text = texts_for(fault.rule_id, language)
        if text is not None:
            lines.append(text.description)
            lines.append(f"{heading}: " + "; ".join(text.check))
        lines.extend(evidence_lines(fault.evidence, language))
    return lines


def escalation(
    fault: Fault,
    trigger: str,
    role: str,
    clock_kind: str | None,
    deadline: datetime | None,
    timezone: str,
    text: str = "",
) -> tuple[str, str]:
    trigger_zh, trigger_en = TRIGGER_NAMES.get(trigger, (trigger, trigger))
    kind_zh, kind_en = KIND_NAMES.get(clock_kind or "", ("", ""))
    what = f"{kind_zh}{trigger_zh} {kind_en} {trigger_en}".strip()
    subject = f"[roomwatch] 升级 escalation ({role}): {what}: {_head(fault)}"
    lines = [_head(fault), what, f"升级至 escalated to: {role}"]
    if deadline is not None:
        lines.append(f"时限 deadline: {_local(deadline, timezone)} ({timezone})")
    if text:
        lines.append(f"投诉内容 complaint: {text}")
    return subject, "\n".join(lines)

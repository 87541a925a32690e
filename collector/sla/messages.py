"""The words of SLA notifications, in the language the fault's site reads (its inventory
``language``, zh-CN by default): which school, room and device (with its model), the rule's
title and what to check first, and a link to the fault page when the collector knows its
public address."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.sla_store import FaultPlace
from roomwatch.collector.levels import Level
from roomwatch.collector.rules.texts import FaultWords, fault_words, language_of

# The dashboard's fault page (collector/web: PREFIX + /faults/<id>); a test follows the link.
FAULT_PAGE_PATH = "/ui/faults/{fault_id}"

# key → (zh-CN, en)
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
WORDS = {
    "school": ("学校", "School"),
    "room": ("教室", "Room"),
    "device": ("设备", "Device"),
    "level": ("级别", "Level"),
    "deadline": ("{kind}时限", "{kind} deadline"),
    "check": ("请先检查", "Check first"),
    "evidence": ("依据", "Evidence"),
    "link": ("详情", "Details"),
    "escalation": ("升级", "escalation"),
    "escalated_to": ("升级至", "Escalated to"),
    "complaint": ("投诉内容", "Complaint"),
    "sep": ("：", ": "),
}


@dataclass(frozen=True)
class Reader:
    """Who a message is for: the site's language, where the fault is, and the collector's
    public base URL (None: no link)."""

    place: FaultPlace = field(default_factory=FaultPlace)
    public_url: str | None = None

    @property
    def zh(self) -> bool:
        return language_of(self.place.language) == "zh-CN"

    def word(self, table: dict[str, tuple[str, str]], key: str) -> str:
        zh, en = table.get(key, (key, key.replace("_", " ")))
        return zh if self.zh else en

    def link(self, fault_id: int | None) -> str | None:
        if not self.public_url or fault_id is None:
            return None
        return self.public_url.rstrip("/") + FAULT_PAGE_PATH.format(fault_id=fault_id)


def _local(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _title(fault: Fault, reader: Reader) -> str:
    return _words(fault, reader).title


def _words(fault: Fault, reader: Reader) -> FaultWords:
    return fault_words(
        fault.rule_id,
        reader.place.language,
        title=fault.title,
        evidence=fault.evidence,
        device=reader.place.device,
        room=reader.place.room_name or fault.room_id,
        description=fault.description or "",
    )


def _head(fault: Fault, reader: Reader) -> str:
    level = Level(fault.level).label("zh-CN" if reader.zh else "en")
    where = reader.place.site_name
    return f"{level} #{fault.id} {_title(fault, reader)}" + (f" · {where}" if where else "")


def _where(fault: Fault, reader: Reader) -> list[str]:
    """School, room, device (model) lines: who reads it knows where to go."""
    sep = reader.word(WORDS, "sep")
    place = reader.place
    lines = []
    if place.site_name:
        lines.append(f"{reader.word(WORDS, 'school')}{sep}{place.site_name}")
    room = place.room_name or fault.room_id
    if room:
        lines.append(f"{reader.word(WORDS, 'room')}{sep}{room}")
    if place.device:
        model = f" ({place.device_model})" if place.device_model else ""
        lines.append(f"{reader.word(WORDS, 'device')}{sep}{place.device}{model}")
    level = Level(fault.level)
    meaning = level.meaning_zh if reader.zh else level.name_en
    lines.append(f"{reader.word(WORDS, 'level')}{sep}{level.name} {meaning}")
    return lines


def transition(
    fault: Fault,
    status: str,
    at: datetime,
    timezone: str,
    deadlines: list[tuple[str, datetime]],
    reader: Reader | None = None,
) -> tuple[str, str]:
    """(subject, body) of a fault's transition, in the site's language."""
    reader = reader or Reader()
    sep = reader.word(WORDS, "sep")
    what = reader.word(STATUS_NAMES, status)
    subject = f"[roomwatch] {what}: {_head(fault, reader)}"
    lines = [_head(fault, reader), *_where(fault, reader)]
    lines.append(f"{what}{sep}{_local(at, timezone)} ({timezone})")
    for kind, deadline in deadlines:
        label = reader.word(WORDS, "deadline").format(kind=reader.word(KIND_NAMES, kind))
        lines.append(f"{label}{sep}{_local(deadline, timezone)}")
    if status == "opened":
        lines.extend(_what_to_check(fault, reader))
    lines.extend(_link_lines(fault, reader))
    return subject, "\n".join(lines)


def _what_to_check(fault: Fault, reader: Reader) -> list[str]:
    """The rule's description, "check first" list and evidence as labelled lines."""
    words = _words(fault, reader)
    sep = reader.word(WORDS, "sep")
    lines: list[str] = []
    if words.description:
        lines.extend(["", words.description])
    if words.check:
        lines.append(f"{reader.word(WORDS, 'check')}{sep}")
        lines.extend(f"{n}. {item}" for n, item in enumerate(words.check, start=1))
    if words.evidence:
        lines.append(f"{reader.word(WORDS, 'evidence')}{sep}")
        lines.extend(f"  {line}" for line in words.evidence)
    return lines


def _link_lines(fault: Fault, reader: Reader) -> list[str]:
    link = reader.link(fault.id)
    return (
        []
        if link is None
        else ["", f"{reader.word(WORDS, 'link')}{reader.word(WORDS, 'sep')}{link}"]
    )


def escalation(
    fault: Fault,
    trigger: str,
    role: str,
    clock_kind: str | None,
    deadline: datetime | None,
    timezone: str,
    text: str = "",
    reader: Reader | None = None,
) -> tuple[str, str]:
    """(subject, body) of an escalation step or a complaint, in the site's language."""
    reader = reader or Reader()
    sep = reader.word(WORDS, "sep")
    kind = reader.word(KIND_NAMES, clock_kind) if clock_kind else ""
    happened = reader.word(TRIGGER_NAMES, trigger)
    what = f"{kind}{happened}" if reader.zh else f"{kind} {happened}".strip()
    subject = (
        f"[roomwatch] {reader.word(WORDS, 'escalation')} ({role}): {what}: {_head(fault, reader)}"
    )
    lines = [_head(fault, reader), *_where(fault, reader), what]
    lines.append(f"{reader.word(WORDS, 'escalated_to')}{sep}{role}")
    if deadline is not None:
        label = reader.word(WORDS, "deadline").format(kind=kind)
        lines.append(f"{label}{sep}{_local(deadline, timezone)} ({timezone})")
    if text:
        lines.append(f"{reader.word(WORDS, 'complaint')}{sep}{text}")
    lines.extend(_link_lines(fault, reader))
    return subject, "\n".join(lines)

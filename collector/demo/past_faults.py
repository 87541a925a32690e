"""A few dozen past faults of the demo rooms, handled as engineers handle them.

``plan_faults`` decides what happened (pure, seeded: the same rooms and time give the same
past); ``replay_faults`` walks each fault through the collector's own workflow — opened by
the rules, acknowledged, visited, resolved or cleared by itself, closed with its
maintenance log — so SLA clocks run on the policies and come out met or breached as the
times say, and surveys fall due where the service plan wants them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from roomwatch.collector.db import faults_store, workflow_store
from roomwatch.collector.demo import history
from roomwatch.collector.levels import Level
from roomwatch.collector.rules.texts import title_fields, title_for
from roomwatch.collector.workflow import logbook, surveys
from roomwatch.collector.workflow.lifecycle import ManualFault, Workflow

ENGINEERS = ("demo-engineer", "王工", "李工")
FAULTS_PER_ROOM_AND_MONTH = 2.0


@dataclass(frozen=True)
class Kind:
    """One kind of incident: the rule that catches it, what it does to the samples, how
    long it lasts, how it is handled and what the log says."""

    rule_id: str
    level: Level
    device: str | None  # None: the room (agent offline) or a person's report
    effect: str | None
    minutes: tuple[int, int]  # how long the condition lasts, unless people fix it first
    handled: bool  # people fix it (else it clears by itself and is closed afterwards)
    evidence: dict[str, Any]
    phenomenon: str
    cause: str
    solution: str
    parts: tuple[dict[str, Any], ...] = ()
    spares: tuple[dict[str, Any], ...] = ()
    weight: float = 1.0


KINDS: tuple[Kind, ...] = (
    Kind("device_unreachable", Level.L1, "cam-2", history.UNREACHABLE, (40, 240), True,
         {"metric": "reachable", "value": 0.0, "labels": {}},
         "2号摄像机无画面，网页和 SNMP 均无响应", "摄像机网线水晶头氧化松动",
         "重新压制水晶头并固定线缆，画面恢复",
         parts=({"name": "RJ45 水晶头", "quantity": 2},), weight=1.5),
    Kind("device_unreachable", Level.L1, "cam-2", history.UNREACHABLE, (300, 900), True,
         {"metric": "reachable", "value": 0.0, "labels": {}},
         "2号摄像机反复重启后无响应", "摄像机主板故障（雷雨后）", "用备件更换摄像机并恢复预置位",
         parts=({"name": "网络摄像机", "model": "DS-2CD2185FWD-I", "quantity": 1},),
         spares=({"name": "网络摄像机", "model": "DS-2CD2185FWD-I", "quantity": 1},),
         weight=0.4),
    Kind("device_unreachable", Level.L1, "cam-1", history.UNREACHABLE, (30, 180), True,
         {"metric": "reachable", "value": 0.0, "labels": {}},
         "1号摄像机离线", "交换机 PoE 端口供电异常", "将摄像机改接到备用 PoE 端口并记录端口号"),
    Kind("agent_offline", Level.L1, None, history.AGENT_AWAY, (20, 150), False,
         {"metric": "online", "value": 0.0, "labels": {}},
         "录播主机离线，无监控数据", "系统更新后主机重启，未自动登录",
         "设置自动登录，关闭工作时间内的自动更新重启", weight=1.2),
    Kind("recording_process_down", Level.L1, "host", history.RECORDER_DOWN, (15, 120), True,
         {"metric": "process.running", "value": 0.0, "labels": {"name": "recorder"}},
         "录播软件未运行，课程未录制", "录播软件内存泄漏后崩溃",
         "重启录播软件，升级到厂商修复版本", weight=1.2),
    Kind("ups_on_battery", Level.L2, "ups-1", history.ON_BATTERY, (20, 55), False,
         {"metric": "on_battery", "value": 1.0, "labels": {},
          "extra": {"battery_minutes_remaining": 31.0}},
         "市电中断，UPS 转电池供电", "教学楼配电检修停电", "市电恢复后确认 UPS 回到市电并充满"),
    Kind("temperature_warm", Level.L3, "cam-1", history.HOT, (90, 240), False,
         {"metric": "temperature_c", "value": 63.0, "labels": {}},
         "1号摄像机温度偏高", "防护罩通风口被遮挡，午后阳光直射", "清理通风口，加装遮阳罩",
         weight=0.8),
    Kind("interface_errors", Level.L2, "sw-1", None, (60, 600), True,
         {"metric": "interfaces.in_errors_per_s", "value": 14.0,
          "labels": {"ifindex": "2", "ifname": "GigabitEthernet0/0/2"}},
         "交换机 2 号端口持续出现错误帧", "跳线老化", "更换 2 号端口跳线，错误计数归零",
         parts=({"name": "六类跳线", "quantity": 1},), weight=0.5),
    Kind("manual", Level.L3, "cam-1", None, (60, 300), True,
         {"reported_via": "phone"},
         "老师反映录播画面偶尔卡顿", "导播机编码码率设置过高", "调整编码码率并与老师确认画面流畅",
         weight=0.6),
)  # fmt: skip


@dataclass(frozen=True)
class PastFault:
    kind: Kind
    room_id: str
    agent_id: str
    opened_at: datetime
    lasted: timedelta  # until the condition cleared or the fix
    respond_after: timedelta | None  # None: nobody answered before it cleared
    on_site_after: timedelta | None
    remote_sessions: int
    waiting_parts: bool
    engineer: str
    survey_score: int | None
    outage: history.Outage | None = field(default=None)

    @property
    def cleared_at(self) -> datetime:
        return self.opened_at + self.lasted


def plan_faults(
    rooms: Sequence[history.RoomHistory], start: datetime, end: datetime
) -> list[PastFault]:
    """Faults opened between ``start`` and ``end`` (school hours mostly), with how each
    was handled. A few respond or fix late, so the report has breaches to show."""
    rng = random.Random("roomwatch-demo-faults")
    days = (end - start).days
    count = round(len(rooms) * FAULTS_PER_ROOM_AND_MONTH * days / 30)
    weights = [kind.weight for kind in KINDS]
    first_midnight = (start + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    faults: list[PastFault] = []
    busy: dict[str, list[datetime]] = {}  # a day between a room's incidents
    for _ in range(count * 3):  # a draw that overlaps its room's last incident is redrawn
        if len(faults) == count:
            break
        room = rng.choice(rooms)
        kind = rng.choices(KINDS, weights)[0]
        day = rng.randrange(days - 3)
        # 00:00-10:00 UTC: 08:00-18:00 in China, the school day
        at = first_midnight + timedelta(days=day, hours=rng.uniform(0, 10))
        at = at.replace(second=0, microsecond=0)
        if any(abs(at - other) < timedelta(days=1) for other in busy.get(room.room_id, [])):
            continue
        lasted = timedelta(minutes=rng.uniform(*kind.minutes))
        late = rng.random() < 0.2
        respond = None
        if kind.handled or rng.random() < 0.5:
            respond = timedelta(minutes=rng.uniform(45, 100) if late else rng.uniform(4, 25))
            if not kind.handled and respond >= lasted:
                respond = None  # it cleared before anyone answered
        on_site = None
        if kind.handled and kind.level <= Level.L2 and rng.random() < 0.6:
            on_site = timedelta(minutes=rng.uniform(130, 200) if late else rng.uniform(35, 100))
            lasted = max(lasted, on_site + timedelta(minutes=rng.uniform(15, 60)))
        waiting_parts = kind.handled and bool(kind.spares) and rng.random() < 0.7
        if waiting_parts:
            lasted = timedelta(hours=rng.uniform(10, 30))  # the substitute came next day
        outage = None
        if kind.effect is not None:
            outage = history.Outage(room.room_id, kind.effect, at, at + lasted, kind.device)
        faults.append(
            PastFault(
                kind=kind,
                room_id=room.room_id,
                agent_id=room.agent_id,
                opened_at=at,
                lasted=lasted,
                respond_after=respond,
                on_site_after=on_site,
                remote_sessions=rng.choice((0, 0, 1, 2, 3)) if kind.handled else 0,
                waiting_parts=waiting_parts,
                engineer=rng.choice(ENGINEERS),
                survey_score=rng.choice((5, 5, 4, 4, 3, None)),
                outage=outage,
            )
        )
        busy.setdefault(room.room_id, []).append(at)
    return sorted(faults, key=lambda f: f.opened_at)


def replay_faults(session: Session, workflow: Workflow, faults: Sequence[PastFault]) -> int:
    """Open, handle and close every fault through the workflow; return how many."""
    for past in faults:
        _replay(session, workflow, past)
    session.flush()
    return len(faults)


def _replay(session: Session, workflow: Workflow, past: PastFault) -> None:
    kind, at = past.kind, past.opened_at
    if kind.rule_id == "manual":
        spec = ManualFault(
            room_id=past.room_id,
            device=kind.device,
            level=kind.level,
            title=kind.phenomenon,
            reporter="教务处 张老师",
        )
        fault = workflow.create_manual(session, spec, past.engineer, at)
    else:
        target = _target(kind, past.room_id)
        fault = workflow.open_rule_fault(
            session,
            open_key=f"{kind.rule_id}|{target}",
            at=at,
            rule_id=kind.rule_id,
            target=target,
            room_id=past.room_id,
            device_id=faults_store.device_pk(session, past.room_id, kind.device)
            if kind.device
            else None,
            agent_id=past.agent_id,
            level=int(kind.level),
            title=_title(kind, past.room_id),
            evidence=kind.evidence,
        )
    entry = logbook.LogEntry(
        phenomenon=kind.phenomenon,
        cause=kind.cause,
        solution=kind.solution,
        engineer=past.engineer,
        parts_replaced=[logbook.Part(**part) for part in kind.parts],
        spares_used=[logbook.Part(**part) for part in kind.spares],
    )
    person = past.engineer
    if past.respond_after is not None and past.respond_after < past.lasted:
        workflow.transition(session, fault, "acknowledged", person, at + past.respond_after)
    for n in range(past.remote_sessions):
        when = at + (past.respond_after or timedelta(minutes=5)) + timedelta(minutes=10 * (n + 1))
        if when < at + past.lasted:
            workflow.add_remote_session(session, fault, person, when, duration_min=8)
    if past.on_site_after is not None:
        workflow.transition(session, fault, "on_site", person, at + past.on_site_after)
    if past.waiting_parts:
        since = past.on_site_after or past.respond_after or timedelta(minutes=30)
        workflow.transition(
            session, fault, "waiting_parts", person, at + since + timedelta(minutes=30)
        )
    if kind.handled:
        workflow.transition(session, fault, "resolved", person, past.cleared_at, log=entry)
    else:
        reason = f"{kind.evidence['metric']} back"
        workflow.auto_resolve(session, fault, past.cleared_at, reason=reason)
    closed_at = past.cleared_at + timedelta(hours=20)
    workflow.transition(session, fault, "closed", person, closed_at, log=entry)
    survey = workflow_store.get_survey(session, fault.id)
    if survey is not None:
        surveys.mark_sent(survey, closed_at + timedelta(hours=1), person, "wecom")
        if past.survey_score is not None:
            comment = "响应及时，处理专业" if past.survey_score >= 4 else "希望到场再快一些"
            answered_at = closed_at + timedelta(hours=5)
            surveys.record_answer(survey, answered_at, past.survey_score, comment)


def _target(kind: Kind, room_id: str) -> str:
    if kind.rule_id == "agent_offline":
        return f"{room_id}/agent"
    if kind.rule_id == "recording_process_down":
        return f"{room_id}/host/process{{name=recorder}}"
    labels = kind.evidence.get("labels") or {}
    if labels:
        pairs = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
        return f"{room_id}/{kind.device}/{kind.evidence['metric'].split('.')[0]}{{{pairs}}}"
    return f"{room_id}/{kind.device}"


def _title(kind: Kind, room_id: str) -> str:
    device = None if kind.rule_id == "agent_offline" else kind.device
    fields = title_fields(kind.evidence, device, room_id)
    return title_for(kind.rule_id, "en", fields, fallback=f"{kind.rule_id} in {room_id}")

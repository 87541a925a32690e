"""Faults of the period: counts by level, SLA clocks met / breached, mean time to respond
and to fix, and the maintenance log of each fault.

Response time: when a person answered — the ``respond`` clock stopped by an
acknowledgement or an on-site visit, else the fault's ``acknowledged_at``, else its first
event by a person. A fault that cleared by itself before anyone answered is **cleared
before response**: it has no response time, its clocks are neither met nor breached
(``cleared``; a clock that breached before it cleared stays breached) and it is left out of
the met rate and of the mean times, which measure the people who handled faults. Fix time:
opened → resolved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.report_queries import ClockRow, LogRow
from roomwatch.collector.levels import Level
from roomwatch.collector.reports.model import (
    ClockStats,
    FaultLine,
    FaultSection,
    LevelStats,
    MaintenanceEntry,
)
from roomwatch.collector.reports.period import Period
from roomwatch.collector.rules.texts import LANGUAGES, fault_words

CLOCK_ORDER = ("respond", "on_site", "fix", "replace")
# Stops of the respond clock that are a person answering (resolved / closed are not).
PERSON_RESPONSES = frozenset({"acknowledged", "on_site"})


def build_fault_section(
    faults: Sequence[Fault],
    period: Period,
    clocks: Sequence[ClockRow],
    logs: Sequence[LogRow],
    first_human: Mapping[int, datetime],
    room_names: Mapping[str, str],
    device_names: Mapping[int, str],
    now: datetime,
) -> FaultSection:
    """``now``: a clock still running past its deadline at ``now`` counts as breached."""
    start, end = period.start_utc, period.end_utc
    opened = [f for f in faults if start <= f.opened_at < end]
    clocks_of: dict[int, list[ClockRow]] = defaultdict(list)
    for clock in clocks:
        clocks_of[clock.fault_id].append(clock)
    log_of = {log.fault_id: log for log in logs}
    lines = [
        _line(
            f, clocks_of.get(f.id, []), log_of.get(f.id), first_human, room_names, device_names, now
        )
        for f in opened
    ]
    levels = [_level_stats(level, [x for x in lines if x.level == level], end) for level in Level]
    clock_stats = _clock_stats([(x, c) for x in lines for c in clocks_of.get(x.id, [])], now)
    return FaultSection(
        levels=levels,
        clocks=clock_stats,
        faults=lines,
        sla_source="sla_clocks" if clocks else "none",
        breached=[x for x in lines if "breached" in x.clocks.values()],
    )


def _line(
    fault: Fault,
    clocks: list[ClockRow],
    log: LogRow | None,
    first_human: Mapping[int, datetime],
    room_names: Mapping[str, str],
    device_names: Mapping[int, str],
    now: datetime,
) -> FaultLine:
    responded = response_at(fault, clocks, first_human)
    room_name = room_names.get(fault.room_id or "", fault.room_id)
    device = device_names.get(fault.device_id) if fault.device_id is not None else None
    cleared = responded is None and fault.resolved_at is not None
    states = {c.kind: _clock_state(c, now) for c in sorted(clocks, key=_clock_rank)}
    if cleared:
        states = {kind: "cleared" if s == "met" else s for kind, s in states.items()}
    return FaultLine(
        id=fault.id,
        level=fault.level,
        room_id=fault.room_id,
        room_name=room_name,
        device=device,
        rule_id=fault.rule_id,
        title=fault.title,
        status=fault.status,
        opened_at=fault.opened_at,
        resolved_at=fault.resolved_at,
        respond_min=_minutes(fault.opened_at, responded),
        fix_min=None if cleared else _minutes(fault.opened_at, fault.resolved_at),
        clocks=states,
        log=None
        if log is None
        else MaintenanceEntry(
            log.phenomenon, log.cause, log.solution, log.engineer, log.recorded_at
        ),
        cleared_before_response=cleared,
        titles={lang: _title(fault, lang, device, room_name) for lang in LANGUAGES},
    )


def _title(fault: Fault, lang: str, device: str | None, room: str | None) -> str:
    """The rule's title in ``lang`` filled from the fault (its stored title without texts)."""
    return fault_words(
        fault.rule_id, lang, title=fault.title, evidence=fault.evidence, device=device, room=room
    ).title


def response_at(
    fault: Fault, clocks: Sequence[ClockRow], first_human: Mapping[int, datetime]
) -> datetime | None:
    """When a person first answered the fault while it was still there, or None."""
    stopped = [
        c.stopped_at
        for c in clocks
        if c.kind == "respond" and c.stopped_at and c.stopped_by in PERSON_RESPONSES
    ]
    candidates = [*stopped, fault.acknowledged_at, first_human.get(fault.id)]
    found = min((at for at in candidates if at is not None), default=None)
    if found is None or (fault.resolved_at is not None and found > fault.resolved_at):
        return None  # a log written after it cleared is no response
    return found


def _level_stats(level: int, lines: list[FaultLine], end: datetime) -> LevelStats:
    resolved = [x for x in lines if x.resolved_at is not None and x.resolved_at < end]
    responds = [x.respond_min for x in lines if x.respond_min is not None]
    fixes = [x.fix_min for x in resolved if x.fix_min is not None]
    return LevelStats(
        level=level,
        opened=len(lines),
        resolved=len(resolved),
        open_at_end=len(lines) - len(resolved),
        mean_respond_min=sum(responds) / len(responds) if responds else None,
        mean_fix_min=sum(fixes) / len(fixes) if fixes else None,
        cleared_before_response=sum(1 for x in lines if x.cleared_before_response),
    )


def _clock_stats(clocks: list[tuple[FaultLine, ClockRow]], now: datetime) -> list[ClockStats]:
    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: {"met": 0, "breached": 0, "running": 0, "cleared": 0}
    )
    for line, clock in clocks:
        counts[clock.kind][line.clocks.get(clock.kind, _clock_state(clock, now))] += 1
    return [
        ClockStats(kind, c["met"], c["breached"], c["running"], c["cleared"])
        for kind, c in sorted(counts.items(), key=lambda kv: _kind_rank(kv[0]))
    ]


def _clock_state(clock: ClockRow, now: datetime) -> str:
    if clock.breached or (clock.stopped_at is None and clock.deadline_at <= now):
        return "breached"
    if clock.met:
        return "met"
    return "running"


def _clock_rank(clock: ClockRow) -> int:
    return _kind_rank(clock.kind)


def _kind_rank(kind: str) -> int:
    return CLOCK_ORDER.index(kind) if kind in CLOCK_ORDER else len(CLOCK_ORDER)


def _minutes(start: datetime, stop: datetime | None) -> float | None:
    if stop is None or stop < start:
        return None
    return (stop - start).total_seconds() / 60

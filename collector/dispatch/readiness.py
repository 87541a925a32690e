"""The pre-class readiness check: at a set local time of each school day, one message per
site to the engineer on duty and the school — "N rooms not ready" with the list, or "all
ready" — through the notification outbox, in the site's language (inventory
``sites[].language``, zh-CN by default; the words are in ``collector/notify/notices.yaml``,
a fault's title is its rule's in that language; each reason is worded as the Today page
words it, ``collector.dispatch.risk_words``).

A site's school day is one on which a room of it has classes (``collector.timetable``:
weekdays, public holidays off, make-up working days on, terms). The check runs at
``readiness.at`` (``readiness.sites`` overrides it per site) or, when the collector was
down then, at the first tick after it while periods of the day remain. The day's run is a
row (``readiness_runs``) written in the transaction that enqueues the message, so a
restart, or a second collector, never sends it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from roomwatch.collector.db import dispatch_store, sla_store
from roomwatch.collector.db.models import Site
from roomwatch.collector.db.session import Database
from roomwatch.collector.dispatch.assign import duty_shift
from roomwatch.collector.dispatch.risk_words import local_minute, risk_detail
from roomwatch.collector.dispatch.roster import HM_PATTERN
from roomwatch.collector.dispatch.today import HISTORY_H, Risk, RoomRisk, site_today
from roomwatch.collector.notify.notices import has_notice, notice
from roomwatch.collector.notify.outbox import Message, tell_contacts
from roomwatch.collector.rules.texts import language_of
from roomwatch.collector.sla.messages import KIND_NAMES

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DUTY_ROLE = "engineer_on_duty"  # the escalation chain's first role, when no roster covers
SCHOOL_ROLE = "school"  # the school's contact (SLA contacts with role "school")


class ReadinessConfig(BaseModel):
    """The ``readiness:`` section of the collector config."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    at: str = Field(default="07:30", pattern=HM_PATTERN, description="Local time, HH:MM.")
    sites: dict[str, Annotated[str, Field(pattern=HM_PATTERN)]] = Field(
        default_factory=dict, description="Per site id: its own time (HH:MM)."
    )
    check_every_s: float = Field(default=60.0, gt=0, le=3600)

    def time_for(self, site_id: str) -> time:
        return time.fromisoformat(self.sites.get(site_id, self.at))


@dataclass(frozen=True)
class ReadinessResult:
    site_id: str
    day: date
    not_ready: tuple[RoomRisk, ...]
    recipients: tuple[str, ...]


class ReadinessCheck:
    """Runs each site's check when due; ``tick()`` is called from the collector's loop."""

    def __init__(
        self, db: Database, config: ReadinessConfig, clock: Clock, default_timezone: str
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.default_timezone = default_timezone
        self._next: datetime | None = None

    def tick(self) -> list[ReadinessResult]:
        """Run the checks that are due; failures are logged, never raised."""
        now = self.clock()
        if not self.config.enabled or (self._next is not None and now < self._next):
            return []
        self._next = now + timedelta(seconds=self.config.check_every_s)
        try:
            with self.db.session(write=True) as session:
                return self.run_due(session, now)
        except Exception as exc:
            log.error("pre-class readiness check failed: %s", exc)
            return []

    def run_due(self, session: Session, now: datetime) -> list[ReadinessResult]:
        results = []
        for site in dispatch_store.sites(session):
            result = self.check_site(session, site, now)
            if result is not None:
                results.append(result)
        return results

    def check_site(self, session: Session, site: Site, now: datetime) -> ReadinessResult | None:
        """The site's check for today, if due now and not run yet."""
        local = now.astimezone(ZoneInfo(site.timezone or self.default_timezone))
        if local.time() < self.config.time_for(site.id):
            return None
        if dispatch_store.readiness_run(session, site.id, local.date()) is not None:
            return None
        facts = dispatch_store.room_facts(session, site.id, now, HISTORY_H)
        view = site_today(site, facts, now, self.default_timezone)
        if not view.days or view.days[0].day != local.date():
            return None  # no school day (holiday, weekend), or its lessons are over
        not_ready = view.not_ready(local.date())
        room_ids = [room.room_id for room in not_ready]
        run = dispatch_store.claim_readiness_run(session, site.id, local.date(), now, room_ids)
        if run is None:
            return None
        subject, body = message(
            site,
            local.date(),
            not_ready,
            view.days[0].periods[0].label,
            view.timezone,
        )
        recipients = self._send(session, site, now, subject, body, local.date(), len(not_ready))
        run.recipients = len(recipients)
        log.info("readiness %s %s: %d rooms not ready", site.id, local.date(), len(not_ready))
        return ReadinessResult(site.id, local.date(), tuple(not_ready), recipients)

    def _send(
        self,
        session: Session,
        site: Site,
        now: datetime,
        subject: str,
        body: str,
        day: date,
        not_ready: int,
    ) -> tuple[str, ...]:
        shift = duty_shift(session, site.id, now, self.default_timezone)
        duty = (
            dispatch_store.person_contacts(session, site.id, shift.person)
            if shift is not None
            else []
        ) or sla_store.contacts_for(session, DUTY_ROLE, site.id)
        school = sla_store.contacts_for(session, SCHOOL_ROLE, site.id)
        data = {
            "site": site.id,
            "day": day.isoformat(),
            "not_ready": not_ready,
            "language": language_of(site.language),
        }
        message = Message(subject, body, now, f"ready|{site.id}|{day.isoformat()}", data)
        reached = tell_contacts(session, [*duty, *school], message)
        if not reached:
            log.warning("readiness %s: no duty engineer or school contact to tell", site.id)
        return reached


def message(
    site: Site,
    day: date,
    not_ready: Iterable[RoomRisk],
    first_period: str,
    timezone: str,
) -> tuple[str, str]:
    """Subject and body in the site's language; times are local to ``timezone``."""
    language = site.language
    rooms = list(not_ready)
    head = {"site": site.name, "day": day.isoformat()}
    if rooms:
        subject = notice("readiness.subject.not_ready", language, count=len(rooms), **head)
    else:
        subject = notice("readiness.subject.all_ready", language, **head)
    lines = [notice("readiness.head", language, first_period=first_period, **head), ""]
    for room in rooms:
        lines.append(f"- {room.room_name} ({room.room_id})")
        lines.extend(f"    {_risk_line(risk, language, timezone)}" for risk in room.risks)
    if not rooms:
        lines.append(notice("readiness.all_ready", language))
    return subject, "\n".join(lines)


def _risk_line(risk: Risk, language: str, timezone: str) -> str:
    """Why the room is not ready, who has it and by when, in ``language``. A reason the
    catalogue lacks keeps its kind and the collector's detail."""
    key = f"readiness.reason.{risk.kind}"
    reason = notice(key, language) if has_notice(key) else risk.kind
    if risk.device and risk.kind != "fault":  # a fault's title names its device
        reason = notice("readiness.on_device", language, reason=reason, device=risk.device)
    detail = risk_detail(risk, language, timezone)
    line = notice("readiness.line", language, reason=reason, detail=detail)
    if risk.assignee:
        line += notice("readiness.assignee", language, assignee=risk.assignee)
    if risk.deadline_at is not None:
        zh, en = KIND_NAMES.get(risk.deadline_kind or "", ("SLA", "SLA"))
        kind = en if language_of(language) == "en" else zh
        deadline = local_minute(risk.deadline_at, timezone)
        line += notice("readiness.deadline", language, kind=kind, deadline=deadline)
    return line

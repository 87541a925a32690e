"""The reminder an engineer gets before an inspection is due: once per site and period,
when the period enters the schedule's lead time (``lead_days``, per site, adjustable through
PUT /api/inspections/{site}/schedule), recorded in SQL so a restart does not repeat it. The
message is in the site's language (inventory ``sites[].language``, zh-CN by default; the
words are in ``collector/notify/notices.yaml``)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from roomwatch.collector.db import followup_store, report_store, scope, sla_store
from roomwatch.collector.db.scope import EVERY_SITE, SiteScope
from roomwatch.collector.db.session import Database
from roomwatch.collector.notify.notices import notice
from roomwatch.collector.notify.outbox import Message, tell_contacts
from roomwatch.collector.reports.service import DueInspection, ReportService
from roomwatch.collector.rules.texts import language_of

log = logging.getLogger(__name__)
REMINDED_ROLE = "engineer_on_duty"  # the chain's first role: who inspects


def send_reminders(
    db: Database, service: ReportService, at: datetime, sites: SiteScope = EVERY_SITE
) -> list[DueInspection]:
    """Remind the engineers of every inspection (of the ``sites`` in scope) that entered its
    lead time (the schedule's ``lead_days``, per site) and was not reminded before; returns
    the ones reminded now."""
    due = [d for d in service.due(at.date()) if scope.allows(sites, d.site_id)]
    sent: list[DueInspection] = []
    with db.session() as session:
        done = followup_store.reminded(session)
        for item in due:
            if (item.site_id, item.period_start) in done or item.days_overdue > 0:
                continue  # reminded already; or past its day (the due list shows it)
            recipients = _remind(session, item, at)
            if followup_store.record_reminder(
                session, item.site_id, item.period_start, item.period_end, at, recipients
            ):
                sent.append(item)
    if sent:
        log.info("inspection reminders sent for %d site period(s)", len(sent))
    return sent


def _remind(session: Session, item: DueInspection, at: datetime) -> list[str]:
    contacts = sla_store.contacts_for(session, REMINDED_ROLE, item.site_id)
    language = language_of(report_store.require_site(session, item.site_id).language)
    when = item.period_end.isoformat()
    words = {"site": item.site_name, "period": item.period_label, "due": when}
    subject = notice("inspection.subject", language, **words)
    body = notice("inspection.body", language, **words)
    data = {"site": item.site_id, "period": item.period_label, "due": when, "language": language}
    prefix = f"inspection|{item.site_id}|{item.period_start}"
    reached = list(tell_contacts(session, contacts, Message(subject, body, at, prefix, data)))
    if not reached:
        log.warning("inspection of %s due: no %s contact to remind", item.site_id, REMINDED_ROLE)
    return reached

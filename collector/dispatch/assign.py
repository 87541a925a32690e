"""Assignees: a fault opened at a site goes to whoever the site's roster has on duty, and
the first people told about a fault are its assignee's contacts (or the duty engineer's,
while nobody is assigned)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from roomwatch.collector.db import dispatch_store, sla_store
from roomwatch.collector.db.dispatch_models import DutyShift
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.sla_models import SlaContact
from roomwatch.collector.dispatch.roster import on_duty

log = logging.getLogger(__name__)

ROSTER_ACTOR = "roomwatch-roster"


def duty_shift(
    session: Session, site_id: str, at: datetime, default_timezone: str
) -> DutyShift | None:
    """The shift on duty at the site at ``at`` (its time zone, else ``default_timezone``)."""
    site = dispatch_store.get_site(session, site_id)
    shift = on_duty(
        dispatch_store.shifts_of(session, site_id), at, site.timezone or default_timezone
    )
    return shift if isinstance(shift, DutyShift) else None


def assign_from_roster(
    session: Session, fault: Fault, at: datetime, default_timezone: str
) -> str | None:
    """Give a new fault without an assignee to the engineer on duty; returns who."""
    if fault.assignee is not None:
        return fault.assignee
    site_id, _ = sla_store.fault_site(session, fault)
    if site_id is None:
        return None
    shift = duty_shift(session, site_id, at, default_timezone)
    if shift is None:
        return None
    dispatch_store.set_assignee(session, fault, shift.person, ROSTER_ACTOR, at)
    return shift.person


def first_contacts(
    session: Session, fault: Fault, site_id: str | None, at: datetime, default_timezone: str
) -> list[SlaContact]:
    """Who hears first about ``fault``: its assignee, else the engineer on duty now."""
    person = fault.assignee
    if person is None and site_id is not None:
        shift = duty_shift(session, site_id, at, default_timezone)
        person = shift.person if shift is not None else None
    if person is None:
        return []
    contacts = dispatch_store.person_contacts(session, site_id, person)
    if not contacts:
        log.info("fault %s: assignee %s has no contact (roster or SLA contact)", fault.id, person)
    return contacts

"""Where the SLA service gets policies and calendars: SQL by default, with the shipped file
as the fallback so a fault still gets clocks before any policy was loaded."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from roomwatch.collector.db import sla_store
from roomwatch.collector.sla.calendar import BusinessCalendar, HolidaySource, package_holidays
from roomwatch.collector.sla.policies import (
    PolicyDoc,
    PolicyFile,
    WorkingHoursSpec,
    shipped_policies,
)

DEFAULT_TIMEZONE = "Asia/Shanghai"


class PolicyProvider(Protocol):
    def policy(self, session: Session, policy_id: str) -> PolicyDoc | None: ...

    def policy_for_site(self, session: Session, site_id: str | None) -> PolicyDoc | None: ...


class SqlPolicies:
    """Policy of a site: its mapping row, else the default policy setting, else the
    fallback file's default (the shipped ``policies.yaml`` unless given another)."""

    def __init__(self, fallback: PolicyFile | None = None) -> None:
        self._fallback = fallback if fallback is not None else shipped_policies()

    def policy(self, session: Session, policy_id: str) -> PolicyDoc | None:
        found = sla_store.get_policy(session, policy_id)
        if found is not None:
            return found
        return next((p for p in self._fallback.policies if p.id == policy_id), None)

    def policy_for_site(self, session: Session, site_id: str | None) -> PolicyDoc | None:
        policy_id = None if site_id is None else sla_store.site_policy_id(session, site_id)
        policy_id = policy_id or sla_store.default_policy_id(session)
        policy_id = policy_id or self._fallback.default_policy
        return None if policy_id is None else self.policy(session, policy_id)


class StaticPolicies:
    """Policies from a file, with a site → policy mapping in memory (no SQL)."""

    def __init__(self, data: PolicyFile) -> None:
        self._data = data

    def policy(self, session: Session, policy_id: str) -> PolicyDoc | None:
        return next((p for p in self._data.policies if p.id == policy_id), None)

    def policy_for_site(self, session: Session, site_id: str | None) -> PolicyDoc | None:
        mapped = next((s.policy for s in self._data.sites if s.site == site_id), None)
        policy_id = mapped or self._data.default_policy
        return None if policy_id is None else self.policy(session, policy_id)


class CalendarProvider:
    """Business calendars: the holiday source, the admins' overrides from SQL, and the site's
    time zone (``default_timezone`` for a site without one)."""

    def __init__(
        self,
        holiday_source: HolidaySource | None = None,
        default_timezone: str = DEFAULT_TIMEZONE,
    ) -> None:
        self.holiday_source = holiday_source if holiday_source is not None else package_holidays()
        self.default_timezone = default_timezone

    def calendar(
        self, session: Session, hours: WorkingHoursSpec, timezone: str | None
    ) -> BusinessCalendar:
        return BusinessCalendar(
            hours,
            timezone or self.default_timezone,
            self.holiday_source,
            sla_store.calendar_overrides(session),
        )

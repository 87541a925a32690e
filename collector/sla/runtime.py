"""Running the SLA engine in the collector: configuration, loading SLA data at start, and
the periodic tick (escalation sweep, then outbox delivery).

The collector wires it as ``sla: SlaConfig`` in its config file, calls ``load_sla_data``
after the inventory sync, builds an ``SlaTicker`` and calls ``tick()`` from its loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from roomwatch.collector.db import sla_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.notify.config import NotifyConfig
from roomwatch.collector.notify.outbox import Outbox
from roomwatch.collector.sla.calendar import package_holidays
from roomwatch.collector.sla.policies import load_policy_file, shipped_policies
from roomwatch.collector.sla.providers import DEFAULT_TIMEZONE, CalendarProvider
from roomwatch.collector.sla.service import SlaService

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class SlaConfig(BaseModel):
    """The ``sla:`` section of the collector config."""

    model_config = ConfigDict(extra="forbid")

    files: list[Path] = Field(
        default_factory=list,
        description="Site SLA files (policies, site mapping, calendar overrides, contacts); "
        "they win over the API for what they name, at every start.",
    )
    holidays_country: str = Field(default="CN", description="holidays package country code")
    holidays_subdiv: str | None = None
    timezone: str = Field(default=DEFAULT_TIMEZONE, description="For sites without one.")
    sweep_every_s: float = Field(default=30.0, gt=0, description="Breach/escalation check.")
    notify: NotifyConfig = Field(default_factory=NotifyConfig)


def load_sla_data(
    db: Database, at: datetime, files: list[Path], service: SlaService | None = None
) -> None:
    """Shipped policies (only what SQL lacks), then each site file (authoritative). With
    ``service``, the deadlines of running clocks then follow the calendar the files set."""
    site_files = [load_policy_file(path) for path in files]  # all validated before writing
    with db.session() as session:
        sla_store.sync_policy_file(session, shipped_policies(), at, authoritative=False)
        for path, data in zip(files, site_files, strict=True):
            report = sla_store.sync_policy_file(session, data, at, authoritative=True)
            for problem in report.skipped:
                log.warning("%s: %s", path, problem)
        if service is not None:
            session.flush()
            moved = service.recompute_deadlines(session)
            if moved:
                log.info("SLA calendar changed: %d running deadlines moved", moved)


def build_service(config: SlaConfig, clock: Clock) -> SlaService:
    holidays = package_holidays(config.holidays_country, config.holidays_subdiv)
    return SlaService(
        CalendarProvider(holidays, config.timezone),
        clock=clock,
        public_url=config.notify.public_base(),
    )


class SlaTicker:
    """Sweeps for breaches and escalations and delivers the outbox, each at its period."""

    def __init__(
        self, db: Database, service: SlaService, outbox: Outbox, config: SlaConfig
    ) -> None:
        self.db = db
        self.service = service
        self.outbox = outbox
        self.config = config
        self._next_sweep: datetime | None = None
        self._next_delivery: datetime | None = None

    @classmethod
    def build(cls, db: Database, config: SlaConfig, clock: Clock) -> SlaTicker:
        notify = config.notify
        outbox = Outbox(
            db,
            notify.channels(),
            clock,
            retry=notify.retry_policy(),
            rate_limits=notify.limits(),
            default_rate=notify.default_limit(),
        )
        return cls(db, build_service(config, clock), outbox, config)

    def tick(self) -> None:
        """Do what is due now; failures are logged, never raised into the caller's loop."""
        now = self.service.clock()
        if self._next_sweep is None or now >= self._next_sweep:
            self._next_sweep = now + timedelta(seconds=self.config.sweep_every_s)
            try:
                with self.db.session(write=True) as session:
                    self.service.due_escalations(session, now)
            except Exception as exc:
                log.error("SLA sweep failed: %s", exc)
        if self._next_delivery is None or now >= self._next_delivery:
            self._next_delivery = now + timedelta(seconds=self.config.notify.deliver_every_s)
            try:
                self.outbox.deliver_due(now)
            except Exception as exc:
                log.error("notification delivery failed: %s", exc)

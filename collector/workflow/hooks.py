"""Where the fault life cycle meets the SLA engine and the notifications.

``FaultHooks`` is what ``collector.workflow`` calls, inside the transaction that changes
the fault: ``fault_opened`` (start the SLA clocks), ``status_changed`` (pause / resume / stop
clocks) and ``notify`` (one notification per transition; not called inside a maintenance
window). ``load_hooks()`` wires ``collector.sla.service.SlaService`` and
``collector.notify.enqueue`` when those modules are installed, and no-op hooks otherwise,
so the fault engine runs (and is tested) without them.
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from roomwatch.collector.db.models import Fault

log = logging.getLogger(__name__)


class FaultHooks(Protocol):
    def fault_opened(self, session: Session, fault: Fault, at: datetime) -> None: ...

    def status_changed(
        self, session: Session, fault: Fault, old: str, new: str, at: datetime
    ) -> None: ...

    def level_changed(
        self, session: Session, fault: Fault, old: int, new: int, at: datetime, from_now: bool
    ) -> None: ...

    def notify(self, session: Session, fault: Fault, transition: str, at: datetime) -> None: ...


class NoHooks:
    """Hooks that do nothing (no SLA engine, no notifications)."""

    def fault_opened(self, session: Session, fault: Fault, at: datetime) -> None:
        return None

    def status_changed(
        self, session: Session, fault: Fault, old: str, new: str, at: datetime
    ) -> None:
        return None

    def level_changed(
        self, session: Session, fault: Fault, old: int, new: int, at: datetime, from_now: bool
    ) -> None:
        return None

    def notify(self, session: Session, fault: Fault, transition: str, at: datetime) -> None:
        return None


class ServiceHooks:
    """Calls an SLA service (``start_clocks``, ``on_status_change``, ``on_level_change``) and,
    for notifications,
    the service's ``notify_transition(session, fault, transition, at)`` when it has one —
    it knows the contacts and channels of the fault's site — else nothing is sent."""

    def __init__(self, sla: Any) -> None:
        self.sla = sla

    def fault_opened(self, session: Session, fault: Fault, at: datetime) -> None:
        self.sla.start_clocks(session, fault, at)

    def status_changed(
        self, session: Session, fault: Fault, old: str, new: str, at: datetime
    ) -> None:
        self.sla.on_status_change(session, fault, old, new, at)

    def level_changed(
        self, session: Session, fault: Fault, old: int, new: int, at: datetime, from_now: bool
    ) -> None:
        self.sla.on_level_change(session, fault, old, new, at, from_now)

    def notify(self, session: Session, fault: Fault, transition: str, at: datetime) -> None:
        notify = getattr(self.sla, "notify_transition", None)
        if notify is not None:
            notify(session, fault, transition, at)


def load_hooks(**sla_kwargs: Any) -> FaultHooks:
    """The SLA-backed hooks when ``collector.sla.service`` exists, else ``NoHooks``."""
    try:
        module = importlib.import_module("roomwatch.collector.sla.service")
    except ImportError:
        return NoHooks()
    service_class = getattr(module, "SlaService", None)
    if service_class is None:
        return NoHooks()
    try:
        return ServiceHooks(service_class(**sla_kwargs))
    except TypeError as exc:
        log.warning("SLA service not wired (it needs %s); faults run without SLA clocks", exc)
        return NoHooks()


__all__ = ["FaultHooks", "NoHooks", "ServiceHooks", "load_hooks"]

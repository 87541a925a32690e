"""What the fault page needs of the fault workflow (``collector.workflow``): whether it is
installed, which statuses a fault may move to, and its maintenance log. The actions
themselves are posted by the page's script to the API (``/api/faults/{id}/...``), which
checks the engineer role and the session's ``X-Requested-With`` header."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from roomwatch.collector.db import users_store, workflow_store
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.workflow_models import User
from roomwatch.collector.workflow import ALLOWED, logbook

# Offered as their own buttons, not in the status list.
OWN_BUTTONS = frozenset({"acknowledged"})


def available(request: Request) -> bool:
    """Whether the API carries the fault workflow (acknowledge, transitions, log)."""
    return getattr(request.app.state, "workflow", None) is not None


def transitions(status: str) -> list[str]:
    """Statuses a fault in ``status`` may be moved to by hand, in life-cycle order."""
    allowed = ALLOWED.get(status, frozenset())
    order = list(ALLOWED)
    return sorted((s for s in allowed if s not in OWN_BUTTONS), key=order.index)


@dataclass(frozen=True)
class LogView:
    phenomenon: str
    cause: str
    solution: str
    engineer: str
    parts_replaced: list[str]
    spares_used: list[str]
    recorded_at: datetime | None


def maintenance_log(session: Session, fault_id: int) -> LogView | None:
    """The fault's maintenance log, if one was written: parts replaced and spares taken from
    stock apart (the report counts only the spares against the stock)."""
    entry = workflow_store.get_log(session, fault_id)
    if entry is None:
        return None
    return LogView(
        phenomenon=entry.phenomenon,
        cause=entry.cause,
        solution=entry.solution,
        engineer=entry.engineer,
        parts_replaced=[_part(p) for p in entry.parts_replaced],
        spares_used=[_part(p) for p in entry.spares_used],
        recorded_at=entry.updated_at or entry.recorded_at,
    )


def log_form(session: Session, fault: Fault, engineer: str, lang: str, zone: str) -> dict[str, Any]:
    """What the log form starts from: the saved log, else the workflow's draft in the
    reader's language and the site's local time (``collector.workflow.logbook.draft``, the
    same as ``GET /api/faults/{id}/log/draft``)."""
    return logbook.draft(session, fault, engineer, lang, zone)


def assignable(session: Session) -> list[User]:
    """Who a fault may be given to: active engineers and admins."""
    return [
        u for u in users_store.list_users(session) if u.active and u.role in ("engineer", "admin")
    ]


def _part(part: dict[str, Any]) -> str:
    text = " ".join(str(part[k]) for k in ("name", "model", "serial") if part.get(k))
    quantity = int(part.get("quantity") or 1)
    return f"{text} ×{quantity}" if quantity != 1 else text

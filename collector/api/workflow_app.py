"""Wiring the fault workflow into the API: state, routers, error mapping.

``create_app`` calls ``install_workflow``. The workflow (with its SLA hooks, maintenance
calendar and rule book), the rule pack and the clock are injected so tests run on their own
time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from roomwatch.collector.api.auth import AuthError, require_role
from roomwatch.collector.api.routes import fault_actions, maintenance, rules, users
from roomwatch.collector.maintenance import MaintenanceCalendar
from roomwatch.collector.rules.book import RuleBook
from roomwatch.collector.rules.model import Rule, load_rule_pack
from roomwatch.collector.workflow import (
    LogRequired,
    TransitionNotAllowed,
    Workflow,
    WorkflowConflict,
    WorkflowError,
    load_hooks,
)

Clock = Callable[[], datetime]
READ_ACCESS = [Depends(require_role("viewer"))]


def install_workflow(
    app: FastAPI,
    workflow: Workflow | None = None,
    rule_pack: list[Rule] | None = None,
    clock: Clock | None = None,
) -> None:
    clock = clock or (lambda: datetime.now(UTC))
    app.state.clock = clock
    if workflow is None:
        book = RuleBook(rule_pack if rule_pack is not None else load_rule_pack())
        workflow = Workflow(
            hooks=load_hooks(clock=clock), calendar=MaintenanceCalendar(), rules=book
        )
    app.state.workflow = workflow
    # The rules the API lists are the workflow's unless told otherwise (the collector
    # passes the pack its rule book was built from).
    app.state.rule_pack = rule_pack if rule_pack is not None else workflow.rules.pack
    for module in (fault_actions, rules, maintenance, users):
        app.include_router(module.router)
    app.add_exception_handler(TransitionNotAllowed, _status(409, "transition_not_allowed"))
    app.add_exception_handler(WorkflowConflict, _status(409, "conflict"))
    app.add_exception_handler(LogRequired, _status(422, "maintenance_log_required"))
    app.add_exception_handler(WorkflowError, _status(409, "not_allowed"))
    app.add_exception_handler(AuthError, _status(409, "conflict"))


def _status(code: int, error: str) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": error, "detail": str(exc)}, status_code=code)

    return handler


__all__ = ["READ_ACCESS", "install_workflow"]

"""The fault workflow: life cycle and transitions, SLA / notification hooks, the
maintenance log and satisfaction surveys. ``Workflow`` is the entry point."""

from roomwatch.collector.workflow.errors import (
    LogRequired,
    TransitionNotAllowed,
    WorkflowConflict,
    WorkflowError,
)
from roomwatch.collector.workflow.hooks import FaultHooks, NoHooks, ServiceHooks, load_hooks
from roomwatch.collector.workflow.lifecycle import ALLOWED, STATUSES, ManualFault, Workflow
from roomwatch.collector.workflow.logbook import LogEntry, Part
from roomwatch.collector.workflow.surveys import SurveyPolicy

__all__ = [
    "ALLOWED",
    "STATUSES",
    "FaultHooks",
    "LogEntry",
    "LogRequired",
    "ManualFault",
    "NoHooks",
    "Part",
    "ServiceHooks",
    "SurveyPolicy",
    "TransitionNotAllowed",
    "Workflow",
    "WorkflowConflict",
    "WorkflowError",
    "load_hooks",
]

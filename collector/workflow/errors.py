"""Errors of the fault workflow; the API turns each into a status code with its message."""

from __future__ import annotations

from roomwatch.collector.errors import CollectorError


class WorkflowError(CollectorError):
    """A fault action that cannot be done in the fault's current state."""


class TransitionNotAllowed(WorkflowError):
    """The status change is not in the allowed-transition table (HTTP 409)."""


class LogRequired(WorkflowError):
    """Resolving by hand or closing needs the maintenance log (HTTP 422)."""


class WorkflowConflict(WorkflowError):
    """Another active fault or record stands in the way, e.g. reopening (HTTP 409)."""


__all__ = ["LogRequired", "TransitionNotAllowed", "WorkflowConflict", "WorkflowError"]

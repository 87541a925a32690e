"""Errors of the inspection report, in words a user can act on."""

from roomwatch.collector.errors import CollectorError


class ReportError(CollectorError):
    """A report cannot be built as asked (unknown period syntax, bad checklist item, ...)."""


class RenderError(ReportError):
    """HTML or PDF rendering failed (WeasyPrint or its system libraries missing, ...)."""

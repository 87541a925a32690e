"""Errors of the SLA engine; each names what is wrong so an admin can fix the data."""

from roomwatch.collector.errors import CollectorError


class SlaError(CollectorError):
    """Base of the SLA engine's errors."""


class PolicyError(SlaError):
    """A policy (file or API document) is invalid, unknown, or still in use."""


class CalendarError(SlaError):
    """The business calendar cannot answer (e.g. no working time at all in years)."""

"""Errors the collector raises on purpose; each says what is wrong in words a user can act on."""

from roomwatch.agent.errors import ConfigError


class CollectorError(Exception):
    """Base of the collector's own errors."""


class InventoryError(CollectorError):
    """The inventory file is invalid (unknown room, duplicate agent, ...)."""


class RuleError(CollectorError):
    """A rule file is invalid."""


class TsdbWriteError(CollectorError):
    """The time-series database did not accept a write; the batch is kept for retry."""


class TsdbRejectedError(TsdbWriteError):
    """The TSDB refused a write because of what was in it (HTTP 400, 413, 422): writing the
    same lines again cannot succeed, so the batch is split and the culprit quarantined."""


class LeaseLostError(CollectorError):
    """A collector of a group no longer holds the partition a batch belongs to (another took
    it over); the batch is not stored here and not acknowledged, the new holder gets it."""


class NotFoundError(CollectorError):
    """A requested object does not exist."""


__all__ = [
    "CollectorError",
    "ConfigError",
    "InventoryError",
    "LeaseLostError",
    "NotFoundError",
    "RuleError",
    "TsdbRejectedError",
    "TsdbWriteError",
]

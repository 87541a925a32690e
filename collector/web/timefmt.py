"""Times as people at a site read them: in the site's time zone, ages in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=64)
def zone(name: str | None, fallback: str) -> ZoneInfo:
    """The zone called ``name``, or ``fallback`` when it is None or unknown."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def local(at: datetime | None, tz: ZoneInfo, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """``at`` on the site's wall clock; an empty string for None."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(tz).strftime(pattern)


def iso(at: datetime | None) -> str:
    """UTC ISO 8601 for machines (``data-`` attributes, ``<time datetime>``)."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


_UNITS_EN = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
_UNITS_ZH = (("天", 86400), ("小时", 3600), ("分", 60), ("秒", 1))


def duration(delta: timedelta | float, lang: str, parts: int = 2) -> str:
    """A duration in words, largest units first: ``2 h 5 min`` / ``2小时5分``."""
    seconds = int(abs(delta.total_seconds() if isinstance(delta, timedelta) else delta))
    units = _UNITS_ZH if lang.startswith("zh") else _UNITS_EN
    words: list[str] = []
    for name, size in units:
        if seconds >= size or (size == 1 and not words):
            count, seconds = divmod(seconds, size)
            words.append(f"{count}{name}" if lang.startswith("zh") else f"{count} {name}")
            if len(words) == parts:
                break
        elif words:
            break
    return ("" if lang.startswith("zh") else " ").join(words)


def now() -> datetime:
    return datetime.now(UTC)

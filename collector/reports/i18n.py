"""Report texts in zh-CN and en (``messages/<lang>.yaml``), and number formatting."""

from __future__ import annotations

import string
from functools import lru_cache
from typing import Any

from roomwatch.agent.yamlconfig import read_yaml
from roomwatch.collector.reports.errors import ReportError
from roomwatch.collector.reports.settings import HERE

LANGUAGES = ("zh-CN", "en")
MISSING = "—"


class _Formatter(string.Formatter):
    """``str.format`` that prints a missing or None value as "—" whatever its format spec."""

    def get_value(self, key: int | str, args: Any, kwargs: Any) -> Any:
        if isinstance(key, str):
            return kwargs.get(key)
        return super().get_value(key, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return MISSING
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


class Messages:
    """``t("hazard.disk_full.title", days=34)`` in one language, English as the fallback."""

    def __init__(self, lang: str) -> None:
        if lang not in LANGUAGES:
            raise ReportError(f"language {lang!r}: expected one of {', '.join(LANGUAGES)}")
        self.lang = lang
        self._own = _flat(lang)
        self._fallback = _flat("en")

    @property
    def is_zh(self) -> bool:
        return self.lang.startswith("zh")

    def t(self, key: str, **params: Any) -> str:
        text = self._own.get(key) or self._fallback.get(key)
        if text is None:
            return key
        return _FORMATTER.format(text, **params) if params or "{" in text else text

    def raw(self, key: str) -> str:
        """The text for ``key`` with its placeholders left in."""
        return self._own.get(key) or self._fallback.get(key) or key

    def name_or(self, key: str, default: str) -> str:
        """The text for ``key`` if a catalogue has it, else ``default`` (a kind not listed)."""
        return self._own.get(key) or self._fallback.get(key) or default


@lru_cache(maxsize=len(LANGUAGES))
def _flat(lang: str) -> dict[str, str]:
    data = read_yaml(HERE / "messages" / f"{lang}.yaml") or {}
    flat: dict[str, str] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}{key}.", value)
        else:
            flat[prefix.rstrip(".")] = str(node)

    walk("", data)
    return flat


def percent(value: float | None, digits: int = 2) -> str:
    """0.99512 → "99.51 %"; None → "—"."""
    return MISSING if value is None else f"{value * 100:.{digits}f} %"


def change(now: float | None, before: float | None) -> str:
    """Difference of two fractions in percentage points: "+0.42" / "−1.10"."""
    if now is None or before is None:
        return MISSING
    points = (now - before) * 100
    sign = "+" if points >= 0 else "−"
    return f"{sign}{abs(points):.2f}"


def number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return MISSING
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def minutes(value: float | None) -> str:
    """Minutes as "45 min" or "3.5 h"."""
    if value is None:
        return MISSING
    if value < 120:
        return f"{value:.0f} min"
    return f"{value / 60:.1f} h"

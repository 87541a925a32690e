"""The dashboard's two languages: zh-CN (default) and en, from ``i18n/<lang>.json``.

A catalog maps a dotted key to a text with ``{name}`` placeholders. A key missing from a
catalog falls back to English, then to the key itself, so a forgotten text shows up as its
key rather than breaking a page; a test keeps both catalogs on the same keys.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.requests import Request

from roomwatch.collector.db.faults_store import SYSTEM_ACTOR
from roomwatch.collector.levels import Level
from roomwatch.collector.rules import names

LANGUAGES = ("zh-CN", "en")
COOKIE = "rw_lang"
CATALOG_DIR = Path(__file__).parent / "i18n"


@lru_cache(maxsize=len(LANGUAGES))
def catalog(lang: str) -> dict[str, str]:
    """The texts of one language."""
    data: dict[str, str] = json.loads((CATALOG_DIR / f"{lang}.json").read_text("utf-8"))
    return data


class Translator:
    """``t("grid.title")`` in templates; ``t.lang`` is the language code."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else LANGUAGES[0]
        self.zh = self.lang.startswith("zh")
        self._texts = catalog(self.lang)
        self._fallback = catalog("en")

    def __call__(self, key: str, **values: Any) -> str:
        text = self._texts.get(key) or self._fallback.get(key) or key
        return text.format(**values) if values else text

    def optional(self, key: str, default: str) -> str:
        """The text for ``key`` if either catalog has it, else ``default`` (metric names)."""
        return self._texts.get(key) or self._fallback.get(key) or default

    def level(self, level: int | None) -> str:
        """'L1 一级故障' / 'L1 system stopped'."""
        return "" if level is None else Level(level).label(self.lang)

    def level_meaning(self, level: int) -> str:
        item = Level(level)
        return item.meaning_zh if self.zh else item.meaning_en

    def label_key(self, key: str) -> str:
        """A row label key's name: ``mount`` → 挂载点."""
        return names.label_name(key, self.lang)

    def event(self, kind: str, actor: str | None = None) -> str:
        """An event's name; a resolve says whether the collector or a person did it."""
        if kind == "resolved" and actor and actor != SYSTEM_ACTOR:
            return self("event.resolved_by_hand")
        return self.optional(f"event.{kind}", kind.replace("_", " "))

    def note(self, text: str, actor: str | None) -> str:
        """An event's note: a person's words as written, the collector's in this language."""
        if actor != SYSTEM_ACTOR:
            return text
        known = self.optional(f"reason.{text}", "")
        if known:
            return known
        metric, sep, value = text.partition("=")  # the engine's "reachable=1": cleared at
        if sep and metric and "{" not in value:
            return self("reason.cleared_at", metric=self.metric(metric), value=value)
        return text

    def status(self, status: str) -> str:
        return self.optional(f"status.{status}", status.replace("_", " "))

    def kind(self, kind: str) -> str:
        return self.optional(f"kind.{kind}", kind)

    def metric(self, key: str) -> str:
        """A metric key's display name: ``temperature_c`` → '温度 (°C)'; rows keep labels."""
        base, _, labels = key.partition("{")
        name = self.optional(f"metric.{base}", "") or names.metric_name(base, self.lang)
        if not labels:
            return name
        values = [pair.partition("=")[2] for pair in labels.rstrip("}").split(",")]
        return f"{name} ({' · '.join(values)})"


def pick_language(request: Request, default: str) -> str:
    """``?lang=`` first (a shared link), then the cookie, then the default."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if candidate in LANGUAGES:
            return str(candidate)
    return default if default in LANGUAGES else LANGUAGES[0]

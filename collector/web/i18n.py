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

from collector.levels import Level

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
        return item.meaning_zh if self.zh else item.name_en

    def status(self, status: str) -> str:
        return self.optional(f"status.{status}", status.replace("_", " "))

    def kind(self, kind: str) -> str:
        return self.optional(f"kind.{kind}", kind)

    def metric(self, key: str) -> str:
        """A metric key's display name: ``temperature_c`` → '温度 (°C)'; rows keep labels."""
        base, _, labels = key.partition("{")
        name = self.optional(f"metric.{base}", base)
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

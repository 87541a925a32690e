"""The words people read about a rule, as data: ``texts.yaml`` beside the rule pack gives
each built-in rule a title, a description and a short "check first" list in zh-CN and en.
Evidence is turned into labelled lines for people here too (never a Python dict)."""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, RootModel

Language = Literal["zh-CN", "en"]
LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")
TEXTS_FILE = Path(__file__).with_name("texts.yaml")


class RuleText(BaseModel):
    """One rule in one language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    check: list[str] = Field(min_length=1, description="What to check first, in order.")


class RuleTexts(RootModel[dict[str, dict[Language, RuleText]]]):
    """rule id → language → texts."""


@cache
def catalog(path: Path = TEXTS_FILE) -> dict[str, dict[Language, RuleText]]:
    """The catalog, validated (an unknown key or a missing field is an error)."""
    return RuleTexts.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).root


def language_of(preferred: str | None) -> Language:
    """``zh``, ``zh-CN``, ``zh_cn`` → zh-CN; anything English → en; default zh-CN (the
    plan's users read Chinese)."""
    text = (preferred or "").lower().replace("_", "-")
    return "en" if text.startswith("en") else "zh-CN"


def texts_for(rule_id: str, language: str | None) -> RuleText | None:
    """The rule's texts in the reader's language, or None for a rule without texts."""
    found = catalog().get(rule_id)
    return None if found is None else found.get(language_of(language))


def title_for(rule_id: str, language: str | None, fields: Mapping[str, Any], fallback: str) -> str:
    """The rule's title in the reader's language, filled from ``fields`` (device, room,
    label, value, …); ``fallback`` (the stored title) when a field is missing."""
    text = texts_for(rule_id, language)
    if text is None:
        return fallback
    try:
        return string.Formatter().vformat(text.title, (), dict(fields))
    except (KeyError, IndexError, ValueError, TypeError):
        return fallback


def title_fields(
    evidence: Mapping[str, Any] | None, device: str | None, room: str | None
) -> dict[str, Any]:
    """The placeholders of a title, recovered from a stored fault: its evidence (value,
    labels, related values) and the names of its device and room, as the engine fills them."""
    evidence = evidence or {}
    raw_labels, raw_extra = evidence.get("labels"), evidence.get("extra")
    labels: Mapping[str, Any] = raw_labels if isinstance(raw_labels, Mapping) else {}
    extra: Mapping[str, Any] = raw_extra if isinstance(raw_extra, Mapping) else {}
    fields: dict[str, Any] = {**extra}
    if device:
        fields["device"] = device
    if room:
        fields["room"] = room
    if isinstance(evidence.get("value"), int | float):
        fields["value"] = evidence["value"]
    fields["label"] = ",".join(str(v) for v in labels.values())
    fields.update({str(k): v for k, v in labels.items()})
    return fields


@dataclass(frozen=True)
class FaultWords:
    """What a person reads about one fault in one language. ``description`` and ``check``
    are empty for a rule without texts (a site's own rule): its stored title stands."""

    language: Language
    title: str
    description: str
    check: list[str]
    evidence: list[str]


def fault_words(
    rule_id: str,
    language: str | None,
    *,
    title: str,
    evidence: Mapping[str, Any] | None = None,
    device: str | None = None,
    room: str | None = None,
    description: str = "",
) -> FaultWords:
    """A fault in the reader's language: the catalog's title filled from the fault, its
    description and "check first" list, and evidence as labelled lines. A rule without
    texts keeps its stored ``title`` and ``description``."""
    lang = language_of(language)
    text = texts_for(rule_id, lang)
    lines = evidence_lines(evidence, lang)
    if text is None:
        return FaultWords(lang, title, description, [], lines)
    filled = title_for(rule_id, lang, title_fields(evidence, device, room), title)
    return FaultWords(lang, filled, text.description, list(text.check), lines)


EVIDENCE_LABELS: dict[str, tuple[str, str]] = {
    "metric": ("指标", "Metric"),
    "value": ("数值", "Value"),
    "labels": ("位置", "Where"),
    "threshold": ("阈值", "Threshold"),
    "compute": ("计算", "Computed as"),
    "extra": ("相关数值", "Related values"),
    "reported_via": ("报告方式", "Reported via"),
}


def evidence_lines(evidence: Mapping[str, Any] | None, language: str | None) -> list[str]:
    """Evidence as ``label: text`` lines a person reads: labels joined as ``key value``,
    numbers rounded, nested maps flattened; never a Python repr."""
    zh = language_of(language) == "zh-CN"
    lines: list[str] = []
    for key, raw in (evidence or {}).items():
        names = EVIDENCE_LABELS.get(key)
        label = (names[0] if zh else names[1]) if names else key.replace("_", " ")
        text = _plain(raw, zh)
        if text:
            lines.append(f"{label}: {text}")
    return lines


def _plain(value: Any, zh: bool = False) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_plain(v, zh)}" for k, v in value.items() if _plain(v, zh))
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v, zh) for v in value)
    if isinstance(value, bool):
        return ("是" if value else "否") if zh else ("yes" if value else "no")
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.0f}" if value.is_integer() else f"{value:.2f}".rstrip("0")
    return "" if value is None else str(value)


__all__ = [
    "LANGUAGES",
    "FaultWords",
    "RuleText",
    "catalog",
    "evidence_lines",
    "fault_words",
    "language_of",
    "texts_for",
    "title_fields",
    "title_for",
]

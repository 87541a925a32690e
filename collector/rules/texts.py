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

from roomwatch.collector.rules.names import labels_text, metric_name, value_word

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
    wanted = {name for _, name, _, _ in string.Formatter().parse(text.title) if name}
    if wanted and not wanted & set(fields):
        return fallback  # nothing to fill it with: the stored title says more
    try:
        return _Lenient().vformat(text.title, (), dict(fields))
    except (IndexError, ValueError, TypeError):
        return fallback


class _Lenient(string.Formatter):
    """A field the stored fault lacks (an old fault, evidence without a value) reads as
    '?' instead of dropping the reader back to the stored title in another language."""

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        return kwargs.get(str(key), _MISSING) if isinstance(key, str) else _MISSING

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is _MISSING:
            return "?"
        try:
            return super().format_field(value, format_spec)
        except (ValueError, TypeError):
            return str(value)


_MISSING = object()


def title_fields(
    evidence: Mapping[str, Any] | None, device: str | None, room: str | None
) -> dict[str, Any]:
    """The placeholders of a title, recovered from a stored fault: its evidence (value,
    labels, related values) and the names of its device and room, as the engine fills them."""
    evidence = evidence or {}
    raw_labels, raw_extra = evidence.get("labels"), evidence.get("extra")
    labels: Mapping[str, Any] = raw_labels if isinstance(raw_labels, Mapping) else {}
    extra: Mapping[str, Any] = raw_extra if isinstance(raw_extra, Mapping) else {}
    # Plain top-level evidence (an advisory's code) fills titles too; the engine's own
    # fields below win over it.
    fields: dict[str, Any] = {
        str(k): v for k, v in evidence.items() if isinstance(v, str | int | float) and k != "value"
    }
    fields.update(extra)
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
    "advisory": ("厂商公告", "Advisory"),
    "model": ("型号", "Model"),
    "firmware": ("固件", "Firmware"),
    "affected": ("受影响版本", "Affected versions"),
    "severity": ("严重程度", "Severity"),
}
# Kept for the machines (a revision hash tells whether an advisory changed): not for people.
EVIDENCE_HIDDEN = frozenset({"revision"})
# Values that are words in the catalogue (``collector/rules/names.yaml``, ``values``).
WORD_VALUES = frozenset({"reported_via", "severity"})


def evidence_lines(evidence: Mapping[str, Any] | None, language: str | None) -> list[str]:
    """Evidence as ``label: text`` lines a person reads: the metric by its name, labels by
    theirs (``挂载点 D:``), related values by their metrics' names, numbers rounded; never a
    Python repr or a bare identifier where the catalogue has a name."""
    lang = language_of(language)
    zh = lang == "zh-CN"
    lines: list[str] = []
    for key, raw in (evidence or {}).items():
        if key in EVIDENCE_HIDDEN:
            continue
        names = EVIDENCE_LABELS.get(key)
        label = (names[0] if zh else names[1]) if names else key.replace("_", " ")
        if key == "metric" and isinstance(raw, str):
            text = metric_name(raw, lang)
        elif key == "labels" and isinstance(raw, Mapping):
            text = labels_text({k: _plain(v, zh) for k, v in raw.items()}, lang)
        elif key == "extra" and isinstance(raw, Mapping):
            sep = "，" if zh else ", "
            text = sep.join(
                f"{metric_name(str(k), lang)} {_plain(v, zh)}"
                for k, v in raw.items()
                if _plain(v, zh)
            )
        elif key in WORD_VALUES and isinstance(raw, str):
            text = value_word(raw, lang)
        else:
            text = _plain(raw, zh)
        if text:
            lines.append(f"{label}{'：' if zh else ': '}{text}")
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

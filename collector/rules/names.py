"""Human names of metrics, row label keys and word values, in zh-CN and en (``names.yaml``):
``reachable`` → 可达, ``storage.used_pct{storage=/record}`` → 存储占用（存储 /record）,
``mount`` → 挂载点. Every surface that shows a metric or a label to a person reads them here."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

NAMES_FILE = Path(__file__).with_name("names.yaml")


class Name(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    zh: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)


class Names(BaseModel):
    """metrics, label keys and values: key → name in both languages."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics: dict[str, Name]
    labels: dict[str, Name]
    values: dict[str, Name]


Table = Literal["metrics", "labels", "values"]


@cache
def names(path: Path = NAMES_FILE) -> Names:
    """The catalogue, validated (a missing language is an error at load)."""
    return Names.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def _zh(language: str | None) -> bool:
    return not (language or "").lower().startswith("en")


def lookup(table: Table, key: str, language: str | None) -> str | None:
    """The name of ``key`` in ``table``, or None when the catalogue lacks it."""
    found = getattr(names(), table).get(key)
    if found is None:
        return None
    return found.zh if _zh(language) else found.en


def split_key(key: str) -> tuple[str, dict[str, str]]:
    """``disk.used_pct{mount=/}`` → (``disk.used_pct``, {mount: /})."""
    base, _, rest = key.partition("{")
    return base, parse_labels(rest.rstrip("}"))


def parse_labels(text: str) -> dict[str, str]:
    """``ifindex=3,ifname=ge3`` (or ``{mount=/}``) → {ifindex: 3, ifname: ge3}."""
    labels: dict[str, str] = {}
    for pair in text.strip().removeprefix("{").removesuffix("}").split(","):
        name, sep, value = pair.partition("=")
        if sep:
            labels[name.strip()] = value.strip()
    return labels


def metric_name(key: str, language: str | None) -> str:
    """A metric key's name, its row labels after it: ``disk.used_pct{mount=D:}`` →
    '磁盘占用（挂载点 D:）'. An unknown metric keeps its key, made readable."""
    base, labels = split_key(key)
    name = lookup("metrics", base, language) or base.replace("_", " ").replace(".", " ")
    where = labels_text(labels, language)
    if not where:
        return name
    return f"{name}（{where}）" if _zh(language) else f"{name} ({where})"


def label_name(key: str, language: str | None) -> str:
    """A row label key's name: ``mount`` → 挂载点; unknown keys as they are."""
    return lookup("labels", key, language) or key.replace("_", " ")


def labels_text(labels: Mapping[str, object], language: str | None) -> str:
    """``{mount: D:, storage: /record}`` → '挂载点 D:，存储 /record'."""
    sep = "，" if _zh(language) else ", "
    return sep.join(f"{label_name(str(k), language)} {v}" for k, v in labels.items())


def value_word(value: str, language: str | None) -> str:
    """A value that is a word (``phone``, ``high``) in the reader's language; others as is."""
    return lookup("values", value, language) or value


__all__ = [
    "label_name",
    "labels_text",
    "lookup",
    "metric_name",
    "names",
    "parse_labels",
    "split_key",
    "value_word",
]

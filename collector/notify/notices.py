"""The words of the collector's notices outside a fault's life cycle — the pre-class
readiness check, the inspection reminder, the lesson risks that the readiness message and
the Today page share — in zh-CN and en (``notices.yaml``). A notice is worded in its
site's language (inventory ``sites[].language``, zh-CN by default), as fault
notifications are (``collector.sla.messages``); the Today page in its reader's."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, RootModel

from roomwatch.collector.rules.texts import language_of

NOTICES_FILE = Path(__file__).with_name("notices.yaml")


class NoticeText(BaseModel):
    """One notice text in both languages; ``{placeholders}`` filled by its sender."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    zh: str = Field(alias="zh-CN", min_length=1)
    en: str = Field(min_length=1)


class Notices(RootModel[dict[str, NoticeText]]):
    """notice key → its text in zh-CN and en."""


@cache
def notices(path: Path = NOTICES_FILE) -> dict[str, NoticeText]:
    """The catalogue, validated (a missing language is an error at load)."""
    return Notices.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).root


def has_notice(key: str) -> bool:
    return key in notices()


def notice(key: str, language: str | None, **fields: object) -> str:
    """The text of ``key`` in ``language`` (``zh``, ``zh-CN`` → Chinese, anything English →
    English, else Chinese), its placeholders filled from ``fields``; KeyError for a key the
    catalogue lacks."""
    text = notices()[key]
    template = text.en if language_of(language) == "en" else text.zh
    return template.format(**fields)


__all__ = ["NoticeText", "has_notice", "notice", "notices"]

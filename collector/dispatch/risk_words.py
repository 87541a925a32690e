"""A lesson risk (``collector.dispatch.today``) in a reader's language, worded the same in
the pre-class readiness message and on the Today page: a fault by its title as its rule
words it, any other risk by the catalogue's ``risk.detail.<kind>``
(``collector/notify/notices.yaml``) filled from the risk's label, use and when storage is
full. A kind the catalogue lacks keeps the collector's English ``detail``."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from roomwatch.collector.dispatch.today import Risk
from roomwatch.collector.notify.notices import has_notice, notice
from roomwatch.collector.rules.texts import language_of


def risk_detail(risk: Risk, language: str | None, timezone: str) -> str:
    """What ``risk`` is about in ``language`` (zh-CN or en, as ``language_of`` reads it),
    its times local to ``timezone``."""
    lang = language_of(language)
    if risk.fault_id is not None:
        return risk.titles.get(lang, risk.detail)
    key = f"risk.detail.{risk.kind}"
    if not has_notice(key):
        return risk.detail
    full_at = local_minute(risk.full_at, timezone) if risk.full_at is not None else ""
    return notice(key, lang, label=risk.label or "", used_pct=risk.used_pct or 0.0, full_at=full_at)


def local_minute(moment: datetime, timezone: str) -> str:
    """``moment`` on the clock of ``timezone``, to the minute: 2025-03-04 07:40."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")

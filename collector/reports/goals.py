"""The next period's work and goals: what the engineer stored, or a first draft from the
open hazards, breached SLA clocks and failed checklist items."""

from __future__ import annotations

from collections.abc import Sequence

from roomwatch.collector.db.report_models import InspectionGoals
from roomwatch.collector.reports.i18n import Messages
from roomwatch.collector.reports.model import ChecklistLine, FaultLine, Goals, Hazard
from roomwatch.collector.rules.names import labels_text, metric_name, parse_labels

MAX_PREFILLED = 40


def goals_of(
    stored: InspectionGoals | None,
    hazards: Sequence[Hazard],
    breached: Sequence[FaultLine],
    checklist: Sequence[ChecklistLine],
    messages: Messages,
) -> Goals:
    if stored is not None:
        return Goals(
            items=list(stored.items),
            note=stored.note,
            edited=True,
            edited_by=stored.edited_by,
            updated_at=stored.updated_at,
        )
    return Goals(
        items=prefill(hazards, breached, checklist, messages),
        note="",
        edited=False,
        edited_by=None,
        updated_at=None,
    )


def prefill(
    hazards: Sequence[Hazard],
    breached: Sequence[FaultLine],
    checklist: Sequence[ChecklistLine],
    messages: Messages,
) -> list[str]:
    items: list[str] = []
    for hazard in hazards:
        where = " / ".join(p for p in (hazard.room_name, hazard.device) if p)
        items.append(
            messages.t(
                "goals.hazard",
                where=where,
                title=hazard_text(hazard, "title", messages),
                action=hazard_text(hazard, "action", messages),
            )
        )
    for line in breached:
        clocks = ", ".join(
            messages.t(f"clock.{kind}")
            for kind, state in line.clocks.items()
            if state == "breached"
        )
        items.append(
            messages.t("goals.sla", id=line.id, title=line.title_in(messages.lang), clocks=clocks)
        )
    for item in checklist:
        if item.status == "fail":
            items.append(messages.t("goals.checklist", title=item.title))
    if len(items) > MAX_PREFILLED:
        more = len(items) - MAX_PREFILLED + 1
        items = [*items[: MAX_PREFILLED - 1], messages.t("faults.more", n=more)]
    return items


def hazard_text(hazard: Hazard, part: str, messages: Messages) -> str:
    """``title``, ``evidence`` or ``action`` of a hazard in the report's language."""
    params = dict(hazard.params)
    by_language = params.pop("rules_by_language", None)
    if isinstance(by_language, dict):  # repeated faults: rule titles in the report's language
        params["rules"] = by_language.get(messages.lang, params.get("rules"))
    # keys become names: ifindex=3,ifname=ge3 → 端口号 3，端口 ge3; battery_replace → 需更换电池
    if isinstance(params.get("label"), str):
        params["label"] = labels_text(parse_labels(params["label"]), messages.lang)
    if isinstance(params.get("metric"), str):
        params["metric"] = metric_name(params["metric"], messages.lang)
    return messages.t(f"hazard.{hazard.kind}.{part}", **params)

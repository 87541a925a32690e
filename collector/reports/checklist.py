"""The inspection checklist: shipped defaults (``checklist.yaml``) merged with a site's own
items (SQL), each either checked automatically over the period's rollups or filled in by
the engineer on site. An engineer's entry wins over the automatic verdict."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from roomwatch.agent.yamlconfig import load_yaml_model
from roomwatch.collector.db.report_models import ChecklistItem, ChecklistResult
from roomwatch.collector.db.report_queries import DayPoint, DeviceRow, PeriodStat
from roomwatch.collector.reports.model import ChecklistLine, DeviceReport
from roomwatch.collector.reports.running import availability
from roomwatch.collector.reports.settings import HERE
from roomwatch.collector.rules.names import labels_text, parse_labels

Measure = Literal["availability", "uptime", "min", "avg", "max", "p95", "last"]
Op = Literal[">=", "<=", ">", "<", "=="]
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": lambda a, b: abs(a - b) < 1e-9,
}
# Which value of several devices is shown: the one furthest on the failing side.
_WORST_IS_LOW = {">=", ">"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemCheck(_Strict):
    """An automatic check (see checklist.yaml for the meaning of each field)."""

    kinds: list[str] = Field(default_factory=list)
    metric: str | None = None
    measure: Measure
    # The metric is a used percentage and the item speaks of free space ("≥ 20 % free"):
    # 100 − the measure is compared and shown, so the value column reads the free share.
    free: bool = False
    op: Op
    value: float

    @property
    def in_percent(self) -> bool:
        return self.free or self.measure in ("availability", "uptime")


class ItemSpec(_Strict):
    key: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    zh: str = Field(min_length=1, max_length=300)
    en: str = Field(min_length=1, max_length=300)
    position: int = 100
    check: ItemCheck | None = None
    enabled: bool = True

    def title(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") else self.en


class ChecklistFile(_Strict):
    items: list[ItemSpec]


@lru_cache(maxsize=1)
def default_items() -> tuple[ItemSpec, ...]:
    return tuple(load_yaml_model(HERE / "checklist.yaml", ChecklistFile).items)


def site_items(rows: Sequence[ChecklistItem]) -> list[ItemSpec]:
    """The defaults with the site's rows applied (same key overrides, new keys added)."""
    merged = {item.key: item for item in default_items()}
    for row in rows:
        merged[row.key] = ItemSpec(
            key=row.key,
            zh=row.title_zh,
            en=row.title_en,
            position=row.position,
            check=ItemCheck.model_validate(row.check) if row.check else None,
            enabled=row.enabled,
        )
    return sorted((i for i in merged.values() if i.enabled), key=lambda i: (i.position, i.key))


@dataclass(frozen=True)
class CheckContext:
    """What automatic checks read."""

    devices: Sequence[DeviceRow]
    reports: Mapping[int, DeviceReport]
    room_names: Mapping[str, str]
    stats: Mapping[tuple[int, str], PeriodStat]
    metrics_of: Mapping[int, Sequence[str]]  # device row id → its metric keys in ``stats``
    p95: Mapping[tuple[int, str], float]
    daily: Mapping[tuple[int, str], Sequence[DayPoint]]
    offline_hours: Mapping[int, float]  # device row id → offline hours it is charged
    period_hours: float


def evaluate(
    items: Sequence[ItemSpec],
    context: CheckContext,
    results: Mapping[str, ChecklistResult],
    lang: str,
) -> list[ChecklistLine]:
    lines: list[ChecklistLine] = []
    for item in items:
        entry = results.get(item.key)
        if entry is not None:
            lines.append(
                ChecklistLine(
                    key=item.key,
                    title=item.title(lang),
                    automatic=item.check is not None,
                    status=entry.status,
                    value=entry.value,
                    failures=[],
                    note=entry.note,
                    checked_by=entry.checked_by,
                )
            )
        elif item.check is None:
            lines.append(ChecklistLine(item.key, item.title(lang), False, "pending", None, []))
        else:
            lines.append(_automatic(item, item.check, context, lang))
    return lines


def _automatic(item: ItemSpec, check: ItemCheck, context: CheckContext, lang: str) -> ChecklistLine:
    values: list[tuple[str, float]] = []
    for device in context.devices:
        if check.kinds and device.kind not in check.kinds:
            continue
        for labels, value in _device_values(device, check, context):
            room = context.room_names.get(device.room_id, device.room_id)
            values.append((f"{room} / {device.device}{_where(labels, lang)}", value))
    if not values:
        return ChecklistLine(item.key, item.title(lang), True, "n/a", None, [])
    passes = _OPS[check.op]
    unit = " %" if check.in_percent else ""
    failures = [f"{where}: {_fmt(v)}{unit}" for where, v in values if not passes(v, check.value)]
    worst = (min if check.op in _WORST_IS_LOW else max)(v for _, v in values)
    status = "fail" if failures else "pass"
    return ChecklistLine(item.key, item.title(lang), True, status, _fmt(worst) + unit, failures)


def _device_values(
    device: DeviceRow, check: ItemCheck, context: CheckContext
) -> list[tuple[str, float]]:
    if check.measure == "availability" and check.metric is None:
        report = context.reports.get(device.pk)
        value = report.availability if report else None
        return [] if value is None else [("", value * 100)]
    if check.metric is None:
        return []
    found: list[tuple[str, float]] = []
    for metric in context.metrics_of.get(device.pk, ()):
        if not _matches(metric, check.metric):
            continue
        stat = context.stats[(device.pk, metric)]
        value = _measure(device, metric, stat, check.measure, context)
        if value is not None:
            value = 100.0 - value if check.free else value
            label = metric[len(check.metric) - 1 :] if check.metric.endswith("{") else ""
            found.append((label, value))
    return found


def _where(labels: str, lang: str) -> str:
    """A row's labels after its device, by name: ``{mount=/}`` → '（挂载点 /）'."""
    text = labels_text(parse_labels(labels), lang)
    if not text:
        return ""
    return f"（{text}）" if lang.startswith("zh") else f" ({text})"


def _measure(
    device: DeviceRow, metric: str, stat: PeriodStat, measure: str, context: CheckContext
) -> float | None:
    if measure in ("availability", "uptime"):
        share = availability(stat, context.offline_hours.get(device.pk, 0.0), context.period_hours)
        return None if share is None else share * 100
    if measure == "min":
        return stat.min
    if measure == "max":
        return stat.max
    if measure == "avg":
        return stat.total / stat.samples if stat.samples else None
    if measure == "p95":
        return context.p95.get((device.pk, metric))
    days = context.daily.get((device.pk, metric))
    return days[-1].max if days else stat.max


def _matches(metric: str, wanted: str) -> bool:
    return metric.startswith(wanted) if wanted.endswith("{") else metric == wanted


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")

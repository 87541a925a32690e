"""Rendering an ``InspectionReport``: HTML through Jinja2, PDF through WeasyPrint.

The PDF needs Pango (Debian ``libpango-1.0-0 libpangoft2-1.0-0``) and, for zh-CN, a CJK
font: Debian ``fonts-noto-cjk`` provides "Noto Sans CJK SC", the first family the
stylesheet asks for. Without one, Chinese text prints as boxes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup

from roomwatch.collector.levels import Level
from roomwatch.collector.reports import charts
from roomwatch.collector.reports.errors import RenderError
from roomwatch.collector.reports.goals import hazard_text
from roomwatch.collector.reports.i18n import Messages, change, minutes, number, percent
from roomwatch.collector.reports.model import DeviceReport, Hazard, InspectionReport, RoomReport
from roomwatch.collector.reports.period import Period
from roomwatch.collector.reports.settings import HERE
from roomwatch.collector.reports.signoff import sign_off_of
from roomwatch.collector.rules.names import labels_text, parse_labels

log = logging.getLogger(__name__)

TEMPLATES = HERE / "templates"
MAX_FAULT_LINES = 500  # the archive's data keeps every fault; the document lists this many
MAX_HAZARD_DETAILS = 60  # hazards with evidence, action and chart; the table lists all
WORST_ROOMS = 15
TOC_OVER_PAGES = 5  # a longer PDF starts with a table of contents
TOC_PAGES = 1  # the contents take a page of their own
# devices="auto": every device up to this many, else only the exceptions
ALL_DEVICES_UP_TO = 300
EXCEPTION_BELOW = 0.999
DeviceDetail = Literal["auto", "all", "exceptions"]
# A site of more rooms than this gets the summary-first layout: a summary part of at most
# ~30 pages (site figures, worst rooms, faults by level and SLA, ranked hazards, spares,
# advisories, goals, sign-off), then an annex with every room's and device's table and the
# full fault list. Per site: ``sites[].report.summary_over_rooms`` of the inventory file.
SUMMARY_OVER_ROOMS = 60
SUMMARY_ROOMS = 20  # worst rooms by availability, and by faults, in the summary part
SUMMARY_HAZARD_ROWS = 40  # ranked hazards in the summary's table (the annex lists all)
SUMMARY_HAZARD_DETAILS = 10  # hazards with evidence, action and chart in the summary
SUMMARY_ADVISORY_DEVICES = 20  # affected devices per advisory in the summary


def render_report(
    report: InspectionReport, lang: str, devices: DeviceDetail = "auto", *, pdf: bool = True
) -> tuple[str, bytes | None]:
    """The HTML and (when ``pdf``) the PDF of a report. A PDF of more than
    ``TOC_OVER_PAGES`` pages starts with a table of contents; whether it does is only known
    once laid out, so a short report is laid out a second time without one (cheap: it is
    short). The HTML returned is the one the PDF was made from."""
    if not pdf:
        return render_html(report, lang, devices), None
    html = render_html(report, lang, devices, toc=True)
    document = _layout(html)
    if len(document.pages) - TOC_PAGES <= TOC_OVER_PAGES:
        html = render_html(report, lang, devices, toc=False)
        document = _layout(html)
    return html, _pdf_bytes(document)


def render_html(
    report: InspectionReport, lang: str, devices: DeviceDetail = "auto", *, toc: bool = False
) -> str:
    """The report as one HTML document (CSS and SVG charts inline).

    ``devices``: list every device in "Running parameters", or only the exceptions
    (availability below 99.9 %, faults, hazards); "auto" lists all up to 300 devices.
    ``toc``: a table of contents after the cover (page numbers filled in by WeasyPrint)."""
    messages = Messages(lang)
    detail = devices
    if detail == "auto":
        detail = "all" if report.device_count <= ALL_DEVICES_UP_TO else "exceptions"
    show_device = _device_filter(report, detail)
    summary = layout_of(report) == "summary"
    zone = ZoneInfo(report.period.timezone)
    env = _environment()
    env_globals: dict[str, Any] = {
        "t": messages.t,
        "lang": lang,
        "r": report,
        "css": Markup(_css()),
        "charts": _charts(report, SUMMARY_HAZARD_DETAILS if summary else MAX_HAZARD_DETAILS),
        "change": change,
        "ratio": lambda a, b: None if not b else a / b,
        "last_day": _last_day,
        "level_label": lambda level: Level(level).label(lang),
        "hazard": lambda h, part: hazard_text(h, part, messages),
        "advisory_device_count": sum(len(a.devices) for a in report.advisories),
        "max_faults": MAX_FAULT_LINES,
        "max_hazard_details": SUMMARY_HAZARD_DETAILS if summary else MAX_HAZARD_DETAILS,
        "layout": "summary" if summary else "full",
        "hazard_rows": SUMMARY_HAZARD_ROWS if summary else len(report.hazards),
        "advisory_devices": SUMMARY_ADVISORY_DEVICES if summary else report.device_count,
        "worst_availability": _worst_rooms(report, SUMMARY_ROOMS),
        "most_faults": sorted(
            (room for room in report.rooms if room.fault_count),
            key=lambda room: (-room.fault_count, -room.l1_count, room.id),
        )[:SUMMARY_ROOMS],
        "device_detail": detail,
        "show_device": show_device,
        "shown_devices": sum(1 for room in report.rooms for d in room.devices if show_device(d)),
        "kind": lambda kind: messages.name_or(f"kind.{kind}", kind),
        # a row's labels by name: storage=/record → 存储 /record
        "labels": lambda text: labels_text(parse_labels(text), lang),
        "toc": toc,
        "page_counter": Markup(_page_counter_css(messages.raw("page_counter"))),
        "sign_off": report.sign_off or sign_off_of(None, report.customer, report.site_name),
    }
    template = env.get_template("report.html.j2")
    return template.render(**env_globals, zone=zone)


def layout_of(report: InspectionReport) -> Literal["full", "summary"]:
    """ "summary" (summary part, then the annex) for a site of more rooms than its
    threshold, else "full" (every table in its section)."""
    limit = report.summary_over_rooms or SUMMARY_OVER_ROOMS
    return "summary" if len(report.rooms) > limit else "full"


def render_pdf(html: str) -> bytes:
    """The PDF of a rendered report (WeasyPrint)."""
    return _pdf_bytes(_layout(html))


def _layout(html: str) -> Any:
    """The laid-out WeasyPrint document (its ``pages`` are known)."""
    _quiet_pdf_libraries()  # before the import: it parses the default style sheets
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango or its friends are missing
        raise RenderError(
            f"PDF rendering needs WeasyPrint and Pango: {exc}. Install the Python package "
            "weasyprint and the Debian packages libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk."
        ) from exc
    return HTML(string=html, base_url=str(TEMPLATES)).render()


def _pdf_bytes(document: Any) -> bytes:
    pdf = document.write_pdf()
    if pdf is None:
        raise RenderError("WeasyPrint produced no PDF")
    return bytes(pdf)


def _page_counter_css(template: str) -> str:
    """ "第 {page} 页 / 共 {pages} 页" → the CSS ``content`` value with the page counters."""
    parts: list[str] = []
    for piece in re.split(r"(\{pages?\})", template):
        if piece == "{page}":
            parts.append("counter(page)")
        elif piece == "{pages}":
            parts.append("counter(pages)")
        elif piece:
            parts.append('"' + piece.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(parts)


# WeasyPrint logs each rendering step and fontTools each font it subsets at INFO: a dozen
# lines per report in the collector's log. Their warnings and errors still get through.
PDF_LIBRARY_LOGGERS = ("weasyprint", "fontTools")


def _quiet_pdf_libraries() -> None:
    for name in PDF_LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["percent"] = percent
    env.filters["number"] = number
    env.filters["minutes"] = minutes
    env.filters["local"] = _local
    return env


@lru_cache(maxsize=1)
def _css() -> str:
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


def _device_filter(report: InspectionReport, detail: str) -> Callable[[DeviceReport], bool]:
    if detail == "all":
        return lambda _device: True
    hazards = {(h.room_id, h.device) for h in report.hazards}
    room_of = {d.pk: room.id for room in report.rooms for d in room.devices}

    def show(device: DeviceReport) -> bool:
        low = device.availability is not None and device.availability < EXCEPTION_BELOW
        hazard = (room_of.get(device.pk), device.device) in hazards
        return low or device.fault_count > 0 or hazard

    return show


def _worst_rooms(report: InspectionReport, count: int) -> list[RoomReport]:
    return sorted(
        (room for room in report.rooms if room.availability is not None),
        key=lambda room: (room.availability, room.id),
    )[:count]


def _charts(report: InspectionReport, hazard_charts: int) -> dict[str, Any]:
    daily = report.daily_availability
    first = report.period.start
    if report.hourly_availability:
        # x = hours since the first local midnight; labels in the site's local time
        start = datetime.combine(first, datetime.min.time())
        hourly = report.hourly_availability
        daily_svg = charts.line_chart(
            [p.hour for p in hourly],
            [p.value * 100 for p in hourly],
            first_day=first,
            unit="%",
            y_max=100.0,
            x_label=lambda hour: (start + timedelta(hours=hour)).strftime("%m-%d %H:00"),
        )
    else:
        daily_svg = charts.line_chart(
            [(p.day - first).days for p in daily],
            [p.value * 100 for p in daily],
            first_day=first,
            unit="%",
            y_max=100.0,
        )
    rated = _worst_rooms(report, WORST_ROOMS)
    worst = charts.bar_chart(
        [room.name for room in rated],
        [room.availability or 0.0 for room in rated],
        lo=min([room.availability or 0.0 for room in rated], default=0.0) * 0.98,
        hi=1.0,
        threshold=0.995,
    )
    return {
        "daily": Markup(daily_svg),
        "worst_rooms": Markup(worst),
        "hazards": [Markup(_hazard_chart(h, first)) for h in report.hazards[:hazard_charts]],
    }


def _hazard_chart(hazard: Hazard, first: date) -> str:
    series = hazard.series
    if series is None or not series.days:
        return ""
    days_left = hazard.params.get("days")
    extend = None
    if isinstance(days_left, int) and series.fit is not None:
        extend = max(series.days) + min(days_left, 120)
    return charts.line_chart(
        series.days,
        series.values,
        first_day=first,
        unit=series.unit,
        fit=series.fit,
        limit=series.limit,
        height=140,
        extend_to=extend,
    )


def _last_day(period: Period) -> date:
    return period.end - timedelta(days=1)


@pass_context
def _local(context: Context, at: datetime | None) -> str:
    """A UTC time in the site's zone (the render's ``zone``)."""
    zone: ZoneInfo = context["zone"]
    if at is None:
        return "—"
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")

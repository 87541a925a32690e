"""What a reader sees of a page, and the words of the wrong language in it.

``visible_text`` keeps text nodes and the attributes a browser shows (placeholder, title,
alt, aria-label, a submit button's value), drops scripts, styles and every other
attribute. ``foreign_words`` finds Latin words in a Chinese text (or Chinese in an English
one) that are not on the allow-list: ids and numbers (anything with a digit), units,
acronyms a Chinese engineer reads as they are, the product's name, and what users typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser
from zoneinfo import available_timezones

SHOWN_ATTRIBUTES = {"placeholder", "title", "alt", "aria-label"}
# <code> holds identifiers shown on purpose (a rule id, a metric key for Grafana queries).
HIDDEN_TAGS = {"script", "style", "template", "head", "code"}
VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "source", "wbr", "col", "area"}

# Read as they are in a Chinese UI: units, acronyms of the trade, the product's name.
ALLOWED = {
    # units
    "ms",
    "s",
    "h",
    "min",
    "d",
    "KB",
    "MB",
    "GB",
    "TB",
    "B",
    "bps",
    "kbps",
    "Mbps",
    "Gbps",
    "V",
    "W",
    "A",
    "fps",
    "dBm",
    "Hz",
    "°C",
    "C",
    "KiB",
    "MiB",
    "GiB",
    "TiB",
    # acronyms read as they are
    "SNMP",
    "UPS",
    "PoE",
    "IP",
    "RTSP",
    "CPU",
    "NAS",
    "MQTT",
    "LED",
    "SLA",
    "PDF",
    "CSV",
    "ID",
    "NVR",
    "HDMI",
    "PC",
    "HTTP",
    "HTTPS",
    "TCP",
    "ICMP",
    "URL",
    "API",
    "DSP",
    "USB",
    "RAID",
    "KiB/s",
    "MiB/s",
    "GiB/s",
    "B/s",
    "SSD",
    "HDD",
    "IO",
    "I/O",
    "OK",
    "L",
    "EN",
    # the product
    "roomwatch",
}
LATIN = re.compile(r"/?[A-Za-z][A-Za-z0-9_\-.+/]*[A-Za-z0-9_+]|[A-Za-z]")
ZONES = available_timezones()
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN_TAGS:
            self.hidden_depth += 1
            return
        shown = dict(attrs)
        for name in SHOWN_ATTRIBUTES:
            if shown.get(name):
                self.parts.append(str(shown[name]))
        if tag == "input" and shown.get("type") in ("submit", "button") and shown.get("value"):
            self.parts.append(str(shown["value"]))
        if tag in VOID_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in HIDDEN_TAGS:
            self.hidden_depth -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS:
            self.hidden_depth = max(0, self.hidden_depth - 1)
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden_depth:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text a reader sees (and the tooltips and placeholders), whitespace collapsed."""
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


def _allowed(word: str, extra: set[str]) -> bool:
    if any(ch.isdigit() for ch in word) or word.startswith("/") or word in ZONES:
        return True  # ids, model numbers, firmware, levels (L1), paths, time zones
    return word in ALLOWED or word in extra


def foreign_words(text: str, lang: str, allowed: Iterable[str] = ()) -> dict[str, str]:
    """Words of the other language in ``text``: word → the context it appears in."""
    extra = set(allowed)
    found: dict[str, str] = {}
    pattern = LATIN if lang.startswith("zh") else CJK
    for match in pattern.finditer(text):
        word = match.group(0)
        if lang.startswith("zh") and _allowed(word, extra):
            continue
        if not lang.startswith("zh") and word in extra:
            continue
        start = max(0, match.start() - 30)
        found.setdefault(word, text[start : match.end() + 30])
    return found

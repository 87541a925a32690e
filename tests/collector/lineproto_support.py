"""Reading InfluxDB line protocol back in tests, by the line protocol reference's rules: a
backslash escapes a comma, equals sign, space or backslash in names and tag values; inside a
double-quoted string field it escapes a double quote or backslash. (An independent reader:
tests of the writer check literal lines too, and a real VictoriaMetrics parses them.)"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, float | str]
    timestamp: int


def parse_line(text: str) -> Line:
    series, rest = _split_once(text, " ")
    fields_text, timestamp = _split_fields_and_time(rest)
    measurement, *tag_items = _split(series, ",")
    tags = dict(_pair(item) for item in tag_items)
    fields = {key: _field_value(raw) for key, raw in map(_pair_raw, _split(fields_text, ","))}
    return Line(_unescape(measurement), tags, fields, int(timestamp))


def _split(text: str, separator: str) -> list[str]:
    """Split at every separator that is neither escaped nor inside a quoted string."""
    parts, current, quoted, i = [], "", False, 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current += text[i : i + 2]
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
        i += 1
    parts.append(current)
    return parts


def _split_once(text: str, separator: str) -> tuple[str, str]:
    first, *rest = _split(text, separator)
    return first, separator.join(rest)


def _split_fields_and_time(text: str) -> tuple[str, str]:
    parts = _split(text, " ")
    assert len(parts) == 2, f"expected fields and a timestamp: {text!r}"
    return parts[0], parts[1]


def _pair_raw(item: str) -> tuple[str, str]:
    key, value = _split_once(item, "=")
    return _unescape(key), value


def _pair(item: str) -> tuple[str, str]:
    key, value = _pair_raw(item)
    return key, _unescape(value)


def _unescape(text: str, escapable: str = ",= \\") -> str:
    out, i = "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in escapable:
            out += text[i + 1]
            i += 2
        else:
            out += text[i]
            i += 1
    return out


def _field_value(raw: str) -> float | str:
    if raw.startswith('"'):
        assert raw.endswith('"') and len(raw) >= 2, raw
        return _unescape(raw[1:-1], escapable='"\\')
    assert not raw.endswith(("i", "u")), f"integer field {raw!r}: roomwatch writes floats"
    return float(raw)

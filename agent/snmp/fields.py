"""Field types shared by the profile schemas (``profile``, ``trapspec``): numeric OIDs,
regular expressions and metric-safe names, each checked with an error a person can act on."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from roomwatch.agent.wire import METRIC_NAME_PATTERN

_OID_RE = re.compile(r"^\.?[0-9]+(\.[0-9]+)+$")


def _numeric_oid(text: str) -> str:
    if not _OID_RE.match(text):
        raise ValueError("must be a numeric OID like 1.3.6.1.2.1.1.3.0 (no MIB names)")
    return text.lstrip(".")


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return text


Oid = Annotated[str, AfterValidator(_numeric_oid)]
Regex = Annotated[str, AfterValidator(_regex)]
MetricName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]

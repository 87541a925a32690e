"""Reading samples back for charts: the Prometheus query API that VictoriaMetrics serves.

The collector writes through the InfluxDB line protocol, so VictoriaMetrics names each series
``<measurement>_<field>`` with the point's tags as labels (``collector/ingest/points.py``).
Only ``/api/v1/query_range`` is used; an InfluxDB 2.x TSDB does not serve it, and the pages
then fall back to the SQL rollups.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from roomwatch.collector.errors import CollectorError


class TsdbReadError(CollectorError):
    """The TSDB did not answer a query (down, not VictoriaMetrics, or a bad query)."""


@dataclass(frozen=True)
class RangeSeries:
    labels: dict[str, str]
    points: list[tuple[float, float]]  # (unix seconds, value), oldest first


def selector(**labels: str) -> str:
    """A PromQL series selector with exact label matches, quoted safely."""

    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    return "{" + ",".join(f"{name}={quoted(value)}" for name, value in labels.items()) + "}"


class TsdbReader:
    """A small, synchronous read client; each call is one HTTP request with a timeout."""

    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def query_range(self, query: str, start: float, end: float, step_s: float) -> list[RangeSeries]:
        """Series of ``query`` evaluated every ``step_s`` over [start, end] (unix seconds)."""
        form = urllib.parse.urlencode(
            {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}s"}
        ).encode()
        request = urllib.request.Request(f"{self.base_url}/api/v1/query_range", data=form)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                body = json.loads(response.read())
        except (OSError, ValueError) as exc:
            raise TsdbReadError(f"{self.base_url}: {_reason(exc)}") from exc
        if body.get("status") != "success":
            raise TsdbReadError(f"{self.base_url}: {body.get('error', 'query failed')}")
        out = []
        for item in body.get("data", {}).get("result", []):
            points = [
                (float(t), float(v)) for t, v in item.get("values", []) if math.isfinite(float(v))
            ]
            out.append(RangeSeries(dict(item.get("metric", {})), points))
        return out


def _reason(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    return type(exc).__name__ if not str(exc) else str(exc)

"""What one check found out, and helpers every check shares."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from roomwatch.agent.urls import redact_url

__all__ = ["CheckResult", "Stopwatch", "redact_url", "resolve_url"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check of one device.

    ``reached``: the device answered at all (a reply, an HTTP or RTSP status). ``ok``: the
    check's own verdict (port open, expected status, stream up). ``metrics`` are merged into
    the device's sample; ``error`` says why a check is not ok, in words for a person.
    """

    check: str
    reached: bool
    ok: bool
    rtt_ms: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    note: str | None = None  # how it was measured, when that is not obvious (ICMP fallback)


def resolve_url(url: str, address: str, scheme: str, default_port: int) -> str:
    """A configured ``/path`` becomes ``scheme://address:port/path``; full URLs stay."""
    if not url.startswith("/"):
        return url
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}:{default_port}{url}"


class Stopwatch:
    """Milliseconds since it was made."""

    def __init__(self) -> None:
        self._start_s = time.perf_counter()

    def ms(self) -> float:
        return (time.perf_counter() - self._start_s) * 1000.0

"""TCP connect: the cheapest proof that a service listens."""

from __future__ import annotations

import asyncio
import contextlib

from roomwatch.agent.checks.base import CheckResult, Stopwatch


async def connect(address: str, port: int, timeout_s: float) -> tuple[str, float | None]:
    """("open" | "refused" | "timeout" | "unreachable: <why>", rtt in ms when answered)."""
    watch = Stopwatch()
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout_s)
    except TimeoutError:
        return "timeout", None
    except ConnectionRefusedError:
        return "refused", watch.ms()
    except OSError as exc:  # no route, name not found, network down
        return f"unreachable: {exc.strerror or type(exc).__name__}", None
    rtt_ms = watch.ms()
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return "open", rtt_ms


async def check_tcp(address: str, port: int, timeout_s: float) -> CheckResult:
    """Port open = reachable and ok; refused, silent or unroutable = neither."""
    outcome, rtt_ms = await connect(address, port, timeout_s)
    name = f"tcp:{port}"
    if outcome == "open":
        return CheckResult(name, reached=True, ok=True, rtt_ms=rtt_ms)
    reason = f"timeout after {timeout_s:g} s" if outcome == "timeout" else outcome
    return CheckResult(name, reached=False, ok=False, error=f"{name}: {reason}")

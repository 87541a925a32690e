"""ICMP echo through icmplib, with a TCP connect where the OS refuses ICMP sockets.

Root (or CAP_NET_RAW) may open raw ICMP sockets; other users may open "unprivileged"
datagram ICMP sockets only where ``net.ipv4.ping_group_range`` includes their group. When
neither is allowed, a TCP connect to ``fallback_port`` stands in: any answer, even a
refusal (the device's own TCP stack said no), proves the device is up.
"""

from __future__ import annotations

import os

from roomwatch.agent.checks.base import CheckResult
from roomwatch.agent.checks.tcp import connect
from roomwatch.agent.config import PingCheck

VIA_TCP_METRIC = "ping_via_tcp"  # 1 when ICMP was not allowed and a TCP connect stood in


def _privileged_by_default() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return geteuid is None or geteuid() == 0  # Windows: icmplib needs no privilege there


async def check_ping(
    address: str, check: PingCheck, *, privileged: bool | None = None
) -> CheckResult:
    """Echo ``count`` times; ``privileged`` forces the socket kind (default: root's)."""
    # icmplib is imported here: an agent without ping checks never loads it.
    from icmplib import ICMPLibError, SocketPermissionError, async_ping

    use_raw = _privileged_by_default() if privileged is None else privileged
    try:
        host = await async_ping(
            address, count=check.count, interval=0.2, timeout=check.timeout_s, privileged=use_raw
        )
    except SocketPermissionError:
        return await _tcp_instead(address, check)
    except ICMPLibError as exc:  # name lookup failed, bad address
        return CheckResult("ping", reached=False, ok=False, error=f"ping: {exc}")
    except OSError as exc:  # no route to the network
        return CheckResult("ping", reached=False, ok=False, error=f"ping: {exc.strerror}")
    if not host.is_alive:
        return CheckResult(
            "ping", reached=False, ok=False, error=f"ping: no reply in {check.timeout_s:g} s"
        )
    return CheckResult("ping", reached=True, ok=True, rtt_ms=host.avg_rtt)


async def _tcp_instead(address: str, check: PingCheck) -> CheckResult:
    note = f"ICMP not permitted for this user; TCP connect to port {check.fallback_port} instead"
    outcome, rtt_ms = await connect(address, check.fallback_port, check.timeout_s)
    flag = {VIA_TCP_METRIC: 1.0}
    if outcome in ("open", "refused"):
        return CheckResult("ping", reached=True, ok=True, rtt_ms=rtt_ms, metrics=flag, note=note)
    return CheckResult(
        "ping", reached=False, ok=False, metrics=flag, note=note,
        error=f"ping (TCP port {check.fallback_port}): {outcome}",
    )  # fmt: skip

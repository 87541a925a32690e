"""Run each device's checks every cycle and turn the results into ``DeviceSample``s.

A device's checks run concurrently, devices run concurrently, and a deadline bounds the
whole round, so a silent device never delays the others' reports. Logs stay quiet: one
line when a check starts failing, one when it recovers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from roomwatch.agent.checks.base import CheckResult, resolve_url
from roomwatch.agent.checks.http import check_http
from roomwatch.agent.checks.ping import check_ping
from roomwatch.agent.checks.rtsp import DEFAULT_PORT as RTSP_PORT
from roomwatch.agent.checks.rtsp import STREAM_UP_METRIC, Credentials, check_rtsp
from roomwatch.agent.checks.tcp import check_tcp
from roomwatch.agent.config import DeviceConfig, RtspCheck
from roomwatch.agent.selfhealth import FailureLog
from roomwatch.agent.wire import DeviceSample

log = logging.getLogger(__name__)

SNMP_UP_METRIC = "snmp_up"  # on devices with both sources: did SNMP answer this cycle
_MIN_METRICS = (STREAM_UP_METRIC, "http_up", "tcp_up")  # several checks: all must be up


class DeviceChecker:
    """The checks of every configured device that has some; one sample per such device."""

    def __init__(self, devices: list[DeviceConfig], *, ping_privileged: bool | None = None):
        self.devices = [d for d in devices if d.has_checks]
        self._ping_privileged = ping_privileged
        self._failures = FailureLog(log)
        self._noted: set[tuple[str, str]] = set()

    async def poll_all(self, deadline_s: float | None = None) -> list[DeviceSample]:
        """One sample per device with checks, in configuration order; a device still
        being checked at ``deadline_s`` is reported unreachable ("timeout")."""
        tasks = [asyncio.ensure_future(self.run_checks(d)) for d in self.devices]
        if not tasks:
            return []
        _done, late = await asyncio.wait(tasks, timeout=deadline_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        samples = []
        for device, task in zip(self.devices, tasks, strict=True):
            if task in late:
                results = [CheckResult("checks", False, False, error="checks: timeout")]
            else:
                results = task.result()
            self._log_changes(device, results)
            samples.append(sample_from(device, results))
        return samples

    async def run_checks(self, device: DeviceConfig) -> list[CheckResult]:
        """Every check of ``device`` at once; a check's own bug fails that check only."""
        checks = device.checks
        if checks is None:
            return []
        address = device.address
        runs: list[Coroutine[Any, Any, CheckResult]] = []
        if checks.ping is not None:
            runs.append(check_ping(address, checks.ping, privileged=self._ping_privileged))
        runs += [check_tcp(address, tcp.port, tcp.timeout_s) for tcp in checks.tcp]
        for http in checks.http:
            default_port = 443 if http.url.startswith("https") else 80
            runs.append(check_http(resolve_url(http.url, address, "http", default_port), http))
        runs += [_rtsp(address, rtsp) for rtsp in checks.rtsp]
        outcomes = await asyncio.gather(*runs, return_exceptions=True)
        results = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                if isinstance(outcome, asyncio.CancelledError):
                    raise outcome
                log.error("device %s: a check failed unexpectedly", device.id, exc_info=outcome)
                outcome = CheckResult("check", False, False, error="check: internal error")
            results.append(outcome)
        return results

    def _log_changes(self, device: DeviceConfig, results: list[CheckResult]) -> None:
        for result in results:
            part = f"device {device.id} {result.check}"
            if result.ok:
                self._failures.ok(part)
            else:
                self._failures.failed(part, result.error or "not ok")
            if result.note and (device.id, result.check) not in self._noted:
                self._noted.add((device.id, result.check))
                log.info("device %s %s: %s", device.id, result.check, result.note)


def _rtsp(address: str, check: RtspCheck) -> Coroutine[Any, Any, CheckResult]:
    url = resolve_url(check.url, address, "rtsp", RTSP_PORT)
    credentials = None
    if check.username is not None and check.password is not None:
        credentials = Credentials(check.username, check.password)
    return check_rtsp(url, credentials, check.timeout_s)


def sample_from(device: DeviceConfig, results: list[CheckResult]) -> DeviceSample:
    """One device's sample from its check results.

    Reachable when any check got an answer; ``rtt_ms`` from ICMP when it answered, else
    from the first check that did; where several checks give the same metric (two
    streams), the lowest wins: one stream down is a stream down.
    """
    metrics: dict[str, float] = {}
    for result in results:
        for name, value in result.metrics.items():
            keep_low = name in _MIN_METRICS and name in metrics
            metrics[name] = min(metrics[name], value) if keep_low else value
    tcp = [r for r in results if r.check.startswith("tcp:")]
    if tcp:
        metrics["tcp_up"] = float(all(r.ok for r in tcp))
    answered = [r for r in results if r.reached and r.rtt_ms is not None]
    ping = [r for r in answered if r.check == "ping"]
    rtt_ms = (ping or answered)[0].rtt_ms if answered else None
    errors = [r.error for r in results if r.error]
    return DeviceSample(
        device=device.id,
        kind=device.kind,
        model=device.model,
        reachable=any(r.reached for r in results),
        rtt_ms=rtt_ms,
        error="; ".join(errors)[:500] or None,
        metrics=metrics,
    )


def merge_samples(snmp: list[DeviceSample], checks: list[DeviceSample]) -> list[DeviceSample]:
    """One sample per device: the SNMP samples in their order, each joined with the same
    device's check sample, then the devices watched by checks only.

    A device with both sources is reachable when either reached it (a camera whose SNMP
    agent hangs but which streams is up, and ``snmp_up`` 0 says what is wrong); its metrics
    are the union, with the lower ``stream_up``; rtt and tables come from SNMP when it
    answered.
    """
    by_checks = {s.device: s for s in checks}
    merged = [
        _merge_one(sample, by_checks.pop(sample.device)) if sample.device in by_checks else sample
        for sample in snmp
    ]
    return merged + list(by_checks.values())


def _merge_one(snmp: DeviceSample, checks: DeviceSample) -> DeviceSample:
    metrics = {**checks.metrics, **snmp.metrics}
    for name in _MIN_METRICS:
        if name in snmp.metrics and name in checks.metrics:
            metrics[name] = min(snmp.metrics[name], checks.metrics[name])
    metrics[SNMP_UP_METRIC] = float(snmp.reachable)
    errors = [f"snmp: {snmp.error}" if not snmp.reachable else snmp.error, checks.error]
    return DeviceSample(
        device=snmp.device,
        kind=snmp.kind,
        model=snmp.model or checks.model,
        reachable=snmp.reachable or checks.reachable,
        rtt_ms=snmp.rtt_ms if snmp.reachable else checks.rtt_ms,
        error="; ".join(e for e in errors if e)[:500] or None,
        metrics=metrics,
        tables=snmp.tables,
    )

"""What ``roomwatch probe`` found, explained and printed for a person (or as JSON)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roomwatch.agent.checks.base import CheckResult
from roomwatch.agent.wire import DeviceSample

if TYPE_CHECKING:
    from roomwatch.agent.snmp.poller import DeviceIdentity

_UNIT_SHOWN = {"pct": "%", "c": "°C", "v": "V", "w": "W", "per_s": "/s"}


@dataclass
class SnmpReport:
    sample: DeviceSample
    identity: DeviceIdentity | None
    why: str
    missing: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.identity is None or not self.sample.reachable:
            return
        profile = self.identity.profile
        self.missing = [m.name for m in profile.metrics if m.name not in self.sample.metrics]
        self.missing += [
            f"table {t.name}" for t in profile.tables if not self.sample.tables.get(t.name)
        ]

    @property
    def answered(self) -> bool:
        return self.sample.reachable

    def as_dict(self) -> dict[str, Any]:
        identity = self.identity
        return {
            "answered": self.answered,
            "error": self.sample.error,
            "rtt_ms": self.sample.rtt_ms,
            "profile": identity.profile.name if identity else None,
            "why": self.why,
            "identity": None
            if identity is None
            else {
                "vendor": identity.vendor,
                "model": identity.model,
                "firmware": identity.firmware,
                "sys_descr": identity.sys_descr,
                "sys_object_id": identity.sys_object_id,
                "sys_name": identity.sys_name,
            },
            "metrics": {k: {"value": v, "unit": unit(k)} for k, v in self.sample.metrics.items()},
            "tables": {
                name: [{"labels": r.labels, "metrics": r.metrics} for r in rows]
                for name, rows in self.sample.tables.items()
            },
            "missing": self.missing,
        }


def unit(metric: str) -> str | None:
    """The unit a metric's name ends in, as printed (``cpu_pct`` -> ``%``)."""
    if metric.endswith("_per_s"):
        return "/s"
    from roomwatch.agent.snmp.profile import unit_of

    found = unit_of(metric)
    return _UNIT_SHOWN.get(found, found) if found else None


def explain_choice(identity: DeviceIdentity | None, kind: str, *, named: bool) -> str:
    """Why the profile was chosen, in the order the registry decides."""
    if identity is None:
        return "not identified: the device did not answer SNMP"
    profile = identity.profile
    if named:
        return f"{profile.name}: named with --profile"
    object_id, descr = identity.sys_object_id or "", identity.sys_descr or ""
    reasons = []
    match = profile.match
    if match is not None:
        prefixes = [p for p in match.sys_object_id if f"{object_id}.".startswith(f"{p}.")]
        if prefixes:
            reasons.append(f"sysObjectID {object_id} starts with {max(prefixes, key=len)}")
        if match.sys_descr and re.search(match.sys_descr, descr):
            reasons.append(f"sysDescr matches /{match.sys_descr}/")
        probe = getattr(match, "probe", None)
        if probe is not None and not reasons:
            reasons.append(f"probe OID {probe.oid} answered")
    if reasons:
        return f"{profile.name}: {'; '.join(reasons)}"
    if kind in getattr(profile, "default_for_kinds", ()):
        return f"{profile.name}: no vendor profile matched; the standard profile for kind {kind}"
    return (
        f"{profile.name}: fallback, nothing matched "
        f"(sysObjectID {object_id or '-'}, sysDescr {descr[:60]!r})"
    )


def print_report(
    address: str, kind: str, answered: bool, snmp: SnmpReport | None, results: list[CheckResult]
) -> None:
    print(f"device {address} (kind {kind})")
    if snmp is not None:
        _print_snmp(snmp)
    if results:
        print("checks:")
        for result in results:
            _print_check(result)
    verdict = "the device answered" if answered else "no answer from the device"
    print(f"result: {verdict}")


def _print_snmp(snmp: SnmpReport) -> None:
    sample = snmp.sample
    if not sample.reachable:
        print(f"SNMP: no answer ({sample.error})")
        return
    print(f"SNMP: answered in {sample.rtt_ms or 0:.1f} ms")
    print(f"  profile   {snmp.why}")
    identity = snmp.identity
    if identity is not None:
        print(f"  vendor    {identity.vendor or '-'}")
        print(f"  model     {identity.model or '-'}")
        print(f"  firmware  {identity.firmware or '-'}")
        print(f"  sysObjectID {identity.sys_object_id or '-'}")
        print(f"  sysDescr  {(identity.sys_descr or '-')[:200]}")
    if sample.error:
        print(f"  problems  {sample.error}")
    print("metrics:")
    for name, value in sorted(sample.metrics.items()):
        print(f"  {name:<32} {value:g} {unit(name) or ''}".rstrip())
    for table, rows in sorted(sample.tables.items()):
        print(f"table {table} ({len(rows)} rows):")
        for row in rows:
            labels = " ".join(f"{k}={v}" for k, v in row.labels.items())
            values = " ".join(f"{k}={v:g}{unit(k) or ''}" for k, v in row.metrics.items())
            print(f"  {labels}  {values}")
    if snmp.missing:
        print(f"missing (the profile asks, the device did not answer): {', '.join(snmp.missing)}")


def _print_check(result: CheckResult) -> None:
    state = "ok" if result.ok else ("answered" if result.reached else "down")
    rtt = f" {result.rtt_ms:.1f} ms" if result.rtt_ms is not None else ""
    values = " ".join(f"{k}={v:g}" for k, v in result.metrics.items())
    print(f"  {result.check:<10} {state}{rtt} {values}".rstrip())
    for line in (result.error, result.note):
        if line:
            print(f"      {line}")

"""Vendor advisories: which devices a model + firmware-range notice applies to, and the L4
fault (rule ``vendor_advisory``) each matching device gets, once.

Firmware strings from SNMP and inventories are rarely PEP 440 (``V5.5.0 build 200511``,
``2.3.1-rc2``). Versions compare with ``packaging.version`` when all three strings parse;
otherwise as tuples of the numbers they contain (``V5.5.0 build 200511`` → 5, 5, 0, 200511).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from packaging.version import InvalidVersion, Version
from sqlalchemy.orm import Session

from roomwatch.collector.db import faults_store, report_queries, report_store
from roomwatch.collector.db.models import Device, Fault, Room
from roomwatch.collector.db.report_models import VendorAdvisory
from roomwatch.collector.levels import Level
from roomwatch.collector.rules.engine import target_of

RULE_ID = "vendor_advisory"
_NUMBERS = re.compile(r"\d+")


class FaultOpener(Protocol):
    """What opens and resolves the advisory faults: ``collector.workflow.Workflow`` (SLA
    clocks, events, notifications) or the bare store functions."""

    def open_rule_fault(
        self, session: Session, *, open_key: str, at: datetime, **fields: object
    ) -> Fault: ...

    def auto_resolve(
        self, session: Session, fault: Fault, at: datetime, reason: str, **detail: object
    ) -> None: ...


@dataclass(frozen=True)
class AppliedAdvisories:
    opened: list[int]
    resolved: list[int]
    matched: int


def version_key(text: str) -> tuple[int, ...]:
    """The numbers in a firmware string, in order; () when it has none."""
    return tuple(int(n) for n in _NUMBERS.findall(text))


def firmware_in_range(firmware: str, low: str | None, high: str | None) -> bool:
    """``low <= firmware <= high`` (either bound may be open)."""
    bounds = [b for b in (low, high) if b]
    parsed = _parse_all([firmware, *bounds])
    if parsed is not None:
        value, rest = parsed[0], iter(parsed[1:])
        lo = next(rest) if low else None
        hi = next(rest) if high else None
        return (lo is None or lo <= value) and (hi is None or value <= hi)
    key = version_key(firmware)
    if not key:
        return False
    return (not low or version_key(low) <= key) and (not high or key <= version_key(high))


def applies_to(
    advisory: VendorAdvisory, model: str | None, vendor: str | None, firmware: str | None
) -> bool:
    """Same model (case-insensitive), same vendor when both are known, firmware in range."""
    if not model or not firmware:
        return False
    if model.strip().casefold() != advisory.model.strip().casefold():
        return False
    if (
        advisory.vendor
        and vendor
        and advisory.vendor.strip().casefold() != vendor.strip().casefold()
    ):
        return False
    return firmware_in_range(firmware.strip(), advisory.firmware_min, advisory.firmware_max)


def range_text(advisory: VendorAdvisory) -> str:
    low, high = advisory.firmware_min, advisory.firmware_max
    if low and high:
        return f"{low} – {high}"
    if high:
        return f"≤ {high}"
    if low:
        return f"≥ {low}"
    return "*"


def open_key(room_id: str, device: str, code: str) -> str:
    return f"{RULE_ID}|{advisory_target(room_id, device, code)}"


def advisory_target(room_id: str, device: str, code: str) -> str:
    return target_of(room_id, device, "advisory", {"id": code})


def apply_advisories(session: Session, opener: FaultOpener, at: datetime) -> AppliedAdvisories:
    """Open an L4 fault for every (device, active advisory) that matches and has none;
    resolve advisory faults whose device no longer matches (firmware upgraded, advisory
    withdrawn). Running it again changes nothing."""
    report_store.lock_advisory_matching(session)  # members of a group may run it at once
    advisories = report_store.advisories(session, active_only=True)
    devices = report_queries.devices_with_models(session, {a.model for a in advisories})
    wanted: dict[str, tuple[VendorAdvisory, Device, Room]] = {}
    for advisory in advisories:
        for device, room in devices:
            if applies_to(advisory, device.model, device.vendor, device.firmware):
                wanted[open_key(room.id, device.device, advisory.code)] = (advisory, device, room)
    active = set(faults_store.active_keys(session, f"{RULE_ID}|"))
    opened: list[int] = []
    for key in sorted(wanted.keys() - active):
        advisory, device, room = wanted[key]
        if _closed_by_person(session, key, device.firmware, advisory_revision(advisory)):
            continue  # a person dealt with this advisory on this firmware: it stays closed
        fault = opener.open_rule_fault(
            session,
            open_key=key,
            at=at,
            rule_id=RULE_ID,
            target=key.split("|", 1)[1],
            room_id=room.id,
            device_id=device.id,
            agent_id=None,
            level=int(Level.L4),
            title=f"Vendor advisory {advisory.code} applies to {device.device} in {room.name}"[
                :300
            ],
            description=f"{advisory.title}\n\n{advisory.text}".strip(),
            evidence={
                "advisory": advisory.code,
                "model": device.model,
                "firmware": device.firmware,
                "affected": range_text(advisory),
                "severity": advisory.severity,
                "revision": advisory_revision(advisory),
            },
        )
        opened.append(fault.id)
    resolved: list[int] = []
    for key in sorted(active - wanted.keys()):
        stale = faults_store.find_active(session, key)
        if stale is not None:
            opener.auto_resolve(session, stale, at, reason="advisory no longer applies")
            resolved.append(stale.id)
    return AppliedAdvisories(opened=opened, resolved=resolved, matched=len(wanted))


def advisory_revision(advisory: VendorAdvisory) -> str:
    """What a changed advisory changes (the range, severity and text it gives): a fault
    closed on one revision stays closed; a new revision may open it again."""
    content = "\x1f".join(
        [
            advisory.model,
            advisory.firmware_min or "",
            advisory.firmware_max or "",
            advisory.severity,
            advisory.title,
            advisory.text or "",
            advisory.action or "",
        ]
    )
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def _closed_by_person(session: Session, key: str, firmware: str | None, revision: str) -> bool:
    """Whether the latest fault of ``key`` was resolved or closed by a person for the
    same firmware and advisory revision."""
    fault = faults_store.latest_by_key(session, key)
    if fault is None or fault.status not in ("resolved", "closed"):
        return False
    if fault.evidence.get("firmware") != firmware or fault.evidence.get("revision") != revision:
        return False
    return any(
        e.type in ("resolved", "closed") and e.actor != faults_store.SYSTEM_ACTOR
        for e in faults_store.events_of(session, fault.id)
    )


def _parse_all(texts: Sequence[str]) -> list[Version] | None:
    try:
        return [Version(text) for text in texts]
    except InvalidVersion:
        return None

"""Trap mappings in device profiles, and how a received trap becomes an ``Event``.

A profile's ``traps:`` maps a notification OID (snmpTrapOID; v1 traps arrive converted as in
RFC 3584) to an event type, a text template and attributes read from the trap's varbinds.
A trap no profile maps becomes a generic ``trap`` event that names its OID. Values a
varbind carries are shown, except snmpTrapCommunity, which a v1 trap converts into a
varbind and which is a secret. See docs/snmp.md.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roomwatch.agent.snmp.client import Counter, SnmpValue
from roomwatch.agent.snmp.fields import MetricName, Oid
from roomwatch.agent.wire import Event

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SNMP_TRAP_OID = "1.3.6.1.6.3.1.1.4.1.0"
SNMP_TRAP_ENTERPRISE = "1.3.6.1.6.3.1.1.4.3.0"
SNMP_TRAP_ADDRESS = "1.3.6.1.6.3.18.1.3.0"
SNMP_TRAP_COMMUNITY = "1.3.6.1.6.3.18.1.4.0"  # a v1 trap's community: never published
# Varbinds every notification carries; not repeated in an event's text.
_ENVELOPE = {SYS_UPTIME, SNMP_TRAP_OID, SNMP_TRAP_ENTERPRISE, SNMP_TRAP_ADDRESS}
GENERIC_EVENT = "trap"
MAX_TEXT = 2000
MAX_ATTR_TEXT = 256


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrapAttr(_Strict):
    """An event attribute read from the varbind at ``oid`` (a scalar instance ending in .0,
    or a column: the first varbind in it is taken, whatever its row index)."""

    name: MetricName
    oid: Oid
    fallback_oid: Oid | None = Field(default=None, description="Read when ``oid`` is absent.")
    scale: float = 1.0
    enum: dict[int, float | str] | None = Field(default=None, description="Raw integer -> value.")
    oid_names: dict[Oid, str] | None = Field(
        default=None, description="An OID value -> a name (e.g. UPS-MIB well-known alarms)."
    )

    def value(self, varbinds: Sequence[tuple[str, SnmpValue]]) -> str | float | None:
        """This attribute's value in the trap; None when absent or not fitting."""
        raw = _find(varbinds, self.oid)
        if raw is None and self.fallback_oid:
            raw = _find(varbinds, self.fallback_oid)
        if raw is None:
            return None
        number = raw.value if isinstance(raw, Counter) else raw
        if self.oid_names is not None and isinstance(number, str):
            return self.oid_names.get(number.lstrip("."), number)
        if self.enum is not None:
            return self.enum.get(number) if isinstance(number, int) else None
        if isinstance(number, int):
            return float(number) * self.scale
        return number[:MAX_ATTR_TEXT]


class TrapSpec(_Strict):
    """One notification a profile knows."""

    oid: Oid = Field(description="The notification OID (snmpTrapOID.0).")
    event: MetricName = Field(description="Event type, e.g. link_down, on_battery.")
    text: str = Field(default="", description="Template; {attr} is replaced by its value.")
    attrs: list[TrapAttr] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_template(self) -> TrapSpec:
        known = {a.name for a in self.attrs} | {"device", "trap_oid"}
        try:
            parsed = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(self.text)]
        except ValueError as exc:
            raise ValueError(f"text: not a valid template: {exc}") from None
        if any(spec or conv for field, spec, conv in parsed if field is not None):
            raise ValueError("text: only plain {name} placeholders, no format specs")
        used = {field for field, _, _ in parsed if field}
        unknown = sorted(used - known)
        if unknown:
            raise ValueError(f"text uses {unknown}, which are not attrs ({sorted(known)})")
        return self


def trap_oid_of(varbinds: Sequence[tuple[str, SnmpValue]]) -> str:
    """The notification's OID (snmpTrapOID.0); "" for a malformed notification."""
    for oid, value in varbinds:
        if oid == SNMP_TRAP_OID and isinstance(value, str):
            return value.lstrip(".")
    return ""


def trap_event(
    device: str,
    varbinds: Sequence[tuple[str, SnmpValue]],
    spec: TrapSpec | None,
    at: datetime,
) -> Event:
    """The event for a trap from ``device``: mapped by ``spec``, or a generic ``trap``."""
    varbinds = [(oid, value) for oid, value in varbinds if oid != SNMP_TRAP_COMMUNITY]
    trap_oid = trap_oid_of(varbinds)
    if spec is None:
        shown = ", ".join(f"{oid}={_shown(v)}" for oid, v in varbinds if oid not in _ENVELOPE)
        text = f"trap {trap_oid or '(no snmpTrapOID)'}" + (f": {shown}" if shown else "")
        return Event(
            device=device,
            type=GENERIC_EVENT,
            text=text[:MAX_TEXT],
            attrs={"trap_oid": trap_oid},
            at=at,
        )
    attrs: dict[str, str | float] = {"trap_oid": trap_oid}
    for attr in spec.attrs:
        value = attr.value(varbinds)
        if value is not None:
            attrs[attr.name] = value
    text = string.Formatter().vformat(spec.text, (), _Placeholders(attrs, device)) or spec.event
    return Event(device=device, type=spec.event, text=text[:MAX_TEXT], attrs=attrs, at=at)


class _Placeholders(dict[str, object]):
    """Template values: the attrs, the device; ``?`` for an attr the trap did not carry."""

    def __init__(self, attrs: Mapping[str, str | float], device: str) -> None:
        super().__init__({k: _shown(v) for k, v in attrs.items()}, device=device)

    def __missing__(self, key: str) -> str:
        return "?"


def _find(varbinds: Sequence[tuple[str, SnmpValue]], oid: str) -> SnmpValue | None:
    column = oid + "."
    for name, value in varbinds:
        if name == oid or name.startswith(column):
            return value
    return None


def _shown(value: SnmpValue | str | float) -> str:
    if isinstance(value, Counter):
        return str(value.value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)[:MAX_ATTR_TEXT]

"""SNMP requests over UDP with pysnmp's asyncio API: batched GETs, GETBULK walks, SETs.

One ``SnmpEngine`` serves every device (one UDP socket, requests multiplexed). OIDs are
numeric and replies are read without MIB lookups. Credentials become pysnmp auth data in
exactly one place, ``_auth_data``, so SNMPv3 can be added there; communities are never
logged or put in an error message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from pyasn1.type import univ
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    bulk_cmd,
    get_cmd,
    set_cmd,
)
from pysnmp.proto import errind, rfc1902, rfc1905

from agent.config import SnmpCredential
from agent.errors import AgentError

OIDS_PER_GET = 30
MAX_ROWS_PER_COLUMN = 10_000


class SnmpError(AgentError):
    """A request got no usable answer; ``reason`` is short ("timeout", "tooBig", ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Counter(NamedTuple):
    """A counter as the device sent it; ``bits`` (32 or 64) says where it wraps."""

    value: int
    bits: int


SnmpValue = int | str | Counter
SetType = Literal["integer", "uinteger", "counter", "octet_str", "timeticks", "object_id"]
_SET_TYPES: dict[str, Any] = {
    "integer": rfc1902.Integer32,
    "uinteger": rfc1902.Gauge32,
    "counter": rfc1902.Counter32,
    "octet_str": rfc1902.OctetString,
    "timeticks": rfc1902.TimeTicks,
    "object_id": rfc1902.ObjectIdentifier,
}
_ABSENT = (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView)


@dataclass(frozen=True)
class SnmpTarget:
    """Where and how to ask one device."""

    host: str
    port: int
    credential: SnmpCredential = field(default_factory=SnmpCredential)
    timeout_s: float = 2.0
    retries: int = 1

    @property
    def attempt_budget_s(self) -> float:
        """Longest one request can take before it is given up."""
        return self.timeout_s * (self.retries + 1)


def _auth_data(credential: SnmpCredential) -> CommunityData:
    # The one place a credential becomes pysnmp auth data (SNMPv3 will branch here).
    return CommunityData(credential.community.get_secret_value(), mpModel=1)


def to_python(value: Any) -> SnmpValue | None:
    """A pysnmp value as int, str or Counter; None for noSuchObject/Instance, endOfMibView."""
    if isinstance(value, _ABSENT):
        return None
    if isinstance(value, rfc1902.Counter64):
        return Counter(int(value), 64)
    if isinstance(value, rfc1902.Counter32):
        return Counter(int(value), 32)
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(b) for b in value.asOctets())
    if isinstance(value, univ.OctetString):
        return value.asOctets().decode("utf-8", errors="replace").rstrip("\x00")
    if isinstance(value, univ.ObjectIdentifier):
        return str(value)
    return None


class SnmpClient:
    """GET, walk and SET against many devices through one engine.

    The engine belongs to the event loop it was first used in; used from another loop (a
    test calling ``asyncio.run`` twice), it is replaced.
    """

    def __init__(self, max_repetitions: int = 25, oids_per_get: int = OIDS_PER_GET) -> None:
        self.max_repetitions = max_repetitions
        self.oids_per_get = oids_per_get
        self._engine: SnmpEngine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transports: dict[tuple[str, int, float, int], UdpTransportTarget] = {}

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> dict[str, SnmpValue]:
        """Values of ``oids`` (in batches per PDU); OIDs the device does not serve are left out."""
        unique = list(dict.fromkeys(oids))
        found: dict[str, SnmpValue] = {}
        for start in range(0, len(unique), self.oids_per_get):
            found.update(await self._get_batch(target, unique[start : start + self.oids_per_get]))
        return found

    async def walk_columns(
        self, target: SnmpTarget, columns: Sequence[str]
    ) -> dict[str, dict[str, SnmpValue]]:
        """Walk table columns together with GETBULK: column -> row index -> value."""
        rows: dict[str, dict[str, SnmpValue]] = {c: {} for c in columns}
        cursor = {c: c for c in dict.fromkeys(columns)}
        while cursor:
            active = list(cursor)
            replies = await self._bulk(target, [cursor[c] for c in active])
            finished = {c for c in active if not replies}
            for position, (oid, value) in enumerate(replies):
                column = active[position % len(active)]
                if column in finished:
                    continue
                index = _index_under(column, oid, after=cursor[column])
                if index is None or len(rows[column]) >= MAX_ROWS_PER_COLUMN:
                    finished.add(column)
                    continue
                cursor[column] = oid
                converted = to_python(value)
                if converted is not None:
                    rows[column][index] = converted
            for column in finished:
                del cursor[column]
        return rows

    async def set(
        self, target: SnmpTarget, values: Mapping[str, tuple[SetType, int | str]]
    ) -> None:
        """SET typed values (types named as in snmpd's ``override``); SnmpError if refused."""
        var_binds = [
            ObjectType(ObjectIdentity(oid), _SET_TYPES[kind](value))
            for oid, (kind, value) in values.items()
        ]
        engine, transport = await self._session(target)
        reply = await set_cmd(
            engine,
            _auth_data(target.credential),
            transport,
            ContextData(),
            *var_binds,
            lookupMib=False,
        )
        _raise_for(reply)

    def close(self) -> None:
        """Release the engine's socket; the client can still be used afterwards."""
        engine, self._engine, self._loop = self._engine, None, None
        self._transports.clear()
        if engine is not None:
            # RuntimeError: its event loop is already closed, and with it the socket.
            with contextlib.suppress(RuntimeError):
                engine.close_dispatcher()

    async def _get_batch(self, target: SnmpTarget, oids: list[str]) -> dict[str, SnmpValue]:
        engine, transport = await self._session(target)
        var_binds = [ObjectType(ObjectIdentity(oid)) for oid in oids]
        reply = await get_cmd(
            engine,
            _auth_data(target.credential),
            transport,
            ContextData(),
            *var_binds,
            lookupMib=False,
        )
        if _status_name(reply) == "tooBig" and len(oids) > 1:
            half = len(oids) // 2
            first = await self._get_batch(target, oids[:half])
            return first | await self._get_batch(target, oids[half:])
        _raise_for(reply)
        found: dict[str, SnmpValue] = {}
        for name, value in reply[3]:
            converted = to_python(value)
            if converted is not None:
                found[str(name)] = converted
        return found

    async def _bulk(self, target: SnmpTarget, start_oids: list[str]) -> list[tuple[str, Any]]:
        engine, transport = await self._session(target)
        var_binds = [ObjectType(ObjectIdentity(oid)) for oid in start_oids]
        reply = await bulk_cmd(
            engine,
            _auth_data(target.credential),
            transport,
            ContextData(),
            0,
            self.max_repetitions,
            *var_binds,
            lookupMib=False,
        )
        _raise_for(reply)
        return [(str(name), value) for name, value in reply[3]]

    async def _session(self, target: SnmpTarget) -> tuple[SnmpEngine, UdpTransportTarget]:
        loop = asyncio.get_running_loop()
        if self._engine is None or self._loop is not loop:
            self.close()
            self._engine, self._loop = SnmpEngine(), loop
        key = (target.host, target.port, target.timeout_s, target.retries)
        transport = self._transports.get(key)
        if transport is None:
            try:
                transport = await UdpTransportTarget.create(
                    (target.host, target.port), timeout=target.timeout_s, retries=target.retries
                )
            except Exception:
                raise SnmpError("address not resolved") from None
            self._transports[key] = transport
        return self._engine, transport


def _index_under(column: str, oid: str, after: str) -> str | None:
    """The row index of ``oid`` in ``column``; None once the walk has left the column."""
    prefix = column + "."
    if not oid.startswith(prefix) or not _oid_after(oid, after):
        return None
    return oid[len(prefix) :]


def _oid_after(oid: str, previous: str) -> bool:
    return tuple(map(int, oid.split("."))) > tuple(map(int, previous.split(".")))


def _status_name(reply: tuple[Any, Any, Any, Any]) -> str | None:
    indication, status = reply[0], reply[1]
    if indication or not status:
        return None
    return str(status.prettyPrint()) if hasattr(status, "prettyPrint") else str(status)


def _raise_for(reply: tuple[Any, Any, Any, Any]) -> None:
    indication = reply[0]
    if isinstance(indication, errind.RequestTimedOut):
        raise SnmpError("timeout")
    if indication:
        raise SnmpError(str(indication))
    status = _status_name(reply)
    if status:
        raise SnmpError(status)

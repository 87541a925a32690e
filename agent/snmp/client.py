"""SNMP requests over UDP with pysnmp's asyncio API: batched GETs, GETBULK walks, SETs.

All devices share one ``SnmpEngine`` (one UDP socket, requests multiplexed), except that an
SNMPv3 user name used with two different key sets gets a second engine: pysnmp keeps one
USM user per user name and engine. OIDs are numeric and replies are read without MIB
lookups. Credentials become pysnmp auth data only in ``agent.snmp.auth``; no community or
key is ever logged or put in an error message. Walks are bounded: ``max_repetitions`` rows
per GETBULK (halved when the device answers tooBig), ``max_rows`` rows per column, and a
device that returns OIDs that do not increase is cut off with ``TableCutOff``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from pyasn1.type import univ
from pysnmp.hlapi.v3arch.asyncio import (
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
from agent.snmp.auth import auth_data, credential_key

OIDS_PER_GET = 30
_SHARED_ENGINE = "shared"
MAX_ROWS_PER_COLUMN = 10_000


class SnmpError(AgentError):
    """A request got no usable answer; ``reason`` is short ("timeout", "tooBig", ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TableCutOff(SnmpError):
    """A table walk was stopped early; ``rows`` holds what had been read (column -> rows)."""

    def __init__(self, reason: str, rows: dict[str, dict[str, SnmpValue]]) -> None:
        super().__init__(reason)
        self.rows = rows


# Reasons a user can act on, for what pysnmp reports about SNMPv3 (never with a key in it).
_INDICATION_REASONS: dict[type[errind.ErrorIndication], str] = {
    errind.RequestTimedOut: "timeout",
    errind.WrongDigest: "authentication failed (wrong auth key or auth protocol)",
    errind.UnknownUserName: "unknown SNMPv3 user",
    errind.UnsupportedSecurityLevel: "security level not supported for this SNMPv3 user",
    errind.DecryptionError: "decryption failed (wrong privacy key or privacy protocol)",
    errind.NotInTimeWindow: "SNMPv3 message not in time window",
    errind.UnknownEngineID: "SNMPv3 engine ID discovery failed",
}


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


def _auth_data(credential: SnmpCredential) -> Any:
    return auth_data(credential)


def new_engine(on_malformed: Callable[[], None] | None = None) -> SnmpEngine:
    """An SnmpEngine that drops a datagram pysnmp cannot parse instead of raising from the
    event loop's callback (which logs a traceback per datagram a garbage device sends)."""
    engine = SnmpEngine()
    dispatcher = engine.message_dispatcher
    receive = dispatcher.receive_message

    def receive_or_drop(*args: Any, **kwargs: Any) -> Any:
        try:
            return receive(*args, **kwargs)
        except Exception:  # malformed beyond what pysnmp catches itself: like a lost packet
            if on_malformed is not None:
                on_malformed()
            return None

    dispatcher.receive_message = receive_or_drop
    return engine


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
    """GET, walk and SET against many devices.

    Engines belong to the event loop they were first used in; used from another loop (a
    test calling ``asyncio.run`` twice), they are replaced.
    """

    def __init__(
        self,
        max_repetitions: int = 25,
        oids_per_get: int = OIDS_PER_GET,
        max_rows: int = MAX_ROWS_PER_COLUMN,
    ) -> None:
        self.max_repetitions = max_repetitions
        self.oids_per_get = oids_per_get
        self.max_rows = max_rows
        self._engines: dict[str, SnmpEngine] = {}
        self._user_keys: dict[str, str] = {}  # SNMPv3 user name -> its keys in the shared engine
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine_lock = asyncio.Lock()
        self._transports: dict[tuple[str, str, int, float, int], UdpTransportTarget] = {}

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> dict[str, SnmpValue]:
        """Values of ``oids`` (in batches per PDU); OIDs the device does not serve are left out."""
        unique = list(dict.fromkeys(oids))
        found: dict[str, SnmpValue] = {}
        for start in range(0, len(unique), self.oids_per_get):
            found.update(await self._get_batch(target, unique[start : start + self.oids_per_get]))
        return found

    async def walk_columns(
        self, target: SnmpTarget, columns: Sequence[str], expected_rows: int | None = None
    ) -> dict[str, dict[str, SnmpValue]]:
        """Walk table columns together with GETBULK: column -> row index -> value.

        ``expected_rows`` (what the last walk found) sizes the first request: repetitions
        past a column's end return the next column's rows, which are decoded for nothing.
        Raises TableCutOff (with the rows read so far) when a column has more than
        ``max_rows`` rows or the device returns an OID that does not follow the previous one.
        """
        rows: dict[str, dict[str, SnmpValue]] = {c: {} for c in columns}
        cursor = {c: c for c in dict.fromkeys(columns)}
        repetitions = self.max_repetitions
        if expected_rows is not None:
            repetitions = max(1, min(repetitions, expected_rows + 1))  # +1 sees the end
        while cursor:
            active = list(cursor)
            replies = await self._bulk(target, [cursor[c] for c in active], repetitions)
            repetitions = self.max_repetitions
            finished = {c for c in active if not replies}
            for position, (oid, value) in enumerate(replies):
                column = active[position % len(active)]
                if column in finished:
                    continue
                if not oid.startswith(column + ".") or isinstance(value, rfc1905.EndOfMibView):
                    finished.add(column)  # the walk has left the column: its normal end
                    continue
                if not _oid_after(oid, cursor[column]):
                    raise TableCutOff(
                        f"walk of {column} cut off: the device returned {oid} after "
                        f"{cursor[column]} (OIDs not increasing)",
                        rows,
                    )
                if len(rows[column]) >= self.max_rows:
                    raise TableCutOff(
                        f"walk of {column} cut off at {self.max_rows} rows "
                        f"(snmp.max_rows_per_table)",
                        rows,
                    )
                cursor[column] = oid
                converted = to_python(value)
                if converted is not None:
                    rows[column][oid[len(column) + 1 :]] = converted
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
        """Release the engines' sockets; the client can still be used afterwards."""
        engines, self._engines, self._loop = self._engines, {}, None
        self._user_keys.clear()
        self._transports.clear()
        for engine in engines.values():
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

    async def _bulk(
        self, target: SnmpTarget, start_oids: list[str], repetitions: int
    ) -> list[tuple[str, Any]]:
        engine, transport = await self._session(target)
        var_binds = [ObjectType(ObjectIdentity(oid)) for oid in start_oids]
        while True:
            reply = await bulk_cmd(
                engine,
                _auth_data(target.credential),
                transport,
                ContextData(),
                0,
                repetitions,
                *var_binds,
                lookupMib=False,
            )
            if _status_name(reply) != "tooBig" or repetitions == 1:
                break
            repetitions //= 2  # the answer would not fit in one message: ask for fewer rows
        _raise_for(reply)
        return [(str(name), value) for name, value in reply[3]]

    def _engine_key(self, credential: SnmpCredential) -> str:
        """Which engine serves a credential: one shared by all (creating an engine blocks
        for about half a second), except for an SNMPv3 user name that is already in the
        shared engine with other keys: pysnmp keeps one key set per user name and engine."""
        if credential.version == "v2c":
            return _SHARED_ENGINE
        keys = credential_key(credential)
        owner = self._user_keys.setdefault(credential.username or "", keys)
        return _SHARED_ENGINE if owner == keys else keys

    async def _session(self, target: SnmpTarget) -> tuple[SnmpEngine, UdpTransportTarget]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self.close()
            self._loop, self._engine_lock = loop, asyncio.Lock()
        engine_key = self._engine_key(target.credential)
        async with self._engine_lock:
            engine = self._engines.get(engine_key)
            if engine is None:
                # Half a second of MIB loading: in a thread, so that requests already on
                # their way to other devices are not timed out by a stalled event loop.
                engine = self._engines[engine_key] = await asyncio.to_thread(new_engine)
        key = (engine_key, target.host, target.port, target.timeout_s, target.retries)
        transport = self._transports.get(key)
        if transport is None:
            try:
                transport = await UdpTransportTarget.create(
                    (target.host, target.port), timeout=target.timeout_s, retries=target.retries
                )
            except Exception:
                raise SnmpError("address not resolved") from None
            self._transports[key] = transport
        return engine, transport


def _oid_after(oid: str, previous: str) -> bool:
    return tuple(map(int, oid.split("."))) > tuple(map(int, previous.split(".")))


def _status_name(reply: tuple[Any, Any, Any, Any]) -> str | None:
    indication, status = reply[0], reply[1]
    if indication or not status:
        return None
    return str(status.prettyPrint()) if hasattr(status, "prettyPrint") else str(status)


def _raise_for(reply: tuple[Any, Any, Any, Any]) -> None:
    indication = reply[0]
    if indication:
        for kind, reason in _INDICATION_REASONS.items():
            if isinstance(indication, kind):
                raise SnmpError(reason)
        raise SnmpError(str(indication))
    status = _status_name(reply)
    if status:
        raise SnmpError(status)

"""SNMP requests with pysnmp's asyncio API: SNMPv3 GET and GETBULK, and SET (any version).

Imported only when a v3 credential or a SET is first used (``agent.snmp.client``) and by the
trap receiver (``agent.snmp.traps``): pysnmp and ``cryptography`` cost ~11 MiB of RSS that
an agent polling v2c devices does not pay.

All devices share one ``SnmpEngine`` (one UDP socket, requests multiplexed), except that an
SNMPv3 user name used with two different key sets gets a second engine: pysnmp keeps one
USM user per user name and engine. OIDs are numeric and replies are read without MIB
lookups. Credentials become pysnmp auth data only in ``agent.snmp.auth``.

The values of SNMPv3 replies are read by ``agent.snmp.ber``, as v2c replies are: the polling
engines take each value apart only into its tag and contents octets, so a value of an odd
type (an Opaque that is not net-snmp's float, an NsapAddress, a tag no SMI defines, an
IpAddress of 5 octets) becomes None and is counted (``on_odd_value``) while the reply's
other values are used. pysnmp's own value types refuse such a value, and with it the whole
message, which it drops: the device looked unreachable ("timeout"). The trap receiver keeps
pysnmp's value types (``polling_engine``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pyasn1.type import namedtype, tag, tagmap, univ
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
from pysnmp.proto.mpmod.rfc3412 import SnmpV3MessageProcessingModel

from roomwatch.agent.config import SnmpCredential
from roomwatch.agent.snmp import ber
from roomwatch.agent.snmp.auth import auth_data, credential_key
from roomwatch.agent.snmp.errors import SnmpError
from roomwatch.agent.snmp.values import (
    END_OF_MIB,
    Counter,
    ReplyValue,
    SnmpValue,
    VarBinds,
    decode_text,
)

if TYPE_CHECKING:
    from roomwatch.agent.snmp.client import SetType, SnmpTarget

_SHARED_ENGINE = "shared"

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
_SET_TYPES: dict[str, Any] = {
    "integer": rfc1902.Integer32,
    "uinteger": rfc1902.Gauge32,
    "counter": rfc1902.Counter32,
    "octet_str": rfc1902.OctetString,
    "timeticks": rfc1902.TimeTicks,
    "object_id": rfc1902.ObjectIdentifier,
}
_ABSENT = (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView)


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


class _Contents(univ.Any):
    """A varbind value's contents octets, whatever its type; its tag says which.

    A tagged ANY, so that pyasn1 reads the contents as they are, primitive or constructed,
    but without ANY's catch-all for other tags, so that many can share one CHOICE."""

    @property
    def tagMap(self) -> tagmap.TagMap:
        try:
            return self._tag_map  # type: ignore[has-type]
        except AttributeError:
            self._tag_map = tagmap.TagMap({self.tagSet: self})
            return self._tag_map


def _any_value_types() -> namedtype.NamedTypes:
    """Every tag that fits in one identifier octet (BER's short form), as ``_Contents``;
    universal 0 is left out: it ends indefinite lengths."""
    classes = (tag.tagClassUniversal, tag.tagClassApplication, tag.tagClassContext,
               tag.tagClassPrivate)  # fmt: skip
    return namedtype.NamedTypes(
        *(
            namedtype.NamedType(
                f"tag-{tag_class | number:#04x}",
                _Contents(tagSet=tag.initTagSet(tag.Tag(tag_class, tag.tagFormatSimple, number))),
            )
            for tag_class in classes
            for number in range(31)
            if tag_class or number
        )
    )


class _AnyValue(univ.Choice):
    """A varbind value left undecoded, for ``ber.decode_value``."""

    componentType = _any_value_types()


@functools.cache
def _undecoded_v3_message() -> Any:
    """SNMPv3's message syntax with every VarBind value an ``_AnyValue``."""
    return _with_undecoded_values(SnmpV3MessageProcessingModel.SNMP_MSG_SPEC())


def _with_undecoded_values(spec: Any) -> Any:
    """A copy of a pysnmp message syntax whose every VarBind value is an ``_AnyValue``."""
    if isinstance(spec, rfc1905.VarBind):
        return spec.clone(
            componentType=namedtype.NamedTypes(
                namedtype.NamedType("name", rfc1902.ObjectName()),
                namedtype.NamedType("", _AnyValue()),
            )
        )
    inner = getattr(spec, "componentType", None)
    if isinstance(inner, namedtype.NamedTypes):
        return spec.clone(
            componentType=namedtype.NamedTypes(
                *(
                    type(named)(named.name, _with_undecoded_values(named.asn1Object))
                    for named in inner.namedTypes
                )
            )
        )
    if isinstance(spec, univ.SequenceOf) and inner is not None:
        return spec.clone(componentType=_with_undecoded_values(inner))
    return spec


def polling_engine(on_malformed: Callable[[], None] | None = None) -> SnmpEngine:
    """``new_engine`` whose SNMPv3 replies keep their values undecoded (module docstring).

    Not for the trap receiver: pysnmp answers an inform with the values it received, and
    its own value types are what it can encode."""
    engine = new_engine(on_malformed)
    v3 = engine.message_processing_subsystems[
        SnmpV3MessageProcessingModel.MESSAGE_PROCESSING_MODEL_ID
    ]
    # Each model has its own copy of the message syntax, as pysnmp's AbstractMessage-
    # ProcessingModel makes it, and decodes replies with it; it also fills it to encode
    # requests, whose values are pysnmp's own types (NULLs in a GET) and encode as before.
    v3._snmpMsgSpec = _undecoded_v3_message().clone()
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
    if isinstance(value, rfc1902.Opaque):  # not text: a value the poller cannot use
        return None
    if isinstance(value, univ.OctetString):
        return decode_text(value.asOctets())
    if isinstance(value, univ.ObjectIdentifier):
        return str(value)
    return None


def _reply_value(value: Any, on_odd_value: Callable[[], None] | None) -> ReplyValue:
    if isinstance(value, _Contents):
        first = value.tagSet[0]
        return ber.decode_value(first.tagClass | first.tagId, value.asOctets(), on_odd_value)
    return END_OF_MIB if isinstance(value, rfc1905.EndOfMibView) else to_python(value)


class PysnmpSession:
    """GET, GETBULK and SET through pysnmp engines; see the module docstring.

    Engines belong to the event loop they were first used in; used from another loop (a
    test calling ``asyncio.run`` twice), they are replaced.
    """

    def __init__(
        self,
        on_malformed: Callable[[], None] | None = None,
        on_odd_value: Callable[[], None] | None = None,
    ) -> None:
        self._on_malformed = on_malformed
        self._on_odd_value = on_odd_value
        self._engines: dict[str, SnmpEngine] = {}
        self._user_keys: dict[str, str] = {}  # SNMPv3 user name -> its keys in the shared engine
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine_lock = asyncio.Lock()
        self._transports: dict[tuple[str, str, int, float, int], UdpTransportTarget] = {}

    async def get(self, target: SnmpTarget, oids: list[str]) -> tuple[str | None, VarBinds]:
        """(errorStatus name or None, varbinds); SnmpError when there is no answer."""
        engine, transport = await self._session(target)
        reply = await get_cmd(
            engine,
            auth_data(target.credential),
            transport,
            ContextData(),
            *[ObjectType(ObjectIdentity(oid)) for oid in oids],
            lookupMib=False,
        )
        return _read(reply, self._on_odd_value)

    async def bulk(
        self, target: SnmpTarget, oids: list[str], repetitions: int
    ) -> tuple[str | None, VarBinds]:
        engine, transport = await self._session(target)
        reply = await bulk_cmd(
            engine,
            auth_data(target.credential),
            transport,
            ContextData(),
            0,
            repetitions,
            *[ObjectType(ObjectIdentity(oid)) for oid in oids],
            lookupMib=False,
        )
        return _read(reply, self._on_odd_value)

    async def set(
        self, target: SnmpTarget, values: Mapping[str, tuple[SetType, int | str]]
    ) -> str | None:
        """SET typed values; the errorStatus name, or None when the device took them."""
        var_binds = [
            ObjectType(ObjectIdentity(oid), _SET_TYPES[kind](value))
            for oid, (kind, value) in values.items()
        ]
        engine, transport = await self._session(target)
        reply = await set_cmd(
            engine,
            auth_data(target.credential),
            transport,
            ContextData(),
            *var_binds,
            lookupMib=False,
        )
        return _read(reply, self._on_odd_value)[0]

    def close(self) -> None:
        engines, self._engines, self._loop = self._engines, {}, None
        self._user_keys.clear()
        self._transports.clear()
        for engine in engines.values():
            # RuntimeError: its event loop is already closed, and with it the socket.
            with contextlib.suppress(RuntimeError):
                engine.close_dispatcher()

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
                engine = await asyncio.to_thread(polling_engine, self._on_malformed)
                self._engines[engine_key] = engine
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


def _read(
    reply: tuple[Any, Any, Any, Any], on_odd_value: Callable[[], None] | None
) -> tuple[str | None, VarBinds]:
    """errorStatus name (None: noError) and varbinds; SnmpError for no usable answer."""
    indication, status = reply[0], reply[1]
    if indication:
        for kind, reason in _INDICATION_REASONS.items():
            if isinstance(indication, kind):
                raise SnmpError(reason)
        raise SnmpError(str(indication))
    if status:
        return str(status.prettyPrint()) if hasattr(status, "prettyPrint") else str(status), []
    return None, [(str(name), _reply_value(value, on_odd_value)) for name, value in reply[3]]

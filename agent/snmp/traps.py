"""The SNMP trap listener: v1, v2c and v3 notifications (traps and informs) from the room's
devices become ``Event``s, gathered into batches the runner spools as ``EventsMessage``s.

pysnmp's notification receiver runs on the agent's event loop, on its own engine and UDP
socket (``snmp.traps.listen_address``:``port``, 1162 by default: 162 needs privileges).
Who may send: the credentials under ``snmp.credentials`` (all, or those named in
``snmp.traps.credentials``): a v1/v2c trap must carry one of their communities, a v3 trap
one of their users with the right keys. A v3 trap's keys are localized to the sender's
engine ID, which the listener learns from the first authentic trap of each engine (see
``_LearningUsm``), so no engine IDs need configuring.

The sending device is found by the trap's source address among the configured devices'
addresses; where several devices share one (a simulator, a NAT), the credential the trap
came with decides. The device's profile (``traps:``) maps the notification to an event;
an unmapped one becomes a generic ``trap`` event. Traps from unknown sources, with wrong
credentials, or beyond ``max_pending`` are dropped and counted, and logged once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from pyasn1.codec.ber import decoder
from pysnmp.carrier.asyncio.dgram import udp, udp6
from pysnmp.entity import config as lcd
from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import ntfrcv
from pysnmp.proto.secmod.rfc3414.service import SnmpUSMSecurityModel, UsmSecurityParameters

from roomwatch.agent import wire
from roomwatch.agent.config import AgentConfig, DeviceConfig, SnmpConfig, SnmpCredential
from roomwatch.agent.errors import AgentError
from roomwatch.agent.snmp.auth import accept_community, accept_user, credential_key
from roomwatch.agent.snmp.profile import Profile, ProfileRegistry
from roomwatch.agent.snmp.pysnmp_path import new_engine, to_python
from roomwatch.agent.snmp.trapspec import trap_event, trap_oid_of
from roomwatch.agent.snmp.values import SnmpValue

log = logging.getLogger(__name__)

MAX_EVENTS_PER_MESSAGE = 500
MAX_LEARNED_ENGINES = 1024  # bounds the keys an unauthenticated flood can make us localize
MAX_LOGGED_SOURCES = 256
_REJECTION_COUNTERS = (
    ("__SNMPv2-MIB", "snmpInBadCommunityNames"),
    ("__SNMPv2-MIB", "snmpInASNParseErrs"),
    ("__SNMPv2-MIB", "snmpInBadVersions"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsWrongDigests"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownUserNames"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsDecryptionErrors"),
    ("__SNMP-USER-BASED-SM-MIB", "usmStatsUnsupportedSecLevels"),
)

ProfileOf = Callable[[str], Profile | None]


class TrapListenerError(AgentError):
    """The listener cannot receive traps (e.g. its port is taken or privileged)."""


@dataclass
class TrapStats:
    """The listener's counters, cumulative since start; reported as ``agent`` metrics."""

    traps_received: int = 0
    traps_unknown: int = 0  # no profile maps the notification: published as a generic event
    traps_unresolved: int = 0  # no configured device sent it: dropped
    traps_rejected: int = 0  # wrong community, user or key: dropped by pysnmp
    traps_dropped: int = 0  # more than max_pending events waiting

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class TrapListener:
    """Receives traps on one UDP port and hands out events in batches (``next_batch``)."""

    def __init__(
        self,
        snmp: SnmpConfig,
        devices: Sequence[DeviceConfig],
        registry: ProfileRegistry,
        profile_of: ProfileOf | None = None,
        *,
        now: Callable[[], datetime] = wire.now,
    ) -> None:
        self._snmp = snmp
        self._config = snmp.traps
        self._devices = list(devices)
        self._registry = registry
        self._profile_of = profile_of
        self._now = now
        self._stats = TrapStats()
        self._pending: list[wire.Event] = []
        self._ready = asyncio.Event()
        self._engine: SnmpEngine | None = None
        self._sock: socket.socket | None = None
        self._by_address: dict[str, list[DeviceConfig]] = {}
        self._credentials_of: dict[str, set[str]] = {}  # security name -> credential names
        self._logged_sources: set[str] = set()
        self._overflowing = False
        self._malformed = 0
        self._rejected_before = 0  # by pysnmp's counters of engines closed (reloads)
        self.address: tuple[str, int] | None = None
        """Where the listener receives, once started (the bound port when port 0 was asked)."""

    async def start(self) -> None:
        """Bind the port and start receiving; TrapListenerError says why it cannot."""
        if self._engine is not None:
            return
        sock = self._sock = _bind(self._config.listen_address, self._config.port)
        self.address = sock.getsockname()[:2]
        try:
            self._by_address = await _addresses(self._devices)
            self._engine = self._listening_engine(sock)
        except BaseException:
            self.close()
            raise
        log.info("receiving SNMP traps on %s:%d", *self.address)

    def _listening_engine(self, sock: socket.socket) -> SnmpEngine:
        engine = new_engine(on_malformed=self._count_malformed)
        users = self._accept_credentials(engine)
        engine.security_models[_LearningUsm.SECURITY_MODEL_ID] = _LearningUsm(users)
        if sock.family == socket.AF_INET6:
            transport: Any = udp6.Udp6Transport().open_server_mode(sock=sock)
            lcd.add_transport(engine, udp6.DOMAIN_NAME, transport)
        else:
            transport = udp.UdpTransport().open_server_mode(sock=sock)
            lcd.add_transport(engine, udp.DOMAIN_NAME, transport)
        ntfrcv.NotificationReceiver(engine, self._received)
        return engine

    async def reconfigure(self, config: AgentConfig, poller: object | None) -> None:
        """Listen again with a reloaded config's settings, devices and credentials (traps
        arriving during the switch are lost). Logs, never raises, when it cannot listen."""
        self._snmp, self._config, self._devices = config.snmp, config.snmp.traps, config.devices
        self._profile_of = getattr(poller, "profile_of", None)
        self.close()
        if not self._config.enabled:
            log.info("SNMP trap listener stopped")
            return
        try:
            await self.start()
        except TrapListenerError as exc:
            log.error("%s", exc)

    async def next_batch(self) -> list[wire.Event]:
        """Wait for events, gather those arriving within ``batch_s``, return them."""
        await self._ready.wait()
        await asyncio.sleep(self._config.batch_s)
        return self.take_pending()

    def take_pending(self) -> list[wire.Event]:
        """The events waiting now (at most one message's worth), without waiting."""
        batch = self._pending[:MAX_EVENTS_PER_MESSAGE]
        del self._pending[:MAX_EVENTS_PER_MESSAGE]
        if not self._pending:
            self._ready.clear()
            self._overflowing = False
        return batch

    def counters(self) -> dict[str, int]:
        current = _rejections(self._engine) if self._engine is not None else 0
        self._stats.traps_rejected = self._malformed + self._rejected_before + current
        return self._stats.as_dict()

    def _count_malformed(self) -> None:
        self._malformed += 1

    def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            self._rejected_before += _rejections(engine)
            engine.close_dispatcher()
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()  # now, not on the loop's next turn: a reload binds the port again

    # -- receiving ---------------------------------------------------------------------

    def _accept_credentials(self, engine: SnmpEngine) -> dict[bytes, SnmpCredential]:
        """Register who may send; returns the v3 users by name (for ``_LearningUsm``)."""
        names = self._config.credentials
        if names is None:
            names = list(self._snmp.credentials)
        communities: dict[str, str] = {}  # credential_key of a community -> its security name
        users: dict[bytes, SnmpCredential] = {}
        for name in names:
            credential = self._snmp.credentials[name]
            if credential.version == "v2c":
                community = credential_key(credential)  # equal for equal communities
                if community not in communities:
                    communities[community] = f"community-{len(communities) + 1}"
                    accept_community(engine, credential, communities[community])
                security_name = communities[community]
            else:
                username = credential.username or ""
                first = users.setdefault(username.encode(), credential)
                if first is credential:
                    accept_user(engine, credential, None)  # informs: our own engine ID
                elif credential_key(first) != credential_key(credential):
                    log.warning(
                        "credentials %r: SNMPv3 user %r has other keys in another credential; "
                        "traps from this user are accepted with those keys only",
                        name,
                        username,
                    )
                    continue
                security_name = username
            self._credentials_of.setdefault(security_name, set()).add(name)
        return users

    def _received(
        self,
        engine: SnmpEngine,
        _state: Any,
        _context_engine_id: Any,
        _context_name: Any,
        var_binds: Sequence[tuple[Any, Any]],
        _cb_ctx: Any,
    ) -> None:
        try:
            request = engine.observer.get_execution_context("rfc3412.receiveMessage:request")
            source = _source_ip(request["transportAddress"])
            security_name = str(request.get("securityName", ""))
            self._handle(source, security_name, var_binds)
        except Exception:  # a trap nobody foresaw must not stop the listener
            log.exception("could not handle a trap")

    def _handle(self, source: str, security_name: str, var_binds: Sequence[Any]) -> None:
        self._stats.traps_received += 1
        varbinds: list[tuple[str, SnmpValue]] = []
        for name, value in var_binds:
            converted = to_python(value)
            if converted is not None:
                varbinds.append((str(name), converted))
        device = self._resolve(source, security_name)
        if device is None:
            self._stats.traps_unresolved += 1
            self._log_source_once(source)
            return
        trap_oid = trap_oid_of(varbinds)
        profile = self._profile_of(device.id) if self._profile_of else None
        spec = (profile.trap(trap_oid) if profile else None) or self._registry.trap(trap_oid)
        if spec is None:
            self._stats.traps_unknown += 1
        self._enqueue(trap_event(device.id, varbinds, spec, self._now()))

    def _resolve(self, source: str, security_name: str) -> DeviceConfig | None:
        """The device at ``source``; several there: the one whose credential the trap used."""
        at_source = self._by_address.get(source, [])
        if len(at_source) == 1:
            return at_source[0]
        names = self._credentials_of.get(security_name, set())
        using = [d for d in at_source if d.credentials in names]
        return using[0] if len(using) == 1 else None

    def _enqueue(self, event: wire.Event) -> None:
        if len(self._pending) >= self._config.max_pending:
            self._stats.traps_dropped += 1
            if not self._overflowing:
                log.warning(
                    "more than %d trap events waiting; dropping new ones until they are sent",
                    self._config.max_pending,
                )
            self._overflowing = True
            return
        self._pending.append(event)
        self._ready.set()

    def _log_source_once(self, source: str) -> None:
        if source in self._logged_sources or len(self._logged_sources) >= MAX_LOGGED_SOURCES:
            return
        self._logged_sources.add(source)
        log.warning("trap from %s matches no configured device; ignored", source)


class _LearningUsm(SnmpUSMSecurityModel):
    """pysnmp's USM, plus: a v3 notification from an engine not seen before gets its user
    added with the keys localized to that engine before pysnmp checks it. A trap with wrong
    keys still fails authentication; only the engine ID is taken on trust (RFC 3414 has the
    receiver know it in advance, which would mean configuring one per device)."""

    def __init__(self, users: dict[bytes, SnmpCredential]) -> None:
        super().__init__()
        self._users = users
        self._learned: set[tuple[bytes, bytes]] = set()

    def process_incoming_message(
        self,
        engine: Any,
        message_processing_model: Any,
        max_message_size: Any,
        security_parameters: Any,
        *rest: Any,
    ) -> Any:
        self._learn(engine, security_parameters)
        return super().process_incoming_message(
            engine, message_processing_model, max_message_size, security_parameters, *rest
        )

    def _learn(self, engine: Any, security_parameters: Any) -> None:
        try:
            parsed, _rest = decoder.decode(security_parameters, asn1Spec=UsmSecurityParameters())
            engine_id, username = bytes(parsed[0]), bytes(parsed[3])
        except Exception:  # malformed: pysnmp itself rejects the message next
            return
        credential = self._users.get(username)
        if credential is None or not 4 < len(engine_id) < 33:
            return
        if (engine_id, username) in self._learned or len(self._learned) >= MAX_LEARNED_ENGINES:
            return
        accept_user(engine, credential, engine_id)
        self._learned.add((engine_id, username))


def _bind(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((address, port))
    except OSError as exc:
        sock.close()
        hint = (
            " (ports below 1024 need CAP_NET_BIND_SERVICE; see docs/snmp.md)"
            if (port < 1024)
            else ""
        )
        raise TrapListenerError(
            f"cannot receive SNMP traps on {address}:{port}: {exc.strerror}{hint}"
        ) from None
    sock.setblocking(False)
    return sock


async def _addresses(devices: Sequence[DeviceConfig]) -> dict[str, list[DeviceConfig]]:
    """Configured devices by IP address (host names resolved now)."""
    loop = asyncio.get_running_loop()
    found: dict[str, list[DeviceConfig]] = {}
    for device in devices:
        try:
            infos = await loop.getaddrinfo(device.address, None, type=socket.SOCK_DGRAM)
        except OSError:
            log.warning("device %s: %s not resolved; its traps are ignored", device.id,
                        device.address)  # fmt: skip
            continue
        for ip in {_source_ip((info[4][0], 0)) for info in infos}:
            found.setdefault(ip, []).append(device)
    return found


def _source_ip(transport_address: Any) -> str:
    """The IP of a transport address, an IPv4-mapped IPv6 one as plain IPv4."""
    ip = ipaddress.ip_address(str(transport_address[0]).split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _rejections(engine: SnmpEngine) -> int:
    builder = engine.get_mib_builder()
    total = 0
    for module, symbol in _REJECTION_COUNTERS:
        try:
            (counter,) = builder.import_symbols(module, symbol)
        except Exception:  # a counter this pysnmp does not keep
            continue
        total += int(counter.syntax)
    return total

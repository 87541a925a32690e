"""SNMPv2c GET and GETBULK over one UDP socket shared by every v2c device (``agent.snmp.ber``
encodes and decodes).

A reply is matched to its request by request-id, and must come from the address the request
went to and carry the same community; anything else is dropped and counted (``unmatched``),
as is a datagram that is not a well-formed Response (``malformed``, also reported to
``on_malformed``). A value of a type the poller cannot use is read as absent and counted
(``odd_values``, ``on_odd_value``); the rest of its reply is used. A request is sent again
after ``timeout_s`` without an answer, ``retries`` times, then fails with
``SnmpError("timeout")``. Communities are only ever in the datagrams:
nothing here logs, and no error names one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, cast

from roomwatch.agent.snmp import ber
from roomwatch.agent.snmp.auth import community_octets
from roomwatch.agent.snmp.errors import SnmpError
from roomwatch.agent.snmp.values import VarBinds

if TYPE_CHECKING:
    from roomwatch.agent.snmp.client import SnmpTarget

Address = tuple[str, int]
_MAX_REQUEST_ID = 2**31 - 1


@dataclass
class DroppedReplies:
    """Datagrams dropped by a session's sockets since it was made."""

    malformed: int = 0
    unmatched: int = 0
    odd_values: int = 0  # values of a type the poller cannot use, read as absent (ber)


class Reply(NamedTuple):
    error_status: int
    varbinds: VarBinds


class _Pending:
    __slots__ = ("address", "community", "future", "message", "retries_left", "timeout_s", "timer")

    def __init__(
        self,
        future: asyncio.Future[Reply],
        address: Address,
        community: bytes,
        message: bytes,
        retries: int,
        timeout_s: float,
    ) -> None:
        self.future = future
        self.address = address
        self.community = community
        self.message = message
        self.retries_left = retries
        self.timeout_s = timeout_s
        self.timer: asyncio.TimerHandle | None = None


class UdpRequests(asyncio.DatagramProtocol):
    """Requests in flight on one socket, by request-id; see the module docstring."""

    def __init__(
        self,
        dropped: DroppedReplies,
        on_malformed: Callable[[], None] | None = None,
        on_odd_value: Callable[[], None] | None = None,
    ) -> None:
        self._dropped = dropped
        self._on_malformed = on_malformed
        self._on_odd_value = on_odd_value
        self._transport: asyncio.DatagramTransport | None = None
        self._pending: dict[int, _Pending] = {}
        self._next_id = random.randint(1, _MAX_REQUEST_ID)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def new_request_id(self) -> int:
        request_id = self._next_id
        while request_id in self._pending:
            request_id = request_id % _MAX_REQUEST_ID + 1
        self._next_id = request_id % _MAX_REQUEST_ID + 1
        return request_id

    async def exchange(
        self,
        request_id: int,
        message: bytes,
        address: Address,
        community: bytes,
        timeout_s: float,
        retries: int,
    ) -> Reply:
        """Send ``message`` (which carries ``request_id``) and wait for its Response."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise SnmpError("client closed")
        loop = asyncio.get_running_loop()
        pending = _Pending(loop.create_future(), address, community, message, retries, timeout_s)
        self._pending[request_id] = pending
        transport.sendto(message, address)
        pending.timer = loop.call_later(timeout_s, self._no_answer, request_id)
        try:
            return await pending.future
        finally:
            pending.timer.cancel()
            if self._pending.get(request_id) is pending:
                del self._pending[request_id]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        try:
            header = ber.parse_response(data)
        except ber.MalformedMessage:
            self._count_malformed()
            return
        pending = self._pending.get(header.request_id)
        if pending is None or addr != pending.address or header.community != pending.community:
            self._dropped.unmatched += 1  # late (after a retry was answered), foreign or spoofed
            return
        try:
            varbinds = ber.decode_varbinds(
                data, header.varbinds_start, header.varbinds_end, self._count_odd_value
            )
        except ber.MalformedMessage:
            self._count_malformed()  # like a lost datagram: a retry may get a good one
            return
        del self._pending[header.request_id]
        if not pending.future.done():
            pending.future.set_result(Reply(header.error_status, varbinds))

    def error_received(self, exc: Exception) -> None:
        """An ICMP error for some request: which one is not known; it times out."""

    def connection_lost(self, exc: Exception | None) -> None:
        pending, self._pending = self._pending, {}
        for request in pending.values():
            if request.timer is not None:
                request.timer.cancel()
            if not request.future.done():
                request.future.set_exception(SnmpError("client closed"))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _no_answer(self, request_id: int) -> None:
        pending = self._pending.get(request_id)
        if pending is None or self._transport is None:
            return
        if pending.retries_left > 0:
            pending.retries_left -= 1
            self._transport.sendto(pending.message, pending.address)
            loop = asyncio.get_running_loop()
            pending.timer = loop.call_later(pending.timeout_s, self._no_answer, request_id)
            return
        del self._pending[request_id]
        if not pending.future.done():
            pending.future.set_exception(SnmpError("timeout"))

    def _count_malformed(self) -> None:
        self._dropped.malformed += 1
        if self._on_malformed is not None:
            self._on_malformed()

    def _count_odd_value(self) -> None:
        self._dropped.odd_values += 1
        if self._on_odd_value is not None:
            self._on_odd_value()


class V2cSession:
    """GET and GETBULK for v2c targets; the socket is opened on first use, in the running
    event loop (used from another loop, as a test calling ``asyncio.run`` twice does, it is
    replaced)."""

    def __init__(
        self,
        on_malformed: Callable[[], None] | None = None,
        on_odd_value: Callable[[], None] | None = None,
    ) -> None:
        self._on_malformed = on_malformed
        self._on_odd_value = on_odd_value
        self._requests: UdpRequests | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Lock | None = None
        self._addresses: dict[Address, Address] = {}
        self._headers: dict[bytes, bytes] = {}
        self.dropped = DroppedReplies()

    async def get(self, target: SnmpTarget, oids: list[str]) -> Reply:
        requests, address = await self._open(target)
        community = community_octets(target.credential)
        request_id = requests.new_request_id()
        message = ber.encode_get(self._header(community), request_id, oids)
        return await requests.exchange(
            request_id, message, address, community, target.timeout_s, target.retries
        )

    async def bulk(self, target: SnmpTarget, oids: list[str], repetitions: int) -> Reply:
        requests, address = await self._open(target)
        community = community_octets(target.credential)
        request_id = requests.new_request_id()
        message = ber.encode_bulk(self._header(community), request_id, oids, repetitions)
        return await requests.exchange(
            request_id, message, address, community, target.timeout_s, target.retries
        )

    def close(self) -> None:
        requests, self._requests, self._loop = self._requests, None, None
        self._opening = None
        if requests is not None:
            # RuntimeError: its event loop is closed already, and with it the socket.
            with contextlib.suppress(RuntimeError):
                requests.close()

    async def _open(self, target: SnmpTarget) -> tuple[UdpRequests, Address]:
        loop = asyncio.get_running_loop()
        requests = self._requests
        if requests is None or self._loop is not loop:
            requests = await self._open_socket(loop)
        address = self._addresses.get((target.host, target.port))
        if address is None:
            address = await _resolve(loop, target.host, target.port)
            self._addresses[(target.host, target.port)] = address
        return requests, address

    async def _open_socket(self, loop: asyncio.AbstractEventLoop) -> UdpRequests:
        if self._loop is not loop:
            self.close()
            self._loop, self._opening = loop, asyncio.Lock()
        assert self._opening is not None
        async with self._opening:
            if self._requests is None:
                requests = UdpRequests(self.dropped, self._on_malformed, self._on_odd_value)
                await loop.create_datagram_endpoint(
                    lambda: requests, local_addr=("0.0.0.0", 0), family=socket.AF_INET
                )
                self._requests = requests
            return self._requests

    def _header(self, community: bytes) -> bytes:
        header = self._headers.get(community)
        if header is None:
            header = self._headers[community] = ber.message_header(community)
        return header


async def _resolve(loop: asyncio.AbstractEventLoop, host: str, port: int) -> Address:
    """An IPv4 address to send to (as pysnmp's UdpTransportTarget: IPv4 only)."""
    try:
        socket.inet_pton(socket.AF_INET, host)
    except OSError:
        pass
    else:
        return host, port
    try:
        found = await loop.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
    except OSError:
        raise SnmpError("address not resolved") from None
    if not found:
        raise SnmpError("address not resolved")
    ip, resolved_port = found[0][4][:2]
    return str(ip), int(resolved_port)

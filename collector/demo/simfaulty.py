"""Badly behaved SNMP devices for robustness tests and the demo, each a UDP server on a free
port of 127.0.0.1 served by its own thread (so it answers while the caller blocks):

- ``SlowProxy``: in front of a real device; every answer is held back ``delay_s``, and
  changed on its way by ``rewrite`` if one is given (a value of a type the device's own agent
  cannot serve, in an unsigned message).
- ``FaultyDevice.garbage(mode)``: answers every request, uselessly: ``random`` bytes, a
  ``truncated`` reply, or a reply with the ``wrong_request_id``.
- ``FaultyDevice.broken_table(mode)``: a switch that identifies itself properly but whose
  table walks never end: ``stuck`` repeats the OID it was asked for (OIDs not increasing),
  ``endless`` returns ever more rows.

Only SNMPv2c is spoken. ``stop()`` (or leaving the ``with`` block) closes the socket.
"""

from __future__ import annotations

import heapq
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api, rfc1902, rfc1905

from roomwatch.agent.config import DeviceConfig

HOST = "127.0.0.1"
GarbageMode = Literal["random", "truncated", "wrong_request_id"]
TableMode = Literal["stuck", "endless"]
_V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
_SWITCH_OID = "1.3.6.1.4.1.9.1.1"  # a Cisco sysObjectID: the switch profile is chosen
_TICK_S = 0.02

Answer = Callable[[bytes], bytes | None]


class _UdpServer:
    """A socket on a free port and a thread that runs ``_serve_once`` until stopped."""

    name = "udp"

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((HOST, 0))
        self._sock.setblocking(False)
        self.port = int(self._sock.getsockname()[1])
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sim-{self.name}", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return HOST, self.port

    def device_config(self, device_id: str, kind: str = "switch", **fields: Any) -> DeviceConfig:
        return DeviceConfig(id=device_id, kind=kind, address=HOST, port=self.port, **fields)

    def start(self) -> _UdpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._close()

    def __enter__(self) -> _UdpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._serve_once()

    def _serve_once(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        self._sock.close()


class FaultyDevice(_UdpServer):
    """Answers each datagram with ``answer(request)`` (None: no answer)."""

    name = "faulty"

    def __init__(self, answer: Answer) -> None:
        super().__init__()
        self._answer = answer
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._sock, selectors.EVENT_READ)
        self.requests = 0

    @classmethod
    def garbage(cls, mode: GarbageMode) -> FaultyDevice:
        return cls(lambda request: _garbage(mode, request))

    @classmethod
    def broken_table(cls, mode: TableMode) -> FaultyDevice:
        returned: set[str] = set()  # OIDs this device has answered with
        return cls(lambda request: _broken_table(mode, request, returned))

    def _serve_once(self) -> None:
        if not self._selector.select(timeout=_TICK_S):
            return
        try:
            request, peer = self._sock.recvfrom(65535)
        except BlockingIOError:
            return
        self.requests += 1
        try:
            reply = self._answer(request)
        except Exception:  # a request this fake cannot parse: no answer, like a real one
            reply = None
        if reply is not None:
            self._sock.sendto(reply, peer)

    def _close(self) -> None:
        self._selector.close()
        super()._close()


class SlowProxy(_UdpServer):
    """Forwards requests to ``upstream`` and holds every answer back for ``delay_s``; each
    answer goes back as ``rewrite`` makes it."""

    name = "slow"

    def __init__(
        self,
        upstream: tuple[str, int],
        delay_s: float,
        rewrite: Callable[[bytes], bytes] | None = None,
    ) -> None:
        super().__init__()
        self.upstream, self.delay_s, self.rewrite = upstream, delay_s, rewrite
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._sock, selectors.EVENT_READ, data=None)
        self._sides: dict[tuple[str, int], socket.socket] = {}  # client -> its upstream socket
        self._due: list[tuple[float, int, bytes, tuple[str, int]]] = []
        self._sent = 0

    def _serve_once(self) -> None:
        timeout_s = _TICK_S
        if self._due:
            timeout_s = max(0.0, min(timeout_s, self._due[0][0] - time.monotonic()))
        for key, _events in self._selector.select(timeout=timeout_s):
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            try:
                data, peer = sock.recvfrom(65535)
            except BlockingIOError:
                continue
            if key.data is None:  # a client's request: pass it on at once
                self._side_for(peer).sendto(data, self.upstream)
            else:  # the device's answer: hold it back
                if self.rewrite is not None:
                    data = self.rewrite(data)
                self._sent += 1
                heapq.heappush(self._due, (time.monotonic() + self.delay_s, self._sent, data,
                                           key.data))  # fmt: skip
        while self._due and self._due[0][0] <= time.monotonic():
            _due_s, _n, data, client = heapq.heappop(self._due)
            self._sock.sendto(data, client)

    def _side_for(self, client: tuple[str, int]) -> socket.socket:
        side = self._sides.get(client)
        if side is None:
            side = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            side.bind((HOST, 0))
            side.setblocking(False)
            self._selector.register(side, selectors.EVENT_READ, data=client)
            self._sides[client] = side
        return side

    def _close(self) -> None:
        for side in self._sides.values():
            side.close()
        self._selector.close()
        super()._close()


def _garbage(mode: GarbageMode, request: bytes) -> bytes:
    if mode == "random":
        return os.urandom(64)
    message, pdu = _decode(request)
    reply, reply_pdu = _reply_to(message, pdu)
    _V2C.apiPDU.set_varbinds(
        reply_pdu, [(oid, rfc1902.Integer32(1)) for oid, _ in _V2C.apiPDU.get_varbinds(pdu)]
    )
    if mode == "wrong_request_id":
        _V2C.apiPDU.set_request_id(reply_pdu, int(_V2C.apiPDU.get_request_id(pdu)) + 1)
    encoded = bytes(encoder.encode(reply))
    return encoded[: len(encoded) // 2] if mode == "truncated" else encoded


def _broken_table(mode: TableMode, request: bytes, returned: set[str]) -> bytes:
    message, pdu = _decode(request)
    reply, reply_pdu = _reply_to(message, pdu)
    asked = [str(oid) for oid, _ in _V2C.apiPDU.get_varbinds(pdu)]
    if pdu.tagSet == _V2C.GetBulkRequestPDU.tagSet:
        repetitions = int(_V2C.apiBulkPDU.get_max_repetitions(pdu))
        varbinds = [
            (_next_row(oid, row, mode, returned), rfc1902.Integer32(row))
            for row in range(1, repetitions + 1)
            for oid in asked
        ]
        returned.update(str(oid) for oid, _ in varbinds)
    else:
        varbinds = [(oid, _system_value(oid)) for oid in asked]
    _V2C.apiPDU.set_varbinds(reply_pdu, varbinds)
    return bytes(encoder.encode(reply))


def _next_row(asked: str, row: int, mode: TableMode, returned: set[str]) -> str:
    """``endless``: always further rows under what was asked. ``stuck``: a first row for a
    column, then that same OID again and again (the walk does not move on)."""
    if mode == "stuck" and asked in returned:
        return asked
    return f"{asked}.{row}"


def _system_value(oid: str) -> Any:
    values = {
        "1.3.6.1.2.1.1.1.0": rfc1902.OctetString("Broken-table switch (simulated)"),
        "1.3.6.1.2.1.1.2.0": rfc1902.ObjectIdentifier(_SWITCH_OID),
        "1.3.6.1.2.1.1.3.0": rfc1902.TimeTicks(100),
        "1.3.6.1.2.1.1.5.0": rfc1902.OctetString("broken"),
    }
    return values.get(oid, rfc1905.noSuchObject)


def _decode(request: bytes) -> tuple[Any, Any]:
    message, _rest = decoder.decode(request, asn1Spec=_V2C.Message())
    return message, _V2C.apiMessage.get_pdu(message)


def _reply_to(message: Any, pdu: Any) -> tuple[Any, Any]:
    reply = _V2C.apiMessage.get_response(message)
    return reply, _V2C.apiMessage.get_pdu(reply)


__all__: Sequence[str] = ("FaultyDevice", "SlowProxy")

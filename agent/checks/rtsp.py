"""A tiny RTSP/1.0 client: DESCRIBE a stream and tell whether it carries video.

What the check does (RFC 2326 / RFC 7826): one ``DESCRIBE`` with ``Accept:
application/sdp``; on ``401`` it answers the challenge once, with Digest (RFC 2617 / 7616;
cameras and encoders use MD5) or Basic, on the same connection when the server keeps it
open. ``200`` with an SDP that has an ``m=video`` line means the stream is up.

Outcomes: stream up; ``no video track`` (200 without ``m=video``); ``no such stream``
(404); ``auth_failed`` (401 after answering the challenge; the stream's state is unknown,
so no ``stream_up`` is reported); down (timeout, refused). The password is never part of a
message, a log line or a printed URL.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import SecretStr

from roomwatch.agent import __version__
from roomwatch.agent.checks.base import CheckResult, Stopwatch, redact_url

DEFAULT_PORT = 554
STREAM_UP_METRIC = "stream_up"
_MAX_HEADER_BYTES = 64 * 1024
_MAX_BODY_BYTES = 256 * 1024
_PARAM = re.compile(r'([\w-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]+)')
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


class RtspProtocolError(Exception):
    """The peer answered, but not in RTSP."""


@dataclass
class RtspResponse:
    status: int
    reason: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


@dataclass(frozen=True)
class Credentials:
    username: str
    password: SecretStr


async def check_rtsp(url: str, credentials: Credentials | None, timeout_s: float) -> CheckResult:
    """DESCRIBE ``url`` (without user info) within ``timeout_s`` and judge the answer."""
    shown = redact_url(url)
    try:
        urlsplit(url).port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        # rtsp://admin:pa/ss@cam/s: a "/" in a password makes "pa" the port. Not shown: the
        # error text would repeat the password.
        return _down(f"rtsp {shown}: the URL's port is not a number from 0 to 65535")
    watch = Stopwatch()
    try:
        response = await asyncio.wait_for(_describe(url, credentials), timeout_s)
    except TimeoutError:
        return _down(f"rtsp {shown}: timeout after {timeout_s:g} s")
    except ConnectionRefusedError:
        return _down(f"rtsp {shown}: connection refused")
    except RtspProtocolError as exc:
        return _judged(False, None, f"rtsp {shown}: {exc}", stream_up=0.0)
    except OSError as exc:
        return _down(f"rtsp {shown}: {exc.strerror or type(exc).__name__}")
    rtt_ms = watch.ms()
    status = response.status
    if status == 200:
        if _has_video(response.body):
            return _judged(True, rtt_ms, None, stream_up=1.0)
        return _judged(False, rtt_ms, f"rtsp {shown}: no video track in the SDP", stream_up=0.0)
    if status == 401:
        if credentials is None:
            return _judged(False, rtt_ms, f"rtsp {shown}: needs credentials (401)")
        return _judged(False, rtt_ms, f"rtsp {shown}: auth_failed (401 after authenticating)")
    if status == 404:
        return _judged(False, rtt_ms, f"rtsp {shown}: no such stream (404)", stream_up=0.0)
    text = f"rtsp {shown}: status {status} {response.reason}".rstrip()
    return _judged(False, rtt_ms, text, stream_up=0.0)


def _down(error: str) -> CheckResult:
    return CheckResult("rtsp", reached=False, ok=False, error=error)


def _judged(
    ok: bool, rtt_ms: float | None, error: str | None, stream_up: float | None = None
) -> CheckResult:
    metrics = {} if stream_up is None else {STREAM_UP_METRIC: stream_up}
    return CheckResult("rtsp", reached=True, ok=ok, rtt_ms=rtt_ms, metrics=metrics, error=error)


def _has_video(sdp: bytes) -> bool:
    return any(line.strip().startswith(b"m=video") for line in sdp.splitlines())


class _Connection:
    """One TCP connection to the RTSP server, reopened when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.cseq = 0

    async def exchange(self, method: str, uri: str, headers: dict[str, str]) -> RtspResponse:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None and self.writer is not None
        self.cseq += 1
        lines = [f"{method} {uri} RTSP/1.0", f"CSeq: {self.cseq}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        response = await _read_response(self.reader)
        if (response.header("connection") or "").lower() == "close":
            self.close()
        return response

    def close(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self.writer.close()
        self.reader = self.writer = None


async def _describe(url: str, credentials: Credentials | None) -> RtspResponse:
    parts = urlsplit(url)
    uri = redact_url(url)
    connection = _Connection(parts.hostname or "", parts.port or DEFAULT_PORT)
    headers = {"Accept": "application/sdp", "User-Agent": f"roomwatch/{__version__}"}
    try:
        response = await connection.exchange("DESCRIBE", uri, headers)
        if response.status != 401 or credentials is None:
            return response
        challenges = response.headers.get("www-authenticate", [])
        authorization = authorization_header(challenges, credentials, "DESCRIBE", uri)
        if authorization is None:
            return response
        return await connection.exchange("DESCRIBE", uri, {**headers, **authorization})
    finally:
        connection.close()


async def _read_response(reader: asyncio.StreamReader) -> RtspResponse:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        raise RtspProtocolError("the server closed the connection without an answer") from None
    except asyncio.LimitOverrunError:
        raise RtspProtocolError("answer headers too long") from None
    if len(head) > _MAX_HEADER_BYTES:
        raise RtspProtocolError("answer headers too long")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    match = re.match(r"RTSP/\d\.\d (\d{3})\s*(.*)$", status_line)
    if match is None:
        raise RtspProtocolError("not an RTSP answer")
    headers: dict[str, list[str]] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    response = RtspResponse(int(match.group(1)), match.group(2).strip(), headers)
    length_text = response.header("content-length") or "0"
    if not length_text.isdigit():
        raise RtspProtocolError("bad Content-Length")
    length = int(length_text)
    if length > _MAX_BODY_BYTES:
        raise RtspProtocolError(f"SDP of {length} bytes is too large")
    if length:
        try:
            response.body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            raise RtspProtocolError("the answer's body was cut short") from None
    return response


def authorization_header(
    challenges: list[str], credentials: Credentials, method: str, uri: str
) -> dict[str, str] | None:
    """The ``Authorization`` answering the strongest challenge we speak (Digest, then Basic)."""
    parsed = [_parse_challenge(c) for c in challenges]
    for scheme, params in parsed:
        algorithm = params.get("algorithm", "MD5").upper()
        if scheme == "digest" and algorithm.removesuffix("-SESS") in _HASHES and "nonce" in params:
            return {"Authorization": _digest(params, algorithm, credentials, method, uri)}
    if any(scheme == "basic" for scheme, _ in parsed):
        pair = f"{credentials.username}:{credentials.password.get_secret_value()}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    return None


def _parse_challenge(challenge: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = challenge.strip().partition(" ")
    params = {
        m.group(1).lower(): m.group(3) if m.group(3) is not None else m.group(2)
        for m in _PARAM.finditer(rest)
    }
    return scheme.lower(), params


def _digest(
    params: dict[str, str], algorithm: str, credentials: Credentials, method: str, uri: str
) -> str:
    hash_name = algorithm.removesuffix("-SESS")

    def h(text: str) -> str:
        return _HASHES[hash_name](text.encode()).hexdigest()

    realm, nonce = params.get("realm", ""), params["nonce"]
    secret = credentials.password.get_secret_value()
    ha1 = h(f"{credentials.username}:{realm}:{secret}")
    cnonce = secrets.token_hex(8)
    if algorithm.endswith("-SESS"):
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    qops = [q.strip() for q in params.get("qop", "").split(",") if q.strip()]
    fields = {"username": credentials.username, "realm": realm, "nonce": nonce, "uri": uri}
    if "auth" in qops:
        nc = "00000001"
        fields["response"] = h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
        extra = f', qop=auth, nc={nc}, cnonce="{cnonce}"'
    else:
        fields["response"] = h(f"{ha1}:{nonce}:{ha2}")
        extra = f', cnonce="{cnonce}"' if algorithm.endswith("-SESS") else ""
    if "opaque" in params:
        fields["opaque"] = params["opaque"]
    quoted = ", ".join(f'{name}="{value}"' for name, value in fields.items())
    if "algorithm" in params:
        quoted += f", algorithm={params['algorithm']}"
    return f"Digest {quoted}{extra}"

"""Checks without SNMP against real local servers: ICMP to 127.0.0.1, TCP ports that are
open, closed and silent, an HTTP server, and an RTSP camera with Digest authentication."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pydantic import SecretStr

from roomwatch.agent.checks import DeviceChecker
from roomwatch.agent.checks.http import check_http
from roomwatch.agent.checks.ping import VIA_TCP_METRIC, check_ping
from roomwatch.agent.checks.rtsp import Credentials, check_rtsp
from roomwatch.agent.checks.tcp import check_tcp
from roomwatch.agent.config import DeviceConfig, HttpCheck, PingCheck
from tests.fixtures.rtsp import ResponderThread, RtspResponder

PASSWORD = "s3cret-Pa55"


@pytest.fixture
def open_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once it is closed: refused


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A listening socket whose backlog is full: the kernel drops further SYNs, like a
    firewall that swallows packets, so a connect can only time out."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.05)
        yield port
        for filler in fillers:
            filler.close()


def _unprivileged_icmp_allowed() -> bool:
    text = Path("/proc/sys/net/ipv4/ping_group_range").read_text()
    low, high = map(int, text.split())
    return any(low <= gid <= high for gid in [*os.getgroups(), os.getgid()])


# --- ICMP -----------------------------------------------------------------------------------


def test_ping_of_the_loopback_answers_with_a_round_trip_time(open_port: int) -> None:
    result = asyncio.run(check_ping("127.0.0.1", PingCheck(fallback_port=open_port)))

    assert (result.reached, result.ok) == (True, True)
    assert result.rtt_ms is not None and 0 <= result.rtt_ms < 1000
    as_root = os.geteuid() == 0
    assert (VIA_TCP_METRIC in result.metrics) == (not as_root and not _unprivileged_icmp_allowed())


def test_ping_without_icmp_permission_falls_back_to_a_tcp_connect(open_port: int) -> None:
    check = PingCheck(fallback_port=open_port)
    result = asyncio.run(check_ping("127.0.0.1", check, privileged=False))

    assert (result.reached, result.ok) == (True, True)
    if _unprivileged_icmp_allowed():  # this kernel lets the user send ICMP itself
        assert VIA_TCP_METRIC not in result.metrics
    else:
        assert result.metrics[VIA_TCP_METRIC] == 1
        assert result.note is not None and f"port {open_port}" in result.note


def test_ping_fallback_to_a_silent_port_is_unreachable(silent_port: int) -> None:
    if _unprivileged_icmp_allowed():
        pytest.fail("this test needs a kernel that refuses unprivileged ICMP (ping_group_range)")
    check = PingCheck(fallback_port=silent_port, timeout_s=0.3)
    result = asyncio.run(check_ping("127.0.0.1", check, privileged=False))

    assert (result.reached, result.ok) == (False, False)
    assert result.error == f"ping (TCP port {silent_port}): timeout"


# --- TCP ------------------------------------------------------------------------------------


def test_tcp_open_port_is_reachable(open_port: int) -> None:
    result = asyncio.run(check_tcp("127.0.0.1", open_port, 1.0))

    assert (result.reached, result.ok, result.error) == (True, True, None)
    assert result.rtt_ms is not None and result.rtt_ms >= 0


def test_tcp_closed_port_is_not_reachable(closed_port: int) -> None:
    result = asyncio.run(check_tcp("127.0.0.1", closed_port, 1.0))

    assert (result.reached, result.ok) == (False, False)
    assert result.error == f"tcp:{closed_port}: refused"


def test_tcp_silent_port_times_out_within_its_budget(silent_port: int) -> None:
    started = time.monotonic()
    result = asyncio.run(check_tcp("127.0.0.1", silent_port, 0.3))
    took_s = time.monotonic() - started

    assert (result.reached, result.ok) == (False, False)
    assert result.error == f"tcp:{silent_port}: timeout after 0.3 s"
    assert 0.25 <= took_s < 2.0


# --- HTTP -----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = {"/": 200, "/login": 401, "/broken": 503}.get(self.path, 404)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_status_is_judged_against_the_expected_codes(web_server: str) -> None:
    up = asyncio.run(check_http(f"{web_server}/", HttpCheck(url=f"{web_server}/")))
    login = HttpCheck(url=f"{web_server}/login", expect_status=[200, 401])
    behind_login = asyncio.run(check_http(login.url, login))
    broken = asyncio.run(check_http(f"{web_server}/broken", HttpCheck(url=f"{web_server}/")))

    assert (up.reached, up.ok, up.metrics) == (True, True, {"http_up": 1, "http_status_code": 200})
    assert (behind_login.ok, behind_login.metrics["http_status_code"]) == (True, 401)
    assert (broken.reached, broken.ok, broken.metrics["http_up"]) == (True, False, 0)
    assert broken.error == f"http {web_server}/broken: status 503"


def test_http_to_a_closed_port_is_not_reachable(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/"
    result = asyncio.run(check_http(url, HttpCheck(url=url, timeout_s=1)))

    assert (result.reached, result.ok, result.metrics["http_up"]) == (False, False, 0)
    assert result.error is not None and result.error.startswith(f"http {url}: ")


# --- RTSP -----------------------------------------------------------------------------------


def rtsp(url: str, password: str | None = PASSWORD, timeout_s: float = 2.0):
    credentials = Credentials("viewer", SecretStr(password)) if password is not None else None
    return asyncio.run(check_rtsp(url, credentials, timeout_s))


def test_rtsp_stream_with_video_is_up_after_digest_auth(rtsp_camera: RtspResponder) -> None:
    result = rtsp(rtsp_camera.url("/live/main"))

    assert (result.reached, result.ok, result.metrics, result.error) == (
        True, True, {"stream_up": 1}, None,
    )  # fmt: skip
    describes = [r for r in rtsp_camera.requests if r.startswith("DESCRIBE")]
    assert len(describes) == 2  # challenged once, then answered with Digest
    assert "Accept: application/sdp" in describes[0]
    assert 'Authorization: Digest username="viewer"' in describes[1]
    assert PASSWORD not in "".join(rtsp_camera.requests)


def test_rtsp_stream_without_a_video_track_is_down(rtsp_camera: RtspResponder) -> None:
    result = rtsp(rtsp_camera.url("/live/audio"))

    assert (result.reached, result.ok, result.metrics) == (True, False, {"stream_up": 0})
    assert result.error is not None and result.error.endswith("no video track in the SDP")


def test_rtsp_unknown_stream_is_down_with_404(rtsp_camera: RtspResponder) -> None:
    result = rtsp(rtsp_camera.url("/live/nothing"))

    assert (result.reached, result.metrics) == (True, {"stream_up": 0})
    assert result.error is not None and result.error.endswith("no such stream (404)")


def test_rtsp_wrong_password_is_auth_failed_and_says_nothing_of_the_stream(
    rtsp_camera: RtspResponder,
) -> None:
    result = rtsp(rtsp_camera.url("/live/main"), password="wrong-password")
    anonymous = rtsp(rtsp_camera.url("/live/main"), password=None)

    assert (result.reached, result.ok, result.metrics) == (True, False, {})
    assert result.error is not None and "auth_failed" in result.error
    assert anonymous.error is not None and anonymous.error.endswith("needs credentials (401)")


def test_rtsp_basic_auth_when_the_camera_asks_for_it() -> None:
    camera = RtspResponder(
        streams={"/ch1": "v=0\r\nm=video 0 RTP/AVP 96\r\n"},
        username="viewer",
        password=PASSWORD,
        basic=True,
    )
    with ResponderThread(camera):
        result = rtsp(camera.url("/ch1"))

    assert (result.ok, result.metrics) == (True, {"stream_up": 1})


def test_rtsp_silent_port_is_down_within_its_budget(silent_port: int) -> None:
    started = time.monotonic()
    result = rtsp(f"rtsp://127.0.0.1:{silent_port}/live", timeout_s=0.3)

    assert (result.reached, result.metrics) == (False, {})
    assert result.error == f"rtsp rtsp://127.0.0.1:{silent_port}/live: timeout after 0.3 s"
    assert time.monotonic() - started < 2.0


# --- a device's checks together ---------------------------------------------------------------


def camera_config(rtsp_port: int, tcp_port: int, password: str = PASSWORD) -> DeviceConfig:
    return DeviceConfig.model_validate(
        {
            "id": "cam-1",
            "kind": "camera",
            "address": "127.0.0.1",
            "snmp": False,
            "checks": {
                "tcp": [{"port": tcp_port, "timeout_s": 1}],
                "rtsp": [
                    {
                        "url": f"rtsp://127.0.0.1:{rtsp_port}/live/main",
                        "username": "viewer",
                        "password": password,
                    }
                ],
            },
        }
    )


def test_a_device_sample_joins_its_checks_and_logs_no_secret(
    rtsp_camera: RtspResponder, open_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = DeviceChecker([camera_config(rtsp_camera.port, open_port)])
    bad = DeviceChecker([camera_config(rtsp_camera.port, open_port, password="Wr0ng-pass")])

    [up] = asyncio.run(good.poll_all(deadline_s=5))
    [refused] = asyncio.run(bad.poll_all(deadline_s=5))
    asyncio.run(bad.poll_all(deadline_s=5))  # still failing: no second log line

    assert (up.reachable, up.metrics, up.error) == (True, {"stream_up": 1, "tcp_up": 1}, None)
    assert up.rtt_ms is not None
    assert (refused.reachable, refused.metrics) == (True, {"tcp_up": 1})
    assert refused.error is not None and "auth_failed" in refused.error
    failing = [r.getMessage() for r in caplog.records if "failing" in r.getMessage()]
    assert len(failing) == 1 and "device cam-1 rtsp failing" in failing[0]
    logged = caplog.text
    assert PASSWORD not in logged and "Wr0ng-pass" not in logged


# --- configuration ------------------------------------------------------------------------------


def test_config_refuses_a_device_with_nothing_to_watch_and_passwords_in_urls(
    tmp_path: Path,
) -> None:
    from roomwatch.agent.config import load_config
    from roomwatch.agent.errors import ConfigError

    def load(device: str) -> None:
        path = tmp_path / "agent.yaml"
        path.write_text(f"agent_id: r1\ndevices:\n  - {{id: cam, kind: camera, {device}}}\n")
        load_config(path)

    with pytest.raises(ConfigError, match="snmp: false needs checks"):
        load("address: 10.0.0.9, snmp: false")
    with pytest.raises(ConfigError, match="only for SNMP"):
        load("address: 10.0.0.9, snmp: false, port: 161, checks: {ping: true}")
    with pytest.raises(ConfigError, match="credentials in a URL would be logged") as caught:
        load("address: 10.0.0.9, checks: {rtsp: [{url: 'rtsp://u:Hidden-pw1@10.0.0.9/s'}]}")
    assert "Hidden-pw1" not in str(caught.value)
    load("address: 10.0.0.9, snmp: false, checks: {ping: true, rtsp: [{url: /s}]}")


def test_an_rtsp_url_whose_password_has_a_slash_is_down_without_the_password_or_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # urlsplit ends the host at the "/": "admin" is the host and the password the port.
    url = f"rtsp://admin:{PASSWORD}/x@127.0.0.1/s"

    with caplog.at_level(logging.DEBUG):
        result = rtsp(url, password=None)

    assert (result.reached, result.ok) == (False, False)
    assert result.error is not None and "port is not a number" in result.error
    assert PASSWORD not in result.error + caplog.text

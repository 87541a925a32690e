"""HTTP(S) status of a device's web interface, with the standard library only.

``http.client`` runs in a worker thread with the check's timeout; redirects are not
followed (a 302 to a login page is an answer, and counts as a 3xx).
"""

from __future__ import annotations

import asyncio
import http.client
import ssl
from urllib.parse import urlsplit

from roomwatch.agent import __version__
from roomwatch.agent.checks.base import CheckResult, Stopwatch, redact_url
from roomwatch.agent.config import HttpCheck

HTTP_UP_METRIC = "http_up"


def _request(url: str, timeout_s: float, verify_tls: bool) -> int:
    parts = urlsplit(url)
    host = parts.hostname or ""
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        if not verify_tls:  # devices ship self-signed certificates; the site chose this
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout_s, context=context
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout_s)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    try:
        connection.request("GET", path, headers={"User-Agent": f"roomwatch/{__version__}"})
        response = connection.getresponse()
        response.read(64 * 1024)  # enough to finish the exchange; the body is not needed
        return response.status
    finally:
        connection.close()


async def check_http(url: str, check: HttpCheck) -> CheckResult:
    """Reached when the device answers any status; ok when it is an expected one."""
    shown = redact_url(url)
    watch = Stopwatch()
    try:
        status = await asyncio.wait_for(
            asyncio.to_thread(_request, url, check.timeout_s, check.verify_tls),
            check.timeout_s + 1.0,  # the thread honours timeout_s per socket operation
        )
    except TimeoutError:
        return _failed(f"http {shown}: timeout after {check.timeout_s:g} s")
    except ssl.SSLError as exc:
        return _failed(f"http {shown}: TLS: {exc.reason or exc}")
    except (OSError, http.client.HTTPException) as exc:
        return _failed(f"http {shown}: {getattr(exc, 'strerror', None) or type(exc).__name__}")
    rtt_ms = watch.ms()
    expected = status in check.expect_status if check.expect_status else 200 <= status < 400
    error = None if expected else f"http {shown}: status {status}"
    metrics = {HTTP_UP_METRIC: float(expected), "http_status_code": float(status)}
    return CheckResult(
        "http", reached=True, ok=expected, rtt_ms=rtt_ms, metrics=metrics, error=error
    )


def _failed(error: str) -> CheckResult:
    return CheckResult("http", reached=False, ok=False, metrics={HTTP_UP_METRIC: 0.0}, error=error)

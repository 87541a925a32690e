"""The agent's optional local ``/metrics`` endpoint (config ``health_http``, off by default).

A tiny stdlib HTTP server on a daemon thread that answers ``GET /metrics`` with the agent's
own counters in the Prometheus text format (``roomwatch_agent_<name>``), the same numbers it
sends as the ``agent`` device every cycle, read fresh at each scrape. It listens on
127.0.0.1 unless configured otherwise, and serves nothing else: no configuration, no secret.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from roomwatch.agent import __version__
from roomwatch.agent.config import HealthHttpConfig
from roomwatch.agent.errors import ConfigError

log = logging.getLogger(__name__)

Snapshot = Callable[[], dict[str, float]]
PREFIX = "roomwatch_agent_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Gauges are values of the moment; every other counter is a total since the agent started.
GAUGES = frozenset(
    {"cycle_duration_ms", "spool_depth", "spool_bytes", "spool_in_memory", "connected"}
)


def render(agent_id: str, metrics: dict[str, float]) -> str:
    """The Prometheus text exposition of ``metrics`` (counters get ``_total``)."""
    lines = [
        f"# HELP {PREFIX}info The agent's identity and version.",
        f"# TYPE {PREFIX}info gauge",
        f'{PREFIX}info{{agent="{agent_id}",version="{__version__}"}} 1',
    ]
    for name, value in sorted(metrics.items()):
        kind = "gauge" if name in GAUGES else "counter"
        full = PREFIX + name + ("" if kind == "gauge" else "_total")
        lines += [f"# TYPE {full} {kind}", f"{full} {float(value)!r}"]
    return "\n".join(lines) + "\n"


class HealthServer:
    """Serves ``/metrics`` from ``snapshot()`` until ``close()``."""

    def __init__(self, config: HealthHttpConfig, agent_id: str, snapshot: Snapshot) -> None:
        """Bind the port now (ConfigError naming the address if it cannot); serve on start()."""
        handler = _handler(agent_id, snapshot)
        try:
            self._server = ThreadingHTTPServer((config.host, config.port), handler)
        except OSError as exc:
            raise ConfigError(
                f"health_http: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
            ) from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="roomwatch-health", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        log.info("agent metrics on http://%s:%d/metrics", *self.address)

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


def _handler(agent_id: str, snapshot: Snapshot) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "only /metrics is served here")
                return
            try:
                body = render(agent_id, snapshot()).encode()
            except Exception as exc:  # a scrape must never take the agent down
                log.warning("agent metrics: %s: %s", type(exc).__name__, exc)
                self.send_error(500, "counters unavailable")
                return
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # one line per scrape would drown the agent's own log

    return Handler

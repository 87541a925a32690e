"""A real VictoriaMetrics on a free port: it accepts the InfluxDB write API the collector uses."""

from __future__ import annotations

import json
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from roomwatch.collector.demo.procs import ManagedProcess, free_port, require_binary, wait_for


class VictoriaMetrics:
    """Single-node VictoriaMetrics with its own data folder.

    Deduplication is on (1 ms), so a point written twice with the same timestamp is stored
    once, which is what makes re-delivery after a collector crash harmless.
    """

    def __init__(self, data_dir: Path | None = None, port: int | None = None) -> None:
        self.binary = require_binary("victoria-metrics", "victoria-metrics")
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="roomwatch-vm-"))
        self.port = port or free_port()
        self.process = ManagedProcess(
            "victoria-metrics",
            [
                self.binary,
                f"-storageDataPath={self.data_dir / 'data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-retentionPeriod=100y",
                "-dedup.minScrapeInterval=1ms",
                "-search.latencyOffset=0s",
                "-search.disableCache",
                "-loggerLevel=ERROR",
            ],
            self.data_dir / "victoria-metrics.log",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> VictoriaMetrics:
        self.process.start()
        wait_for(self._healthy, timeout_s, f"victoria-metrics on port {self.port}")
        return self

    def stop(self) -> None:
        self.process.stop()

    def _healthy(self) -> bool:
        self.process.check_alive()
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=0.5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def export(self, selector: str) -> list[dict[str, Any]]:
        """Every stored series matching a PromQL selector, as VictoriaMetrics exports it."""
        self.flush()
        query = urllib.parse.urlencode({"match[]": selector})
        with urllib.request.urlopen(f"{self.url}/api/v1/export?{query}", timeout=10) as response:
            return [json.loads(line) for line in response.read().decode().splitlines() if line]

    def flush(self) -> None:
        """Make recently written points searchable now."""
        with urllib.request.urlopen(f"{self.url}/internal/force_flush", timeout=10):
            pass

    def __enter__(self) -> VictoriaMetrics:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Writing line protocol through influxdb-client's write API (InfluxDB 2.x or VictoriaMetrics).

The lines come from ``collector.ingest.points``; one batch is one HTTP request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from roomwatch.collector.config import TsdbConfig
from roomwatch.collector.errors import TsdbRejectedError, TsdbWriteError

log = logging.getLogger(__name__)

# Statuses that blame the lines themselves. 401/403/404 (token, bucket) and 5xx or timeouts
# are the TSDB's or the configuration's problem: those batches are retried, never dropped.
CONTENT_REJECTED = frozenset({400, 413, 422})


class TsdbWriter:
    """Synchronous batched writes: a batch is either accepted whole or raises TsdbWriteError.

    The ingest pipeline acknowledges MQTT messages only after ``write`` returned, so a TSDB
    outage holds messages at the broker instead of losing them.
    """

    def __init__(self, config: TsdbConfig) -> None:
        self.config = config
        self._client = InfluxDBClient(
            url=config.url,
            token=config.token.get_secret_value() or "-",
            org=config.org,
            timeout=int(config.timeout_s * 1000),
            enable_gzip=False,
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)
        self.last_latency_s = 0.0

    def write(self, lines: Sequence[str]) -> None:
        """Write line-protocol lines (millisecond timestamps) in one request, or raise."""
        if not lines or not self.config.enabled:
            return
        started = time.perf_counter()
        try:
            self._write.write(
                bucket=self.config.bucket,
                org=self.config.org,
                record="\n".join(lines).encode(),
                write_precision=WritePrecision.MS,  # type: ignore[arg-type]
            )
        except Exception as exc:  # the client raises urllib3, ApiException and OSError kinds
            if getattr(exc, "status", None) in CONTENT_REJECTED:
                raise TsdbRejectedError(
                    f"TSDB at {self.config.url} refused the lines: {_reason(exc)}"
                ) from exc
            raise TsdbWriteError(
                f"TSDB at {self.config.url} did not accept the write: {_reason(exc)}"
            ) from exc
        finally:
            self.last_latency_s = time.perf_counter() - started

    def close(self) -> None:
        self._client.close()


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if status:
        return f"HTTP {status} {getattr(exc, 'reason', '')}".strip()
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")

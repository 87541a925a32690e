"""What the web dashboard needs to know beyond the database."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class WebSettings:
    """Settings of the dashboard, filled from the collector's config by ``CollectorService``.

    ``tsdb_url`` is where short chart ranges are read (the Prometheus query API that
    VictoriaMetrics serves); without it, or when it does not answer, charts fall back to the
    SQL hourly rollups. ``timezone`` is used for sites that name none.
    """

    tsdb_url: str | None = None
    tsdb_timeout_s: float = 5.0
    timezone: str = DEFAULT_TIMEZONE
    default_lang: str = "zh-CN"
    live_poll_s: float = 2.0
    live_keepalive_s: float = 15.0
    grafana_url: str | None = None  # links into the Grafana dashboards (collector.web.grafana)
    grafana_flavour: str = "victoriametrics"

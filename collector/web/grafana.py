"""Links from the dashboard into the Grafana dashboards of ``dashboards/``.

A link carries the reader's sites as Grafana's ``site`` variable (one ``var-site`` per site
of a bound user; none, which Grafana reads as all, for a reader of every site), and the room
and device of the page it is on. This narrows what Grafana *shows first*, it is not access
control: Grafana reads the TSDB directly, so a school that must not see other schools needs
its own Grafana organisation whose data source only returns its site (docs/dashboard.md).
"""

from __future__ import annotations

from urllib.parse import urlencode

from roomwatch.collector.db.scope import SiteScope
from roomwatch.collector.web.settings import WebSettings

DASHBOARDS = ("fleet", "room", "device", "agents")
_SUFFIX = {"victoriametrics": "vm", "influxdb": "influx"}


def grafana_link(
    settings: WebSettings,
    sites: SiteScope,
    dashboard: str,
    site: str | None = None,
    room: str | None = None,
    device: str | None = None,
) -> str | None:
    """The URL of ``dashboard`` (fleet, room, device, agents) for a reader of ``sites``;
    None when no Grafana is configured."""
    if not settings.grafana_url or dashboard not in DASHBOARDS:
        return None
    # the page's own site, else every site of a bound reader, else none (Grafana: all)
    shown = [site] if site is not None else sorted(sites or ())
    query: list[tuple[str, str]] = [("var-site", s) for s in shown]
    query += [(f"var-{k}", v) for k, v in (("room", room), ("device", device)) if v]
    uid = f"roomwatch-{dashboard}-{_SUFFIX.get(settings.grafana_flavour, 'vm')}"
    base = settings.grafana_url.rstrip("/")
    return f"{base}/d/{uid}" + (f"?{urlencode(query)}" if query else "")

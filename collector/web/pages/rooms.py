"""A room (devices, graph, faults, maintenance windows) and one device's charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from roomwatch.collector.api.deps import DbSession
from roomwatch.collector.db import dashboard_queries, queries
from roomwatch.collector.db.dashboard_queries import FaultFilter
from roomwatch.collector.db.queries import DeviceView
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.rules.texts import fault_words
from roomwatch.collector.web import devicedata, graph
from roomwatch.collector.web.charts import Shade, sparkline, time_chart, unix
from roomwatch.collector.web.context import PREFIX, Page, Zones, url
from roomwatch.collector.web.fault_text import Wording
from roomwatch.collector.web.series import (
    DEFAULT_RANGE,
    FALLBACK_BUCKET_S,
    RANGES,
    rollup_series,
    tsdb_series,
    tsdb_sparks,
)
from roomwatch.collector.web.sla_view import clocks_for, now_of
from roomwatch.collector.web.tiles import room_state
from roomwatch.collector.web.tsdb_read import TsdbReader, TsdbReadError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
SPARK_HOURS = 24


@router.get("/rooms/{room_id}", response_class=HTMLResponse)
def room_page(request: Request, room_id: str, session: DbSession) -> Response:
    page = Page.of(request, session)
    if (denied := page.login_required()) is not None:
        return denied
    try:
        detail = queries.get_room(session, room_id)
    except NotFoundError:
        return page.not_found()
    zones = Zones.load(session, page.settings.timezone)
    tz = zones.site(detail.room.site_id)
    state = room_state(detail.room)
    online = state not in ("offline", "unmonitored")
    conditions = {
        d.id: devicedata.device_condition(d, detail.open_faults, online) for d in detail.devices
    }
    nodes = graph.build(detail.devices, conditions)
    graph_svg = graph.svg(
        nodes,
        href=lambda device: url(f"/rooms/{room_id}/devices/{device}"),
        kind_label=page.t.kind,
        role_label=lambda role: page.t(f"graph.{role}"),
    )
    now = now_of(request)
    spark_keys = {d.id: devicedata.sparkline_metric(d) for d in detail.devices}
    sparks, spark_window = _sparks(request, session, room_id, detail.devices, spark_keys, now)
    recent = queries.list_faults(session, "all", room_id, None, limit=15).items
    words = Wording.load(
        session, page.t.lang, [*detail.open_faults, *recent], {room_id: detail.room.name}
    )
    return page.render(
        "room.html",
        words=words,
        room=detail.room,
        state=state,
        tz=tz,
        devices=detail.devices,
        conditions=conditions,
        roles={n.id: n.role for n in nodes},
        key_values={d.id: devicedata.key_values(d) for d in detail.devices},
        spark_keys=spark_keys,
        sparks=sparks,
        spark_window=spark_window,
        graph_svg=graph_svg,
        open_faults=detail.open_faults,
        clocks=clocks_for(request, session, [f.id for f in detail.open_faults]),
        recent=recent,
        windows=dashboard_queries.maintenance_windows(session, room_id, detail.room.site_id),
        now=now,
        live_room=room_id,
    )


def _sparks(
    request: Request,
    session: Session,
    room_id: str,
    devices: list[DeviceView],
    keys: dict[str, str | None],
    now: datetime,
) -> tuple[dict[str, Markup], str]:
    """device → sparkline of its key metric: the last 2 h from the TSDB, or the last 24 h
    of hourly rollups when there is no TSDB to ask."""
    reader: TsdbReader | None = request.app.state.web_tsdb
    wanted = {d.id: (d.kind, key) for d in devices if (key := keys.get(d.id)) is not None}
    if reader is not None:
        try:
            found = tsdb_sparks(reader, room_id, wanted, now)
            return {device: sparkline(values) for device, values in found.items()}, "2h"
        except TsdbReadError:
            pass
    hours = [
        (now - timedelta(hours=h)).replace(minute=0, second=0, microsecond=0)
        for h in range(SPARK_HOURS - 1, -1, -1)
    ]
    history = dashboard_queries.room_rollups(
        session, room_id, hours[0], sorted({key for _, key in wanted.values()})
    )
    out = {}
    for device, (_, key) in wanted.items():
        by_hour = {p.hour.astimezone(UTC): p.avg for p in history.get(device, {}).get(key, [])}
        out[device] = sparkline([by_hour.get(hour) for hour in hours])
    return out, "24h"


@router.get("/rooms/{room_id}/devices/{device_id}", response_class=HTMLResponse)
def device_page(
    request: Request,
    room_id: str,
    device_id: str,
    session: DbSession,
    range_: Annotated[str, Query(alias="range", max_length=8)] = DEFAULT_RANGE,
) -> Response:
    page = Page.of(request, session)
    if (denied := page.login_required()) is not None:
        return denied
    try:
        room = queries.get_room(session, room_id).room
        pk, device = dashboard_queries.device_with_key(session, room_id, device_id)
    except NotFoundError:
        return page.not_found()
    chart_range = RANGES.get(range_) or RANGES[DEFAULT_RANGE]
    tz = Zones.load(session, page.settings.timezone).site(room.site_id)
    end = now_of(request)
    start = end - chart_range.span
    known_keys = dashboard_queries.rollup_metric_keys(session, pk, end - RANGES["90d"].span)
    source, notice, by_chart = chart_range.source, "", {}
    reader: TsdbReader | None = request.app.state.web_tsdb
    if source == "tsdb" and reader is None:
        source, notice = "rollups", "device.no_tsdb"
    elif source == "tsdb" and reader is not None:
        try:
            by_chart = tsdb_series(
                reader,
                room=room_id,
                device=device_id,
                kind=device.kind,
                tables=devicedata.tables_of(device, known_keys),
                start=start,
                end=end,
                chart_range=chart_range,
            )
        except TsdbReadError:
            source, notice = "rollups", "device.tsdb_unavailable"
    if source == "rollups":
        bucket = chart_range.step_s if chart_range.source == "rollups" else FALLBACK_BUCKET_S
        rollups = dashboard_queries.rollups(session, pk, start - timedelta(hours=1), end)
        by_chart = rollup_series(rollups, bucket)
    periods = dashboard_queries.fault_periods(session, room_id, pk, start, end)
    faults = dashboard_queries.fault_history(
        session, FaultFilter(room_id=room_id, device=device_id), limit=10
    ).items
    evidence = dashboard_queries.fault_evidence(
        session, [*(p.id for p in periods), *(f.id for f in faults)]
    )
    words = Wording(page.t.lang, evidence, {room_id: room.name})
    titles = {
        p.id: fault_words(
            p.rule_id,
            page.t.lang,
            title=p.title,
            evidence=evidence.get(p.id),
            device=device_id if p.device_pk is not None else None,
            room=room.name,
        ).title
        for p in periods
    }
    shades = [
        Shade(
            unix(p.opened_at),
            unix(p.resolved_at) if p.resolved_at else None,
            p.level,
            f"{page.t.level(p.level)} {titles[p.id]}",
        )
        for p in periods
    ]
    charts = [
        (
            key,
            time_chart(
                by_chart.get(key, []), unix(start), unix(end), tz, key, shades, name=page.t.metric
            ),
        )
        for key in devicedata.chart_ids(device, [*by_chart, *_charts_of(known_keys)])
    ]
    return page.render(
        "device.html",
        room=room,
        device=device,
        tz=tz,
        ranges=list(RANGES),
        chart_range=chart_range.name,
        source=source,
        notice=notice,
        charts=charts,
        periods=periods,
        period_titles=titles,
        words=words,
        key_values=devicedata.key_values(device),
        faults=faults,
        now=end,
        live_room=room_id,
    )


def _charts_of(keys: list[str]) -> list[str]:
    return [key.split("{", 1)[0] for key in keys]

"""Chart data read back from a real VictoriaMetrics, written by the collector's own writer
(``collector.ingest.points`` + ``TsdbWriter``): series names and row labels map back onto
the rollups' metric keys, and the rollups make the long ranges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from roomwatch.agent.wire import DeviceSample, MetricsMessage, TableRow
from roomwatch.collector.config import TsdbConfig
from roomwatch.collector.db.dashboard_queries import RollupPoint
from roomwatch.collector.demo.tsdb import VictoriaMetrics
from roomwatch.collector.ingest.points import Placement, metrics_lines
from roomwatch.collector.ingest.tsdb import TsdbWriter
from roomwatch.collector.web.series import (
    RANGES,
    rollup_series,
    split_key,
    tsdb_series,
    tsdb_sparks,
)
from roomwatch.collector.web.tsdb_read import TsdbReader, TsdbReadError, selector

NOW = datetime.now(UTC).replace(microsecond=0)
PLACE = Placement(site="campus", room="room-7")


def message(seq: int, at: datetime, temperature: float, reachable: bool = True) -> MetricsMessage:
    camera = DeviceSample(
        device="cam-1",
        kind="camera",
        model="PTZ-200" if reachable else None,
        reachable=reachable,
        rtt_ms=3.0 if reachable else None,
        metrics={"temperature_c": temperature} if reachable else {},
    )
    host = DeviceSample(
        device="host",
        kind="host",
        reachable=True,
        metrics={"cpu_pct": 12.0 + seq},
        tables={
            "disk": [
                TableRow(labels={"mount": "/"}, metrics={"used_pct": 40.0}),
                TableRow(labels={"mount": "/record"}, metrics={"used_pct": 80.0 + seq}),
            ],
            "nic": [TableRow(labels={"nic": "eth0"}, metrics={"in_bytes_per_s": 1000.0})],
        },
    )
    return MetricsMessage(agent="agent-7", seq=seq, ts=at, interval_s=30, devices=[camera, host])


@pytest.fixture(scope="module")
def written(victoria: VictoriaMetrics) -> VictoriaMetrics:
    writer = TsdbWriter(TsdbConfig(url=victoria.url))
    try:
        for seq in range(10):
            at = NOW - timedelta(minutes=20) + timedelta(minutes=2 * seq)
            lines = metrics_lines(message(seq, at, 40.0 + seq, reachable=seq != 5), PLACE)
            writer.write(lines)
    finally:
        writer.close()
    victoria.flush()
    return victoria


def test_selector_quotes_label_values():
    assert selector(room='a"b\\c') == '{room="a\\"b\\\\c"}'


def test_scalar_and_row_series_come_back_under_the_rollup_keys(written: VictoriaMetrics):
    reader = TsdbReader(written.url)
    charts = tsdb_series(
        reader,
        room="room-7",
        device="host",
        kind="host",
        tables={"disk", "nic"},
        start=NOW - timedelta(hours=1),
        end=NOW,
        chart_range=RANGES["1h"],
    )
    assert {"cpu_pct", "disk.used_pct", "nic.in_bytes_per_s", "reachable"} <= set(charts)
    assert [s.label for s in charts["disk.used_pct"]] == ["/", "/record"]
    record = charts["disk.used_pct"][1]
    assert max(v for _, v in record.points) == pytest.approx(89.0, abs=1.0)
    assert all(s.label == "" for s in charts["cpu_pct"])


def test_a_series_split_by_a_missing_tag_is_one_line(written: VictoriaMetrics):
    """While a device does not answer its samples carry no model tag: another series."""
    charts = tsdb_series(
        TsdbReader(written.url),
        room="room-7",
        device="cam-1",
        kind="camera",
        tables=set(),
        start=NOW - timedelta(hours=1),
        end=NOW,
        chart_range=RANGES["1h"],
    )
    [reachable] = charts["reachable"]
    assert 0.0 in [v for _, v in reachable.points] and 1.0 in [v for _, v in reachable.points]
    [temperature] = charts["temperature_c"]
    assert temperature.points == sorted(temperature.points)


def test_room_sparklines_in_one_request(written: VictoriaMetrics):
    sparks = tsdb_sparks(
        TsdbReader(written.url),
        "room-7",
        {"cam-1": ("camera", "temperature_c"), "host": ("host", "cpu_pct")},
        NOW,
    )
    assert set(sparks) == {"cam-1", "host"}
    assert max(v for v in sparks["cam-1"] if v is not None) == pytest.approx(49.0, abs=1.0)


def test_an_unreachable_tsdb_raises_a_read_error():
    with pytest.raises(TsdbReadError):
        TsdbReader("http://127.0.0.1:9", timeout_s=1).query_range("up", 0, 60, 15)


def test_rollups_become_average_lines_with_a_min_max_band():
    hour = datetime(2025, 3, 3, tzinfo=UTC)
    points = {
        "disk.used_pct{mount=/}": [
            RollupPoint(hour + timedelta(hours=h), 2, 50.0 + h, 40.0, 60.0 + h) for h in range(12)
        ]
    }
    [series] = rollup_series(points, 6 * 3600)["disk.used_pct"]
    assert series.label == "/"
    assert len(series.points) == 2 and len(series.band) == 2
    assert series.points[0][1] == pytest.approx(52.5)
    assert series.band[1] == (pytest.approx(series.band[1][0]), 40.0, 71.0)


def test_split_key():
    key = split_key("interfaces.oper_up{ifindex=1,ifname=port1}")
    assert key.chart == "interfaces.oper_up"
    assert key.labels == (("ifindex", "1"), ("ifname", "port1"))
    assert split_key("cpu_pct").labels == ()
